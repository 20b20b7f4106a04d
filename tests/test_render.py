"""Rendering: frame layout and colours (pixels checked without encoding) and the mp4 writer."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="rendering needs the viz extra (matplotlib)")
imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="rendering needs imageio-ffmpeg")

from ssrstf.extras import MissingExtraError  # noqa: E402
from ssrstf.outputs.colours import LEFT_COLOUR, RIGHT_COLOUR  # noqa: E402
from ssrstf.outputs.drawing import (  # noqa: E402
    CANVAS_COLOUR,
    INVALID_COLOUR,
    PoseRenderer,
    render_frame,
)
from ssrstf.outputs.render import render_video  # noqa: E402
from ssrstf.skeleton import H36M_17  # noqa: E402

IMAGE_SIZE = (640, 480)
J = H36M_17.index


def _standing_pose() -> np.ndarray:
    """(17, 3) mm, camera axes, root-relative: the subject faces the camera, left arm raised
    sideways (towards image right, +x), right arm hanging down."""
    pose = np.zeros((17, 3))
    points = {
        "right_hip": (-120, 0), "right_knee": (-120, 420), "right_ankle": (-120, 840),
        "left_hip": (120, 0), "left_knee": (120, 420), "left_ankle": (120, 840),
        "spine": (0, -230), "thorax": (0, -480), "neck": (0, -560), "head": (0, -660),
        "left_shoulder": (170, -470), "left_elbow": (420, -470), "left_wrist": (650, -470),
        "right_shoulder": (-170, -470), "right_elbow": (-170, -220), "right_wrist": (-170, 20),
    }  # fmt: skip
    for name, (x, y) in points.items():
        pose[J(name), :2] = (x, y)
    return pose


def _sequence(frames: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """3D poses (F, 17, 3) swaying in depth and 2D keypoints (F, 17, 3) in a 640x480 image."""
    poses = np.repeat(_standing_pose()[None], frames, axis=0)
    poses[:, :, 2] += 40.0 * np.arange(frames)[:, None]
    keypoints = np.ones((frames, 17, 3))
    keypoints[:, :, :2] = poses[:, :, :2] * 0.25 + (320.0, 220.0)
    return poses, keypoints


def _pixel(image: np.ndarray, xy: np.ndarray) -> tuple[int, ...]:
    x, y = np.round(xy).astype(int)
    return tuple(int(v) for v in image[y, x])


def test_frame_size_is_even_and_panels_side_by_side() -> None:
    poses, keypoints = _sequence()
    image = render_frame(poses, keypoints, image_size=IMAGE_SIZE)
    assert image.dtype == np.uint8 and image.shape == (480, 640 + 480, 3)
    odd = render_frame(poses, keypoints, image_size=(333, 251), height=101)
    assert odd.shape[0] % 2 == 0 and odd.shape[1] % 2 == 0 and odd.shape[2] == 3


def test_2d_bones_are_coloured_by_side_on_a_blank_canvas() -> None:
    poses, keypoints = _sequence()
    image = render_frame(poses, keypoints, image_size=IMAGE_SIZE)
    xy = keypoints[0, :, :2]  # panel scale is 1 (height 480 = image height)
    left_arm = (xy[J("left_elbow")] + xy[J("left_wrist")]) / 2
    right_shin = (xy[J("right_knee")] + xy[J("right_ankle")]) / 2
    assert _pixel(image, left_arm) == LEFT_COLOUR
    assert _pixel(image, right_shin) == RIGHT_COLOUR
    assert _pixel(image, np.array([5.0, 5.0])) == CANVAS_COLOUR  # blank-canvas mode
    assert _pixel(image, np.array([635.0, 470.0])) == CANVAS_COLOUR
    right_panel = image[:, 640:]
    for colour in (LEFT_COLOUR, RIGHT_COLOUR):  # the 3D skeleton uses the same colours
        assert (right_panel == colour).all(axis=-1).sum() > 50


def test_low_confidence_joints_are_hollow() -> None:
    poses, keypoints = _sequence()
    keypoints[:, J("left_wrist"), 2] = 0.0  # e.g. a joint filled in by interpolation
    image = render_frame(poses, keypoints, image_size=IMAGE_SIZE)
    wrist, elbow = keypoints[0, J("left_wrist"), :2], keypoints[0, J("left_elbow"), :2]
    # 2 px above the joint centre (the bone is horizontal): inside the ring / the disc
    assert _pixel(image, wrist - (0, 2)) == CANVAS_COLOUR
    assert _pixel(image, elbow - (0, 2)) == LEFT_COLOUR


def test_invalid_frames_are_marked_and_input_frames_are_shown() -> None:
    poses, keypoints = _sequence()
    green = np.zeros((960, 1280, 3), np.uint8)
    green[..., 1] = 200  # a frame of another resolution is scaled to the panel
    valid = np.array([True, False, True, True])
    marked = render_frame(poses, keypoints, 1, image_size=IMAGE_SIZE, frame=green, valid=valid)
    plain = render_frame(poses, keypoints, 0, image_size=IMAGE_SIZE, frame=green, valid=valid)
    assert _pixel(plain, np.array([300.0, 1.0])) == (0, 200, 0)
    assert _pixel(plain, np.array([600.0, 400.0])) == (0, 200, 0)
    assert _pixel(marked, np.array([300.0, 1.0])) == INVALID_COLOUR
    assert _pixel(marked, np.array([600.0, 400.0])) == (0, 200, 0)


def test_3d_panel_follows_the_pose_with_fixed_axes() -> None:
    poses, keypoints = _sequence()
    renderer = PoseRenderer(poses, image_size=IMAGE_SIZE)
    first = renderer.draw(poses[0], keypoints[0])[:, 640:]
    last = renderer.draw(poses[-1], keypoints[-1])[:, 640:]
    mirrored = poses[0] * (-1.0, 1.0, 1.0)  # raised arm on the other side of the image
    other = renderer.draw(mirrored, keypoints[0])[:, 640:]
    assert not np.array_equal(first, last)
    left_x = [np.nonzero((img == LEFT_COLOUR).all(-1))[1].mean() for img in (first, other)]
    assert left_x[0] > left_x[1] + 50  # the left arm is drawn at +x (image right)
    blank = renderer.draw(np.full((17, 3), np.nan), keypoints[0])[:, 640:]  # non-finite: skipped
    assert not (blank == LEFT_COLOUR).all(-1).any()


def _read_back(path: Path) -> tuple[dict, list[np.ndarray]]:
    reader = imageio_ffmpeg.read_frames(str(path))
    meta = next(reader)
    w, h = meta["size"]
    return meta, [np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader]


def test_render_video_writes_an_h264_mp4(tmp_path: Path) -> None:
    poses, keypoints = _sequence(6)
    frames = (np.full((480, 640, 3), 30 * i, np.uint8) for i in range(10))  # longer: cut
    out = render_video(
        tmp_path / "out.mp4", poses, keypoints, fps=12.5, image_size=IMAGE_SIZE, frames=frames,
        valid=np.array([1, 1, 0, 1, 1, 1], bool), progress=False, title="test",
    )  # fmt: skip
    assert out == tmp_path / "out.mp4"
    meta, images = _read_back(out)
    assert meta["codec"] == "h264" and meta["fps"] == pytest.approx(12.5)
    assert meta["size"] == (1120, 480) and len(images) == 6
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temp file left


def test_render_video_reads_a_video_file(tmp_path: Path) -> None:
    clip = tmp_path / "in.mp4"
    writer = imageio_ffmpeg.write_frames(str(clip), (320, 240), fps=10, ffmpeg_log_level="error")
    writer.send(None)
    for _ in range(5):
        writer.send(np.full((240, 320, 3), (0, 0, 200), np.uint8))
    writer.close()
    poses, keypoints = _sequence(4)
    out = render_video(tmp_path / "out.mp4", poses, keypoints * (0.5, 0.5, 1.0), fps=10,
                       image_size=(320, 240), frames=clip, progress=False)  # fmt: skip
    _, images = _read_back(out)
    assert len(images) == 4 and images[0].shape == (480, 640 + 480, 3)
    assert np.abs(images[0][5, 5].astype(int) - (0, 0, 200)).max() < 30  # the input, scaled
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"not a video")
    with pytest.raises(ValueError, match="garbage.mp4: not a readable video"):
        render_video(tmp_path / "bad.mp4", poses, keypoints, fps=10, image_size=(320, 240),
                     frames=garbage, progress=False)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["garbage.mp4", "in.mp4", "out.mp4"]


def test_render_video_blank_canvas_and_overwrite(tmp_path: Path) -> None:
    poses, keypoints = _sequence(3)
    out = tmp_path / "sub" / "blank.mp4"
    render_video(out, poses, keypoints[..., :2], fps=5, image_size=(400, 300), progress=False)
    _, images = _read_back(out)
    assert len(images) == 3 and images[0].shape == (480, 640 + 480, 3)
    size = out.stat().st_size
    with pytest.raises(FileExistsError, match=r"blank\.mp4 already exists; pass --overwrite"):
        render_video(out, poses, keypoints, fps=5, image_size=(400, 300), progress=False)
    assert out.stat().st_size == size
    render_video(out, poses[:2], keypoints[:2], fps=5, image_size=(400, 300), overwrite=True,
                 progress=False)  # fmt: skip
    assert len(_read_back(out)[1]) == 2


def test_render_video_leaves_nothing_after_an_error(tmp_path: Path) -> None:
    poses, keypoints = _sequence(5)
    short = iter([np.zeros((480, 640, 3), np.uint8)] * 2)
    with pytest.raises(ValueError, match="ended after 2 frames, 5 expected"):
        render_video(tmp_path / "x.mp4", poses, keypoints, fps=5, image_size=IMAGE_SIZE,
                     frames=short, progress=False)  # fmt: skip
    bad = keypoints[:, :5]  # wrong joint count, found while drawing the first frame
    with pytest.raises(ValueError, match="keypoints_2d must be"):
        render_video(tmp_path / "y.mp4", poses, bad, fps=5, image_size=IMAGE_SIZE, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_render_video_argument_checks(tmp_path: Path) -> None:
    poses, keypoints = _sequence(3)
    with pytest.raises(ValueError, match="fps must be positive"):
        render_video(tmp_path / "a.mp4", poses, keypoints, fps=0, image_size=IMAGE_SIZE)
    with pytest.raises(ValueError, match="as many 2D as 3D frames"):
        render_video(tmp_path / "a.mp4", poses, keypoints[:2], fps=5, image_size=IMAGE_SIZE)
    with pytest.raises(ValueError, match="valid must be"):
        render_video(tmp_path / "a.mp4", poses, keypoints, fps=5, image_size=IMAGE_SIZE,
                     valid=np.ones(2, bool))  # fmt: skip
    assert list(tmp_path.iterdir()) == []


def test_missing_viz_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    poses, keypoints = _sequence(2)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(MissingExtraError, match=r"^rendering needs .*pip install 'ssrstf\[viz\]'$"):
        render_frame(poses, keypoints, image_size=IMAGE_SIZE)
