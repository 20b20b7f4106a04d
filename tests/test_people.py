"""Several people end to end: a two-person COCO file through ``ssrstf infer``."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
from test_tracking import SIZE, _coco_file, _two_crossing, _walker

from ssrstf.cli import main
from ssrstf.keypoints.people import load_people
from ssrstf.outputs.people import people_output_paths

HAS_VIZ = all(importlib.util.find_spec(m) for m in ("matplotlib", "imageio_ffmpeg", "PIL"))


def _viewer_people(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    block = re.search(r'id="ssrstf-data">(.*?)</script>', text, re.S)
    assert block
    return json.loads(block.group(1))["people"]


def test_load_people_only_for_several_per_frame(tmp_path: Path) -> None:
    a, b = _two_crossing()
    one = _coco_file(tmp_path / "one.json", [a])
    assert load_people(one, image_size=SIZE) is None  # single-person layout as before
    assert load_people(tmp_path / "walk.mp4") is None  # videos: MediaPipe, one person
    people = load_people(_coco_file(tmp_path / "two.json", [a, b]), image_size=SIZE)
    assert people is not None and len(people.tracks) == 2 and people.num_frames == 40


def test_cli_writes_one_folder_per_person_and_everyone_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = _two_crossing()
    late = _walker(40, 200.0, 0.0, 0.7, 0.0)
    path = _coco_file(tmp_path / "people.json", [a, b, late], missing={2: set(range(22))})
    out = tmp_path / "out"
    args = ["infer", str(path), "--image-size", "1280x720", "--out", str(out), "--quiet"]
    args.append("--no-flip")  # half the lifting time; flip is not what this test is about
    render = ["--render"] if HAS_VIZ else []
    assert main([*args, *render]) == 0
    printed = capsys.readouterr().out
    assert "40 frames; 3 people tracked" in printed and "person_2: frames 22-39" in printed
    expected = people_output_paths(out, 3, render=bool(render))
    assert all(p.stat().st_size > 0 for p in expected.values())
    assert not (out / "poses_3d.npz").exists()  # no single-person files at the top
    for k, frames in enumerate((40, 40, 18)):
        with np.load(out / f"person_{k}" / "poses_3d.npz") as data:
            assert data["poses_3d"].shape == (frames, 17, 3)
        assert (out / f"person_{k}" / "poses_3d.glb").read_bytes()[:4] == b"glTF"
    summary = json.loads((out / "people.json").read_text())
    assert [p["start_frame"] for p in summary["people"]] == [0, 0, 22]
    assert [p["detected_frames"] for p in summary["people"]] == [40, 40, 18]
    shown = _viewer_people(out / "viewer.html")
    assert [p["name"] for p in shown] == ["person 0", "person 1", "person 2"]
    assert [p["start"] for p in shown] == [0, 0, 22]
    assert len(_viewer_people(out / "person_1" / "viewer.html")) == 1
    # Nothing is replaced without --overwrite, checked before any lifting.
    before = (out / "people.json").read_bytes()
    assert main(args) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "people.json").read_bytes() == before
    assert main([*args, "--overwrite", "--min-track-frames", "30"]) == 0
    assert "2 people tracked (1 shorter tracks dropped)" in capsys.readouterr().out


@pytest.mark.skipif(not HAS_VIZ, reason="rendering needs the viz extra")
def test_rendered_frame_draws_each_person_where_they_are() -> None:
    from ssrstf.keypoints.sample import make_sample
    from ssrstf.outputs.colours import CENTRE_COLOUR
    from ssrstf.outputs.drawing import PoseRenderer

    sample = make_sample(seconds=0.2)
    pose = sample.poses_3d[0] - sample.poses_3d[0, :1]
    keypoints = sample.keypoints.keypoints[0]
    shifted = keypoints.copy()
    shifted[:, 0] += 300
    renderer = PoseRenderer(np.stack([pose - [600, 0, 0], pose + [600, 0, 0]]),
                            image_size=(1000, 1000))  # fmt: skip
    both = renderer.draw_people([pose - [600, 0, 0], pose + [600, 0, 0]], [keypoints, shifted],
                                names=["a", "b"])  # fmt: skip
    one = renderer.draw_people([pose - [600, 0, 0]], [keypoints])
    nobody = renderer.draw_people([], [], valid=False)  # what render_people_video passes
    width = renderer.panel_width
    yellow = (np.abs(both.astype(int) - CENTRE_COLOUR) < 40).all(-1)
    yellow_one = (np.abs(one.astype(int) - CENTRE_COLOUR) < 40).all(-1)
    for panel in (slice(0, width), slice(width, None)):  # 2D and 3D panels
        assert yellow[:, panel].sum() > 1.6 * yellow_one[:, panel].sum()
    red_border = (np.abs(nobody[2, :width].astype(int) - (255, 0, 0)) < 40).all(-1)
    assert red_border.mean() > 0.9  # a frame without anyone is marked


def test_a_person_who_cannot_be_lifted_is_skipped_not_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A bystander seen from the waist up (hips, legs, feet never detected: no stand-in) is
    skipped with a warning and counted as dropped; everyone else is lifted and written."""
    a, b = _two_crossing(30)
    b[:, 11:] = 0  # COCO hips, knees, ankles: never detected in person 1's track
    late = _walker(30, 200.0, 0.0, 0.7, 0.0)  # seen in 8 frames: a short track, dropped
    path = _coco_file(tmp_path / "people.json", [a, b, late], missing={2: set(range(22))})
    out = tmp_path / "out"
    args = ["infer", str(path), "--image-size", "1280x720", "--out", str(out), "--quiet"]
    with caplog.at_level("WARNING", logger="ssrstf.pipeline.run"):
        assert main([*args, "--no-flip"]) == 0
    printed = capsys.readouterr().out
    assert "1 people tracked (1 shorter tracks dropped, 1 that cannot be lifted skipped)" in (
        printed
    )
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warned) == 1 and "person 1 (frames 0-29)" in warned[0]
    assert "right_hip" in warned[0] and "never detected" in warned[0]
    assert "person 1 (frames 0-29)" in printed  # the report names them too
    summary = json.loads((out / "people.json").read_text())
    assert summary["dropped_tracks"] == 2
    assert [p["name"] for p in summary["people"]] == ["person_0"]
    with np.load(out / "person_0" / "poses_3d.npz") as data:
        assert data["poses_3d"].shape == (30, 17, 3)
    assert not (out / "person_1").exists()


def test_nobody_liftable_fails_with_every_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = _two_crossing(30)
    a[:, 11:], b[:, 11:] = 0, 0
    path = _coco_file(tmp_path / "people.json", [a, b])
    out = tmp_path / "out"
    args = ["infer", str(path), "--image-size", "1280x720", "--out", str(out), "--quiet"]
    assert main(args) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith("error: ") and "no tracked person can be lifted" in error
    assert "person 0 (frames 0-29)" in error and "person 1 (frames 0-29)" in error
    assert not out.exists() or not any(out.iterdir())
