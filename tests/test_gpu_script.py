"""benchmarks/gpu_paper_scale.py: the compact Human3.6M pack and the unattended GPU run.

The pack must rebuild the prepared dataset within its documented error (3D quantised to
0.25 mm, Stacked-Hourglass 2D exact), and ``run --tiny`` must do every step of the device run
(unpack, preflight, train, export, split, full-protocol evaluation, report) on the CPU.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrstf.data.h36m import load_streams, save_streams
from ssrstf.data.prepare import RAW_KEYPOINTS_SH, RAW_POSES_3D, prepare_h36m

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def gpu(benchmark_script):
    return benchmark_script("gpu_paper_scale")


@pytest.mark.parametrize("order", [1, 2])
def test_series_codec_is_lossless(gpu, order: int) -> None:
    rng = np.random.default_rng(order)
    series = [
        np.cumsum(rng.integers(-40, 40, size=(n, 5, 3)), axis=0) + rng.integers(-9000, 9000)
        for n in (1, 2, 57, 300)
    ]
    series[2][10:12] += 5000  # jumps far outside int8: escapes
    encoded = gpu.encode_series(series, order)
    decoded = gpu.decode_series(
        encoded["code"], encoded["escapes"], encoded["lengths"], (5, 3), order
    )
    assert [d.shape for d in decoded] == [s.shape for s in series]
    for d, s in zip(decoded, series, strict=True):
        np.testing.assert_array_equal(d, s)


def test_pack_round_trip_raw(gpu, synthetic_h36m_raw: Path, tmp_path: Path) -> None:
    pack = gpu.pack_h36m(synthetic_h36m_raw, tmp_path / "pack")
    raw = gpu.unpack_raw(pack.parent, tmp_path / "raw")
    for name in (RAW_POSES_3D, RAW_KEYPOINTS_SH):
        with np.load(synthetic_h36m_raw / name) as ref, np.load(raw / name) as new:
            assert sorted(new.files) == sorted(ref.files)
            for key in ref.files:
                assert new[key].shape == ref[key].shape, key
                if name == RAW_KEYPOINTS_SH:  # detections: exact
                    np.testing.assert_array_equal(new[key], ref[key])
                else:  # world metres, each coordinate within half a step (+ float32 rounding)
                    error_mm = np.abs(new[key].astype(float) - ref[key].astype(float)) * 1000
                    assert error_mm.max() <= gpu.STEP_3D_MM / 2 + 1e-3, key


def test_rebuilt_dataset_matches_prepare(gpu, synthetic_h36m_raw: Path, tmp_path: Path) -> None:
    reference = save_streams(prepare_h36m(synthetic_h36m_raw, progress=False), tmp_path / "a")
    pack = gpu.pack_h36m(synthetic_h36m_raw, tmp_path / "pack")
    rebuilt = gpu.rebuild_prepared(pack, tmp_path / "b.npz", work=tmp_path / "work")
    report = gpu.compare_prepared(rebuilt, reference)
    ref = load_streams(reference)
    assert report["streams"] == ref.num_streams and report["frames"] == ref.num_frames
    bound = np.sqrt(3) / 2 * gpu.STEP_3D_MM  # one joint: half a step on each axis
    assert 0 < report["poses_3d"]["max"] <= bound + 1e-3
    assert report["poses_3d"]["max_root_relative"] <= 2 * bound + 1e-3
    assert report["poses_2d_sh"]["max"] == 0.0
    assert report["poses_2d_gt"]["max"] < 0.2  # px: a quarter millimetre seen from metres away
    assert load_streams(rebuilt).origin == "prepare-h36m"
    # A second rebuild from the same pack reuses the file.
    again = gpu.rebuild_prepared(pack, tmp_path / "b.npz", work=tmp_path / "work")
    assert again == rebuilt and not (tmp_path / "work" / "h36m").exists()


def test_corrupt_pack_is_refused(gpu, synthetic_h36m_raw: Path, tmp_path: Path) -> None:
    pack = gpu.pack_h36m(synthetic_h36m_raw, tmp_path / "pack")
    with np.load(pack) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["sha256_sh"] = np.asarray("0" * 64)
    np.savez(pack, **arrays)
    with pytest.raises(ValueError, match="checksum"):
        gpu.unpack_raw(pack, tmp_path / "raw")


def test_device_command_fits_the_tool(gpu) -> None:
    command = gpu.device_command(gpu.DEFAULT_PACK_DIR, 9.0)
    assert len(command) <= gpu.DEVICE_COMMAND_LIMIT
    assert "--minutes 9" in command and '"$OUT/log.txt"' in command


def test_pack_refuses_tracked_folders(gpu) -> None:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout, or no git")
    assert gpu._is_ignored(ROOT / gpu.DEFAULT_PACK_DIR / gpu.PACK_FILE)
    assert not gpu._is_ignored(ROOT / "benchmarks" / gpu.PACK_FILE)


def test_tiny_run_end_to_end(gpu, synthetic_h36m_raw: Path, tmp_path: Path) -> None:
    from ssrstf.checkpoint import load_model

    pack, out = tmp_path / "pack", tmp_path / "out"
    assert gpu.main(["pack", "--source", str(synthetic_h36m_raw), "--out", str(pack)]) == 0
    argv = ["run", "--tiny", "--pack", str(pack), "--out", str(out), "--work", str(tmp_path / "w")]
    assert gpu.main([*argv, "--train-minutes", "0.02", "--part-mib", "0.05"]) == 0

    results = json.loads((out / "results.json").read_text())
    assert results["label"].startswith("trained on CPU (")
    assert results["training"]["steps"] >= 1
    for source in ("sh", "gt"):
        figures = results["evaluation"][source]
        assert figures["protocol"] == "videopose3d" and not figures["quick"]
        assert np.isfinite(figures["p1_mm"]) and figures["per_action"]
    report = (out / "report.md").read_text()
    assert results["label"] in report and "| **Average** |" in report
    # What comes back from the device: few files, each under the size limit, simple names.
    files = sorted(p.name for p in out.iterdir())
    assert len(files) <= 8 and "model.safetensors.part1" in files
    assert all(p.stat().st_size <= 0.05 * 2**20 for p in out.glob("*.part*"))
    joined = gpu.join_parts(out, tmp_path / "model.safetensors")
    model, cfg = load_model(joined)
    assert cfg.model.num_frames == 9 and cfg.data.target_space == "camera"
    assert sum(p.numel() for p in model.parameters()) > 0


def test_preflight_times_steps_and_probes(gpu, tmp_path: Path) -> None:
    cfg = gpu.experiment_config(gpu.DEFAULT_CONFIG, tmp_path / "d.npz", 1.0, tiny=True, sets=[])
    assert cfg.model.num_frames == 9 and cfg.train.max_minutes == 1.0
    assert cfg.data.target_space == "camera" and cfg.eval.protocol == "videopose3d"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: no waiting on pool threads of a busy machine
    try:
        report = gpu.preflight(cfg, "cpu", steps=1, probe_batch=2)
    finally:
        torch.set_num_threads(threads)
    assert report["step_s"] > 0 and report["probe_batch"] == 2 and report["probe_clips_per_s"] > 0
    assert report["peak_memory_gib"] == 0.0
