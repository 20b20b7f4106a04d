"""ONNX export and the onnxruntime backend: equal to torch within 0.01 mm, dynamic axes, errors.

Also the CPU chunking of the torch predictor (outputs independent of the batch size).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrstf.checkpoint import load_model
from ssrstf.cli import main
from ssrstf.extras import MissingExtraError
from ssrstf.keypoints.sample import IMAGE_SIZE, make_sample
from ssrstf.lifting.lifter import Lifter
from ssrstf.models.tta import make_predictor
from ssrstf.skeleton import H36M_17

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
pytest.importorskip("onnx", reason="the onnx extra is not installed")

from ssrstf.lifting.backends import export_onnx, load_onnx  # noqa: E402

TOLERANCE_MM = 0.01


@pytest.fixture(scope="module")
def default_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packaged model exported with ``ssrstf export --format onnx``."""
    path = tmp_path_factory.mktemp("onnx") / "default.onnx"
    assert main(["export", "--checkpoint", "default", "--out", str(path), "--format", "onnx"]) == 0
    return path


def sample_keypoints(seconds: float = 2.0) -> np.ndarray:
    kp = make_sample(seconds=seconds).keypoints.keypoints.copy()
    kp[..., 2] = 1.0
    return kp


def test_exported_model_lifts_like_torch_within_0_01_mm(default_onnx: Path) -> None:
    keypoints = sample_keypoints()  # 100 frames: several overlapping windows, flip TTA
    reference = Lifter("default").lift(keypoints, IMAGE_SIZE)
    lifter = Lifter(default_onnx)  # an .onnx file selects the onnxruntime backend
    assert lifter.backend == "onnxruntime" and lifter.model is None
    poses = lifter.lift(keypoints, IMAGE_SIZE)
    assert poses.shape == reference.shape == (len(keypoints), 17, 3)
    assert np.abs(poses - reference).max() < TOLERANCE_MM
    # The in-memory export of --backend onnxruntime is the same graph.
    in_memory = Lifter("default", backend="onnxruntime").lift(keypoints, IMAGE_SIZE)
    assert np.abs(in_memory - reference).max() < TOLERANCE_MM


@pytest.mark.parametrize(("batch", "frames"), [(1, 1), (3, 13), (2, 27), (4, 40)])
def test_graph_has_dynamic_batch_and_frame_axes(
    default_onnx: Path, batch: int, frames: int
) -> None:
    predict, _ = load_onnx(default_onnx, flip_test=False)
    model, _ = load_model("default")
    x = np.random.default_rng(batch).normal(size=(batch, frames, 17, 3)).astype(np.float32)
    with torch.no_grad():
        expected = model(torch.from_numpy(x)).numpy()
    got = predict(x)
    assert got.shape == (batch, frames, 17, 3)
    np.testing.assert_allclose(got * 1000, expected * 1000, atol=TOLERANCE_MM)  # metres -> mm


def test_onnx_file_carries_its_config_and_metadata(default_onnx: Path) -> None:
    import onnx

    _, cfg = load_onnx(default_onnx)
    assert cfg == load_model("default")[1]
    meta = {p.key: p.value for p in onnx.load(str(default_onnx)).metadata_props}
    assert meta["source"] == "default" and json.loads(meta["ssrstf_config"])["model"]["dim"] == 64


def test_in_memory_backend_with_flip_matches_torch(tiny_checkpoint: Path) -> None:
    model, cfg = load_model(tiny_checkpoint)
    keypoints = sample_keypoints(0.5)
    reference = Lifter(tiny_checkpoint, overlap=3).lift(keypoints, IMAGE_SIZE)
    poses = Lifter(tiny_checkpoint, overlap=3, backend="onnxruntime").lift(keypoints, IMAGE_SIZE)
    assert np.abs(poses - reference).max() < TOLERANCE_MM
    graph = export_onnx(model, cfg)  # no path: the serialised graph only
    assert isinstance(graph, bytes) and b"keypoints_2d" in graph


def test_evaluate_with_onnxruntime_gives_the_same_figures(
    tiny_checkpoint: Path, synthetic_h36m: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = {}
    for backend in ("torch", "onnxruntime"):
        args = ["evaluate", "--checkpoint", str(tiny_checkpoint), "--data", str(synthetic_h36m)]
        assert main([*args, "--json", "--backend", backend]) == 0
        results[backend] = json.loads(capsys.readouterr().out)
    a, b = results["torch"], results["onnxruntime"]
    assert a["frames"] == b["frames"] > 0
    assert abs(a["p1_mm"] - b["p1_mm"]) < TOLERANCE_MM
    assert abs(a["p2_mm"] - b["p2_mm"]) < TOLERANCE_MM


def test_export_checks_format_and_never_overwrites(
    tiny_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tiny.onnx"
    args = ["export", "--checkpoint", str(tiny_checkpoint), "--out", str(out)]
    assert main(args) == 0  # the format follows the suffix
    before = out.read_bytes()
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == before
    assert main([*args[:-1], str(tmp_path / "x.safetensors"), "--format", "onnx"]) == 2
    assert "--format onnx writes a .onnx file" in capsys.readouterr().err


def test_missing_onnxruntime_is_a_one_line_error_naming_the_extra(
    tiny_checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'ssrstf\[onnx\]'"):
        Lifter(tiny_checkpoint, backend="onnxruntime")
    path = tmp_path / "kp.npy"
    np.save(path, sample_keypoints(0.3))
    args = ["infer", str(path), "--skeleton", "h36m", "--image-size", "1000x1000", "--quiet"]
    code = main([*args, "--checkpoint", str(tiny_checkpoint), "--backend", "onnxruntime",
                 "--out", str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "ssrstf[onnx]" in err
    assert not (tmp_path / "out" / "poses_3d.npz").exists()


def test_backend_errors(tiny_checkpoint: Path, default_onnx: Path) -> None:
    with pytest.raises(ValueError, match="unknown backend 'tensorrt'"):
        Lifter(tiny_checkpoint, backend="tensorrt")
    with pytest.raises(ValueError, match="runs on the onnxruntime backend"):
        Lifter(default_onnx, backend="torch")
    bad = default_onnx.with_name("bad.onnx")
    bad.write_bytes(b"not a graph")
    with pytest.raises(ValueError, match="not a readable ONNX model"):
        Lifter(bad)


def test_torch_predictor_is_independent_of_chunking(tiny_checkpoint: Path) -> None:
    model, _ = load_model(tiny_checkpoint)
    x = np.random.default_rng(0).normal(size=(7, 9, 17, 3)).astype(np.float32)
    whole = make_predictor(model, H36M_17, max_tokens=10**9)(x)
    for max_tokens in (1, 9 * 17 * 2 * 3):  # one clip per forward; three clips per forward
        chunked = make_predictor(model, H36M_17, max_tokens=max_tokens)(x)
        np.testing.assert_allclose(chunked, whole, atol=1e-6)


def test_bfloat16_predictor_runs_a_copy_close_to_fp32(tiny_checkpoint: Path) -> None:
    model, _ = load_model(tiny_checkpoint)
    x = np.random.default_rng(1).normal(size=(3, 9, 17, 3)).astype(np.float32)
    fp32 = make_predictor(model, H36M_17)(x)
    bf16 = make_predictor(model, H36M_17, dtype=torch.bfloat16)(x)
    assert bf16.dtype == np.float32 and next(model.parameters()).dtype == torch.float32
    assert 0 < np.abs(bf16 - fp32).max() < 0.05 * np.abs(fp32).max()  # bf16 rounding, not equal


def test_onnxruntime_runs_on_the_cuda_device_asked_for_and_refuses_others(
    default_onnx: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import onnxruntime as ort

    from ssrstf.lifting.backends import onnx_session

    sessions = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider"])
    monkeypatch.setattr(ort, "InferenceSession", lambda *a, **k: sessions.append(k) or object())
    onnx_session(b"graph", device="cuda:1")
    onnx_session(b"graph", device="cuda")
    assert [k["providers"][0] for k in sessions] == [
        ("CUDAExecutionProvider", {"device_id": 1}),
        ("CUDAExecutionProvider", {"device_id": 0}),
    ]
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    with pytest.raises(ValueError, match="--device mps: the onnxruntime backend runs on cpu or"):
        onnx_session(b"graph", device="mps")
    assert len(sessions) == 2
    # ONNX Runtime's CUDA provider needs no CUDA in torch (a CPU-only torch beside it).
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    onnx_session(b"graph", device="cuda")
    assert sessions[-1]["providers"][0] == ("CUDAExecutionProvider", {"device_id": 0})
    with pytest.raises(ValueError, match="--device gpu: not a device"):
        load_onnx(default_onnx, device="gpu")
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(ValueError, match="no CUDA provider here"):
        Lifter(default_onnx, device="cuda")


def test_a_graph_that_does_not_fit_its_config_is_refused(
    default_onnx: Path, tmp_path: Path
) -> None:
    import onnx

    proto = onnx.load(str(default_onnx))
    entry = next(p for p in proto.metadata_props if p.key == "ssrstf_config")
    config = json.loads(entry.value)
    config["model"]["in_channels"] = 5 - config["model"]["in_channels"]  # 3 <-> 2
    entry.value = json.dumps(config)
    path = tmp_path / "misfit.onnx"
    onnx.save(proto, str(path))
    with pytest.raises(ValueError, match=r"misfit\.onnx: the graph input 'keypoints_2d' is"):
        load_onnx(path)


def test_onnxruntime_failures_are_value_errors_naming_the_file(default_onnx: Path) -> None:
    predict, _ = load_onnx(default_onnx, flip_test=False)
    wrong = np.zeros((1, 9, 17, 2), np.float32)  # the graph takes 3 channels
    with pytest.raises(ValueError, match=r"default\.onnx: onnxruntime failed on input"):
        predict(wrong)
