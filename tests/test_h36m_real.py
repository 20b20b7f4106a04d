"""Checks on the real Human3.6M data in ``../shared/data`` (skipped where it is absent).

Nothing from these files is copied into the repository: the tests read them in place.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ssrstf.data.h36m import Streams
from ssrstf.data.prepare import prepare_h36m
from ssrstf.evaluation.protocol import MOTIONBERT
from ssrstf.skeleton import SH_MISSING_JOINTS

pytestmark = pytest.mark.dataset

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
H36M = SHARED / "h36m"
MMPOSE = SHARED / "fixtures_mmpose" / "h36m" / "test_h36m_body3d.npz"


def _require(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"real data not available: {path} (research-only data, never in the repo)")


@pytest.fixture(scope="module")
def test_subjects() -> Streams:
    _require(H36M)
    return prepare_h36m(H36M, subjects=["S9", "S11"], progress=False)


def test_test_subjects_stream_and_frame_counts(test_subjects: Streams) -> None:
    # 59 S9/S11 sequences are present here (S9 "Discussion 1" is missing) × 4 cameras.
    assert test_subjects.num_streams == 236
    assert test_subjects.num_frames == 527_152
    lacking = [
        k for k, ok in zip(test_subjects.keys, test_subjects.has_2d["sh"], strict=True) if not ok
    ]
    assert lacking == ["S11/Directions/54138969"]
    assert set(map(tuple, test_subjects.image_size)) == {(1000, 1000), (1000, 1002)}


def test_mmpose_fixture_frames_match(tmp_path: Path) -> None:
    _require(H36M)
    _require(MMPOSE)
    fixture = np.load(MMPOSE, allow_pickle=False)
    frames = []
    for name in fixture["imgname"]:
        # ".../S1_Directions_1.54138969_000001.jpg": frame files count from 1.
        subject, action, camera, number = re.match(
            r"(S\d+)_(.+)\.(\d+)_(\d+)\.jpg$", name.split("/")[-1]
        ).groups()
        frames.append((f"{subject}/{action.replace('_', ' ')}", camera, int(number) - 1))
    streams = prepare_h36m(H36M, sequences=[f for f, _, _ in frames], progress=False)
    for (sequence, camera, frame), pose_3d, pose_2d in zip(
        frames, fixture["S"], fixture["part"], strict=True
    ):
        i = streams.keys.index(f"{sequence}/{camera}")
        row = streams.offsets[i] + frame
        assert np.abs(streams.poses_3d[row] - pose_3d[:, :3] * 1000.0).max() < 0.1  # mm
        assert np.abs(streams.poses_2d["gt"][row, :, :2] - pose_2d[:, :2]).max() < 1e-3  # px


def test_the_motionbert_skip_list_is_the_misaligned_s9_sequences(test_subjects: Streams) -> None:
    # The three S9 sequences MotionBERT blocks are those whose ground truth disagrees with the
    # video: their Stacked-Hourglass detections are far from the projected ground truth.
    keep = np.setdiff1d(np.arange(17), SH_MISSING_JOINTS)
    error: dict[str, list[float]] = {}
    for i, key in enumerate(test_subjects.keys):
        if not key.startswith("S9/"):
            continue
        frames = test_subjects.frames(i)
        gt = test_subjects.poses_2d["gt"][frames][:, keep, :2]
        sh = test_subjects.poses_2d["sh"][frames][:, keep, :2]
        error.setdefault(key.rsplit("/", 1)[0], []).append(
            float(np.linalg.norm(gt - sh, axis=-1).mean())
        )
    ranked = sorted(error, key=lambda s: -np.mean(error[s]))
    assert set(ranked[:3]) == set(MOTIONBERT.skip_sequences)
    assert min(np.mean(error[s]) for s in ranked[:3]) > 2 * max(
        np.mean(error[s]) for s in ranked[3:]
    )
