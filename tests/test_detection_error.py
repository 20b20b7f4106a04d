"""benchmarks/detection_error.py: a 2D source's per-joint bias and noise against the ground-truth
2D on the protocol's test frames, and their relation to a model's per-joint 3D gap."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ssrstf.data.h36m import load_streams, save_streams
from ssrstf.evaluation.protocol import VIDEOPOSE3D
from ssrstf.skeleton import H36M_17, SKELETONS


@pytest.fixture(scope="module")
def de(benchmark_script):
    return benchmark_script("detection_error")


def _with_detections(path: Path, offset) -> object:
    """The streams with ``sh`` 2D = ground-truth 2D + ``offset(gt)`` (N, J, 2), on every stream."""
    streams = load_streams(path)
    gt = streams.poses_2d["gt"].copy()
    streams.poses_2d["sh"] = gt.copy()
    streams.poses_2d["sh"][..., :2] += offset(gt)
    streams.has_2d["sh"] = np.ones(streams.num_streams, dtype=bool)
    return streams


def _scored_frames(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: scored by the VideoPose3D protocol (test subject, not skipped); skipped test
    frames (S11/Directions in the fixture)."""
    streams = load_streams(path)
    scored = np.zeros(streams.num_frames, dtype=bool)
    skipped = np.zeros(streams.num_frames, dtype=bool)
    for i in range(streams.num_streams):
        stream = SimpleNamespace(subject=str(streams.subject[i]), action=str(streams.action[i]),
                                 sequence_id="")  # fmt: skip
        if stream.subject in VIDEOPOSE3D.test_subjects:
            out = skipped if VIDEOPOSE3D.is_skipped(stream) else scored
            out[streams.frames(i)] = True
    assert scored.any() and skipped.any()  # the fixture has both
    return scored, skipped


def test_a_constant_shift_is_all_bias(de, synthetic_h36m: Path) -> None:
    streams = load_streams(synthetic_h36m)
    joints = SKELETONS[streams.joint_layout]
    shift = np.random.default_rng(0).normal(0, 10, size=(joints.num_joints, 2))
    rows = de.detection_errors(_with_detections(synthetic_h36m, lambda gt: shift), "sh")
    assert list(rows) == list(joints.joint_names)
    for j, row in enumerate(rows.values()):
        expected = float(np.linalg.norm(shift[j] - shift[joints.root]))  # root-relative
        assert row["bias_px"] == pytest.approx(expected, abs=1e-3)  # float32 pixels
        assert row["error_px"] == pytest.approx(expected, abs=1e-3)
        assert row["residual_px"] == pytest.approx(0.0, abs=1e-3)


def test_noise_is_residual_and_only_scored_frames_count(de, synthetic_h36m: Path) -> None:
    scored, skipped = _scored_frames(synthetic_h36m)
    wrist = H36M_17.index("left_wrist")

    def offset(gt: np.ndarray) -> np.ndarray:
        out = np.zeros(gt.shape[:2] + (2,))
        out[scored, wrist] = [7.0, 0.0]  # a constant shift on the scored frames ...
        sign = np.where(np.cumsum(scored) % 2 == 0, 1.0, -1.0)
        out[scored, wrist, 1] = 5.0 * sign[scored]  # ... and ±5 px jitter in y
        out[skipped, 1:] = 300.0  # the protocol's skipped sequence never counts
        out[~scored & ~skipped, 1:] = 1000.0  # nor do the training subjects' frames
        return out

    rows = de.detection_errors(_with_detections(synthetic_h36m, offset), "sh")
    n = int(scored.sum())
    mean_y = 5.0 * (n % 2) / n  # the jitter's mean over the scored frames
    assert rows["left_wrist"]["bias_px"] == pytest.approx(np.hypot(7.0, mean_y), abs=1e-3)
    assert rows["left_wrist"]["residual_px"] == pytest.approx(5.0, abs=0.2)
    assert rows["left_wrist"]["error_px"] == pytest.approx(np.hypot(7.0, 5.0), abs=1e-3)
    assert all(r["error_px"] == 0.0 for name, r in rows.items() if name != "left_wrist")


def test_gap_columns_and_the_command_line(
    de, synthetic_h36m: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shift = np.arange(H36M_17.num_joints * 2, dtype=float).reshape(-1, 2)
    streams = _with_detections(synthetic_h36m, lambda gt: shift)
    data = save_streams(streams, tmp_path / "shifted.npz")
    rows = de.detection_errors(streams, "sh")
    names = list(rows)
    gt = {n: 10.0 * j for j, n in enumerate(names)}
    sh = {n: 10.0 * j + (3.0 * j if j % 2 else 0.0) for j, n in enumerate(names)}
    for source, figures in (("gt", gt), ("sh", sh)):
        per_joint = {n: {"p1_mm": v, "p2_mm": 0.0} for n, v in figures.items()}
        (tmp_path / f"videopose3d_{source}.json").write_text(json.dumps({"per_joint": per_joint}))
    table, correlation = de.with_gap(rows, tmp_path, "sh", "pelvis")
    assert table[names[3]]["gap_mm"] == pytest.approx(9.0)
    assert table[names[2]]["gap_mm"] == 0.0 and table[names[2]]["p1_gt_mm"] == 20.0
    gaps = [table[n]["gap_mm"] for n in names[1:]]
    assert correlation["p1_gt_mm"] == pytest.approx(np.corrcoef(list(gt.values())[1:], gaps)[0, 1])
    assert de.main(["--data", str(data), "--results", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    header = "| joint | bias_px | residual_px | error_px | p1_gt_mm | p1_sh_mm | gap_mm |"
    assert header in out and "gap_mm against p1_gt_mm" in out
    assert f"| {names[3]} | {np.hypot(6.0 - 0.0, 7.0 - 1.0):.1f} | 0.0 |" in out
    # One-line refusals: an unknown source, result files without per-joint figures.
    assert de.main(["--data", str(data), "--source", "cpn"]) == 2
    assert "--source 'cpn': " in capsys.readouterr().err
    (tmp_path / "videopose3d_sh.json").write_text(json.dumps({"p1_mm": 50.0}))
    assert de.main(["--data", str(data), "--results", str(tmp_path)]) == 2
    assert "videopose3d_sh.json: no per-joint P1 for pelvis, " in capsys.readouterr().err
