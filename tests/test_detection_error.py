"""benchmarks/detection_error.py: a 2D source's per-joint bias and noise against the ground-truth
2D on the protocol's test frames, and their relation to a model's per-joint 3D gap."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ssrstf.data.h36m import load_streams, save_streams
from ssrstf.skeleton import SKELETONS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def de():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("detection_error")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
        sys.modules.pop("detection_error", None)


def _with_detections(path: Path, offset) -> object:
    """The streams with ``sh`` 2D = ground-truth 2D + ``offset(frame index, gt)`` (N, J, 2)."""
    streams = load_streams(path)
    gt = streams.poses_2d["gt"].copy()
    streams.poses_2d["sh"] = gt.copy()
    streams.poses_2d["sh"][..., :2] += offset(np.arange(len(gt)), gt)
    streams.has_2d["sh"] = np.ones(streams.num_streams, dtype=bool)
    return streams


def test_a_constant_shift_is_all_bias(de, synthetic_h36m: Path) -> None:
    shift = np.random.default_rng(0).normal(0, 10, size=(17, 2))
    streams = _with_detections(synthetic_h36m, lambda k, gt: shift)
    rows = de.detection_errors(streams, "sh")
    assert list(rows) == list(SKELETONS[streams.joint_layout].joint_names)
    for j, row in enumerate(rows.values()):
        expected = float(np.linalg.norm(shift[j] - shift[0]))  # root-relative
        assert row["bias_px"] == pytest.approx(expected, abs=1e-3)  # float32 pixels
        assert row["error_px"] == pytest.approx(expected, abs=1e-3)
        assert row["residual_px"] == pytest.approx(0.0, abs=1e-3)


def test_noise_is_residual_and_only_test_frames_count(de, synthetic_h36m: Path) -> None:
    streams = load_streams(synthetic_h36m)
    test = np.zeros(streams.num_frames, dtype=bool)
    for i in range(streams.num_streams):
        test[streams.frames(i)] = streams.subject[i] in ("S9", "S11")

    def offset(k: np.ndarray, gt: np.ndarray) -> np.ndarray:
        out = np.zeros(gt.shape[:2] + (2,))
        sign = np.where(np.cumsum(test) % 2 == 0, 1.0, -1.0)  # alternates over the test frames
        out[:, 13, 0] = 5.0 * sign  # the left wrist jitters by ±5 px in x
        out[~test] = 1000.0  # the training subject's frames never count
        return out

    rows = de.detection_errors(_with_detections(synthetic_h36m, offset), "sh")
    wrist = rows["left_wrist"]
    # Bias: |mean of ±5| over the test frames (0 for an even count, 5 / N for an odd one).
    assert wrist["bias_px"] == pytest.approx(5.0 / test.sum() * (test.sum() % 2), abs=1e-3)
    assert wrist["error_px"] == pytest.approx(5.0, abs=1e-3)
    assert wrist["residual_px"] == pytest.approx(5.0, abs=0.2)
    assert all(r["error_px"] == 0.0 for name, r in rows.items() if name != "left_wrist")


def test_gap_columns_and_the_command_line(de, synthetic_h36m: Path, tmp_path: Path) -> None:
    streams = _with_detections(synthetic_h36m, lambda k, gt: np.arange(17 * 2).reshape(17, 2))
    data = save_streams(streams, tmp_path / "shifted.npz")
    rows = de.detection_errors(streams, "sh")
    names = list(rows)
    gt = {n: 10.0 * j for j, n in enumerate(names)}
    sh = {n: 10.0 * j + (3.0 * j if j % 2 else 0.0) for j, n in enumerate(names)}
    for source, figures in (("gt", gt), ("sh", sh)):
        per_joint = {n: {"p1_mm": v, "p2_mm": 0.0} for n, v in figures.items()}
        (tmp_path / f"videopose3d_{source}.json").write_text(json.dumps({"per_joint": per_joint}))
    table, correlation = de.with_gap(rows, tmp_path, "sh")
    assert table[names[3]]["gap_mm"] == pytest.approx(9.0)
    assert table[names[2]]["gap_mm"] == 0.0 and table[names[2]]["p1_gt_mm"] == 20.0
    gaps = [table[n]["gap_mm"] for n in names[1:]]
    assert correlation["p1_gt_mm"] == pytest.approx(np.corrcoef(list(gt.values())[1:], gaps)[0, 1])
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "detection_error.py"), "--data", str(data),
         "--results", str(tmp_path)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert (
        "| joint | bias_px | residual_px | error_px | p1_gt_mm | p1_sh_mm | gap_mm |" in done.stdout
    )
    assert f"| {names[3]} | " in done.stdout and "gap_mm against p1_gt_mm" in done.stdout
    bad = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "detection_error.py"), "--data", str(data),
         "--source", "cpn"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert bad.returncode != 0 and "--source 'cpn': not a 2D source" in bad.stderr
