"""Video input: probing, streaming frames, errors, and the MediaPipe detector's output contract.

The detector tests need the ``video`` extra (mediapipe 0.10.21, numpy<2) and are skipped in the
numpy-2 dev environment and CI; run them in a venv made with ``pip install -e '.[video,viz,dev]'``.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from pathlib import Path

import numpy as np
import pytest

from ssrstf.inference.extras import EXTRA_HINTS, MissingExtraError, require
from ssrstf.inference.video import (
    DETECTOR_SOURCE,
    detect_keypoints,
    detect_keypoints_timed,
    is_video,
    iter_frames,
    probe_video,
)
from ssrstf.skeleton import BLAZEPOSE_33

REAL_VIDEO = Path(__file__).resolve().parents[1].parent / "shared/data/tfjs_pose_videos/pose_1.mp4"


def _needs_ffmpeg():
    return pytest.importorskip(
        "imageio_ffmpeg", reason="video I/O needs imageio-ffmpeg (extras video/viz/dev)"
    )


def _write_clip(path: Path, frames: int = 10, fps: float = 10.0) -> Path:
    """A 64x48 H.264 clip of a white rectangle moving right by 4 px per frame."""
    writer = _needs_ffmpeg().write_frames(
        str(path), (64, 48), fps=fps, codec="libx264", pix_fmt_out="yuv420p",
        macro_block_size=1, ffmpeg_log_level="error",
    )  # fmt: skip
    writer.send(None)
    for index in range(frames):
        image = np.zeros((48, 64, 3), np.uint8)
        image[14:34, 4 * index : 4 * index + 12] = 255
        writer.send(image)
    writer.close()
    return path


@pytest.fixture
def clip(tmp_path: Path) -> Path:
    return _write_clip(tmp_path / "clip.mp4")


def test_is_video_by_extension() -> None:
    assert is_video("a/b.MP4") and is_video("x.mov") and is_video(Path("c.webm"))
    assert not is_video("poses.json") and not is_video("keypoints.npz") and not is_video("video")


def test_probe_video_reports_size_fps_and_count(clip: Path) -> None:
    info = probe_video(clip)
    assert (info.width, info.height) == (64, 48)
    assert info.fps == pytest.approx(10.0)
    assert info.num_frames == 10


def test_iter_frames_streams_rgb_frames(clip: Path) -> None:
    frames = iter_frames(clip)
    assert inspect.isgenerator(frames)  # streamed, not a list
    images = list(frames)
    assert len(images) == 10
    assert all(f.shape == (48, 64, 3) and f.dtype == np.uint8 for f in images)
    centres = [np.nonzero(f[24].mean(axis=1) > 128)[0].mean() for f in images]  # middle row
    assert np.allclose(np.diff(centres), 4.0, atol=1.0)  # the rectangle moves right


def test_iter_frames_scales_in_ffmpeg(clip: Path) -> None:
    images = list(iter_frames(clip, size=(32, 24)))
    assert len(images) == 10 and images[0].shape == (24, 32, 3)
    with pytest.raises(ValueError, match="frame size must be positive"):
        iter_frames(clip, size=(0, 24))


def test_iter_frames_can_stop_early(clip: Path) -> None:
    frames = iter_frames(clip)
    first = next(frames)
    frames.close()  # stops ffmpeg
    assert first.shape == (48, 64, 3)


@pytest.mark.parametrize("content", [b"", b"this is not a video\n" * 50], ids=["empty", "garbage"])
def test_unreadable_file_gives_one_line_value_error(tmp_path: Path, content: bytes) -> None:
    _needs_ffmpeg()
    path = tmp_path / "broken.mp4"
    path.write_bytes(content)
    for call in (probe_video, iter_frames, detect_keypoints):
        if call is detect_keypoints and importlib.util.find_spec("mediapipe") is None:
            continue  # without the extra it raises MissingExtraError first (tested below)
        with pytest.raises(ValueError, match="broken.mp4: not a readable video") as info:
            call(path)
        assert "\n" not in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    _needs_ffmpeg()
    with pytest.raises(ValueError, match="nothing.mp4: no such file"):
        probe_video(tmp_path / "nothing.mp4")
    with pytest.raises(ValueError, match="is a folder"):
        iter_frames(tmp_path)


def test_video_without_frames(tmp_path: Path) -> None:
    writer = _needs_ffmpeg().write_frames(
        str(tmp_path / "none.mp4"), (64, 48), codec="libx264", ffmpeg_log_level="quiet"
    )
    writer.send(None)
    writer.close()
    with pytest.raises(ValueError, match="none.mp4: ") as info:
        list(iter_frames(tmp_path / "none.mp4"))
    assert "\n" not in str(info.value)


def test_missing_detector_names_the_extra(clip: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mediapipe", None)  # makes `import mediapipe` fail
    with pytest.raises(MissingExtraError) as info:
        detect_keypoints(clip)
    assert str(info.value) == "video input needs the optional detector: pip install 'ssrstf[video]'"
    assert isinstance(info.value, ImportError)


def test_require_imports_or_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    assert require("json", "viz").__name__ == "json"
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'ssrstf\[viz\]'"):
        require("matplotlib", "viz")
    assert EXTRA_HINTS["viz"].endswith("pip install 'ssrstf[viz]'")


def test_detect_keypoints_without_a_person(clip: Path) -> None:
    pytest.importorskip("mediapipe", reason="the detector needs the video extra (numpy<2)")
    kp, timing = detect_keypoints_timed(clip, progress=False)
    assert kp.skeleton is BLAZEPOSE_33
    assert kp.keypoints.shape == (10, 33, 3) and kp.valid.shape == (10,)
    assert not kp.valid.any() and not kp.keypoints.any()  # a rectangle is not a person
    assert kp.image_size == (64, 48) and kp.fps == pytest.approx(10.0)
    assert kp.source.startswith(DETECTOR_SOURCE) and "clip.mp4" in kp.source
    assert timing.frames == 10 and timing.detect_s > 0 and 0 < timing.detector_share <= 1
    assert detect_keypoints(clip, progress=False, max_frames=3).num_frames == 3


@pytest.mark.dataset
def test_detect_keypoints_on_a_real_video() -> None:
    pytest.importorskip("mediapipe", reason="the detector needs the video extra (numpy<2)")
    if not REAL_VIDEO.exists():
        pytest.skip(f"real video not available: {REAL_VIDEO}")
    kp = detect_keypoints(REAL_VIDEO, progress=False, max_frames=15)
    assert kp.num_frames == 15 and kp.image_size == (576, 576) and kp.fps == pytest.approx(30)
    assert kp.valid.all()
    xy = kp.keypoints[:, :, :2]
    assert (xy > 0).all() and (xy < 576).all()  # the dancer is fully in the frame
    assert kp.keypoints[:, BLAZEPOSE_33.index("nose"), 1].mean() < xy[:, :, 1].mean()  # head up
