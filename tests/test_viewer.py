"""The viewer page: its embedded data, and the page itself in a real headless Chromium.

Browser tests need Debian's ``chromium`` and ``chromium-driver`` (and selenium, dev extra); they
skip with a reason when those are absent, unless ``SSRSTF_REQUIRE_CHROMIUM=1`` (set by CI),
which turns the skip into a failure so CI cannot silently lose them.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from ssrstf.keypoints.sample import make_sample
from ssrstf.outputs.colours import CENTRE_COLOUR, LEFT_COLOUR, RIGHT_COLOUR
from ssrstf.outputs.gltf import animation_positions_mm
from ssrstf.outputs.viewer import (
    SIDE_BY_SIDE_MM,
    ViewerPerson,
    encode_video_frames,
    viewer_data,
    write_viewer,
)

CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=900,640",
)  # fmt: skip
"""The flags Chromium needs here (no sandbox as root, no GPU, no network chatter)."""


def _walk(frames: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Root-relative poses of the procedural sample and a trajectory crossing 3 m sideways."""
    poses = make_sample(seconds=frames / 50.0).poses_3d
    trajectory = np.stack(
        [np.linspace(-1500, 1500, frames), np.zeros(frames), np.full(frames, 4500.0)], -1
    )
    return poses - poses[:, :1], trajectory


def _embedded(path: Path) -> dict:
    text = path.read_text(encoding="utf-8")
    match = re.search(
        r'<script type="application/json" id="ssrstf-data">(.*?)</script>', text, re.S
    )
    assert match, "no data block"
    return json.loads(match.group(1))


# ---------------------------------------------------------------------------- the page's data


def test_page_is_self_contained_and_carries_the_poses(tmp_path: Path) -> None:
    poses, trajectory = _walk(40)
    valid = np.arange(40) % 7 != 3
    person = ViewerPerson("person 0", poses, trajectory, valid=valid)
    path = write_viewer(tmp_path / "viewer.html", [person], 50.0, title="walk </script> & co")
    text = path.read_text(encoding="utf-8")
    assert "http://" not in text and "https://" not in text and "//cdn" not in text
    assert not re.search(r"<script[^>]+src=", text) and not re.search(r"<link[^>]+stylesheet", text)
    assert "<title>walk &lt;/script&gt; &amp; co</title>" in text
    data = _embedded(path)
    assert data["title"] == "walk </script> & co" and data["num_frames"] == 40
    (embedded,) = data["people"]
    expected = (poses + trajectory[:, None]) * [1, -1, -1]  # camera axes -> Y up, as the GLB
    np.testing.assert_allclose(animation_positions_mm(poses, trajectory), expected, atol=1e-9)
    np.testing.assert_allclose(np.array(embedded["positions"]), expected, atol=0.5)
    assert embedded["valid"] == valid.astype(int).tolist() and embedded["has_path"]
    assert data["floor_mm"] == pytest.approx(expected[..., 1].min(), abs=0.1)
    assert data["video"] is None and data["fps"] == 50.0
    assert len(data["bones"]) == 16 and data["joint_colours"][4] == "#1e90ff"  # left hip


def test_markup_and_placeholders_in_names_stay_text(tmp_path: Path) -> None:
    """A file name can hold "<!--<script>" (which would swallow the page's data block) or a
    placeholder of the template ("__DATA__", which must not receive the data)."""
    poses, trajectory = _walk(5)
    title = "ssrstf: a<!--<script>__DATA__ & __TITLE__.npy"
    people = [ViewerPerson("b<!--</script>", poses, trajectory)]
    text = write_viewer(tmp_path / "viewer.html", people, 50.0, title=title).read_text()
    block = re.search(r'id="ssrstf-data">(.*?)</script>', text, re.S)
    assert block and not set("<>&") & set(block.group(1))
    assert text.count('"format":"ssrstf-viewer"') == 1  # the data once, in its block
    escaped = "a&lt;!--&lt;script&gt;__DATA__ &amp; __TITLE__.npy"
    assert f"<title>ssrstf: {escaped}</title>" in text
    data = _embedded(tmp_path / "viewer.html")
    assert data["title"] == title and data["people"][0]["name"] == "b<!--</script>"


def test_page_json_written_in_blocks_equals_plain_json(monkeypatch) -> None:
    from ssrstf.outputs import viewer

    poses, trajectory = _walk(5)
    people = [ViewerPerson('a "</x>" \x00', poses, trajectory), ViewerPerson("b", poses[:3])]
    data = viewer_data(people, 25.0, title="t \x00array0\x00")
    plain = dict(data, people=[dict(p, positions=p["positions"].tolist()) for p in data["people"]])
    expected = json.dumps(plain, separators=(",", ":"), allow_nan=False)
    monkeypatch.setattr(viewer, "_ARRAY_BLOCK", 2)  # blocks of 2, 2 and 1 frames
    assert viewer._json_with_arrays(data) == expected
    monkeypatch.setattr(viewer, "_ARRAY_BLOCK", 1000)
    assert viewer._json_with_arrays(data) == expected


def test_world_frame_floor_and_side_by_side_people() -> None:
    poses, trajectory = _walk(10)
    world = np.eye(4)
    world[:3, :3] = np.diag([1.0, -1.0, -1.0])
    world[:3, 3] = [0.0, 950.0, 0.0]
    data = viewer_data([ViewerPerson("a", poses, trajectory)], 25.0, world_from_camera=world)
    assert data["frame"] == "world" and data["floor_mm"] == 0.0
    two = viewer_data([ViewerPerson("a", poses), ViewerPerson("b", poses, start_frame=5)], 25.0)
    a, b = (np.array(p["positions"]) for p in two["people"])
    np.testing.assert_allclose(b - a, np.broadcast_to([SIDE_BY_SIDE_MM, 0, 0], a.shape), atol=1)
    assert (
        two["num_frames"] == 15 and two["people"][1]["start"] == 5 and "side by side" in two["note"]
    )


def test_video_frames_are_embedded_jpegs(tmp_path: Path) -> None:
    image = pytest.importorskip("PIL.Image", reason="Pillow (viz/dev) encodes the frames")
    frames = [np.full((120, 160, 3), (200, 0, 200), np.uint8) for _ in range(6)]
    uris = encode_video_frames(iter(frames), count=5, height=60)
    assert len(uris) == 5 and all(u.startswith("data:image/jpeg;base64,") for u in uris)
    decoded = image.open(io.BytesIO(base64.b64decode(uris[0].split(",", 1)[1])))
    assert decoded.size == (80, 60)
    with pytest.raises(ValueError, match="ended after 6 frames, 8 expected"):
        encode_video_frames(iter(frames), count=8)
    poses, _ = _walk(5)
    with pytest.raises(ValueError, match="4 video frames for 5 pose frames"):
        viewer_data([ViewerPerson("a", poses)], 25.0, video_frames=uris[:4])


def test_viewer_input_errors(tmp_path: Path) -> None:
    poses, trajectory = _walk(5)
    with pytest.raises(ValueError, match="at least one person"):
        viewer_data([], 25.0)
    with pytest.raises(ValueError, match=r"a: poses_mm must be \(F > 0, 17, 3\)"):
        viewer_data([ViewerPerson("a", poses[:, :4])], 25.0)
    with pytest.raises(ValueError, match="a: trajectory_mm"):
        viewer_data([ViewerPerson("a", poses, trajectory[:3])], 25.0)
    with pytest.raises(ValueError, match=r"a: valid must be \(5,\)"):
        viewer_data([ViewerPerson("a", poses, valid=np.ones(3, bool))], 25.0)
    with pytest.raises(ValueError, match="fps must be positive"):
        viewer_data([ViewerPerson("a", poses)], 0.0)
    write_viewer(tmp_path / "v.html", [ViewerPerson("a", poses)], 25.0)
    with pytest.raises(FileExistsError, match="--overwrite"):
        write_viewer(tmp_path / "v.html", [ViewerPerson("a", poses)], 25.0)


# ------------------------------------------------------------------------------ in a browser


def _chromium() -> tuple[str, str] | None:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (binary, driver) if binary and driver else None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    """A headless Chromium driven by selenium, shared by this module's browser tests."""
    found = _chromium()
    required = os.environ.get("SSRSTF_REQUIRE_CHROMIUM") == "1"
    if found is None:
        message = (
            "chromium and chromium-driver not installed (apt-get install chromium chromium-driver)"
        )
        if required:
            pytest.fail(message)
        pytest.skip(message)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        if required:
            pytest.fail("selenium (dev extra) is not installed")
        pytest.skip("selenium (dev extra) is not installed")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(found[1]), options=options)
    yield driver
    driver.quit()


def _open(browser, path: Path) -> list[dict]:
    browser.get(path.resolve().as_uri())
    browser.find_element("id", "view")  # the page is there
    assert browser.execute_script("return typeof window.ssrstfViewer") == "object"
    return browser.get_log("browser")


def _screenshot(browser) -> np.ndarray:
    from PIL import Image

    canvas = browser.find_element("id", "view")
    return np.asarray(Image.open(io.BytesIO(canvas.screenshot_as_png)).convert("RGB")).astype(int)


def _skeleton_pixels(image: np.ndarray) -> np.ndarray:
    """(N, 2) x, y of pixels in one of the three bone colours."""
    near = np.zeros(image.shape[:2], bool)
    for colour in (LEFT_COLOUR, RIGHT_COLOUR, CENTRE_COLOUR):
        near |= (np.abs(image - np.array(colour)) < 40).all(-1)
    ys, xs = np.nonzero(near)
    return np.stack([xs, ys], -1)


@pytest.fixture
def walk_page(tmp_path: Path) -> Path:
    poses, trajectory = _walk(60)
    return write_viewer(
        tmp_path / "viewer.html", [ViewerPerson("person 0", poses, trajectory)], 30.0
    )


def test_page_loads_without_console_messages_and_moves_on_the_timeline(
    browser, walk_page: Path, tmp_path: Path
) -> None:
    from selenium.webdriver.common.keys import Keys

    logs = _open(browser, walk_page)
    assert [entry for entry in logs if entry["level"] in ("SEVERE", "WARNING")] == []
    timeline = browser.find_element("id", "timeline")
    timeline.send_keys(Keys.HOME)  # the slider, operated as a user would
    assert browser.execute_script("return window.ssrstfViewer.getFrame()") == 0
    first = _screenshot(browser)
    timeline.send_keys(Keys.END)
    assert browser.execute_script("return window.ssrstfViewer.getFrame()") == 59
    assert browser.find_element("id", "label").text.startswith("frame 60 / 60")
    last = _screenshot(browser)
    a, b = _skeleton_pixels(first), _skeleton_pixels(last)
    assert len(a) > 200 and len(b) > 200  # a skeleton is drawn in both
    shift = np.linalg.norm(a.mean(0) - b.mean(0))
    assert shift > 50, f"the skeleton moved only {shift:.1f} px between frames 1 and 60"
    assert browser.get_log("browser") == []


def test_play_pause_orbit_and_zoom(browser, walk_page: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.actions.wheel_input import ScrollOrigin

    _open(browser, walk_page)
    play = browser.find_element("id", "play")
    play.click()
    time.sleep(0.6)
    assert browser.execute_script("return window.ssrstfViewer.isPlaying()")
    play.click()
    stopped = browser.execute_script("return window.ssrstfViewer.getFrame()")
    assert stopped > 3  # about 18 frames at 30 fps, fewer on a busy machine
    time.sleep(0.3)
    assert browser.execute_script("return window.ssrstfViewer.getFrame()") == stopped

    browser.execute_script("window.ssrstfViewer.setFrame(30)")
    canvas = browser.find_element("id", "view")
    before = _screenshot(browser)
    yaw = browser.execute_script("return window.ssrstfViewer.view.yaw")
    drag = ActionChains(browser).move_to_element(canvas).click_and_hold()
    drag.move_by_offset(120, 0).release().perform()  # 0.01 rad per pixel
    turned = browser.execute_script("return window.ssrstfViewer.view.yaw")
    assert turned == pytest.approx(yaw - 1.2, abs=0.05)
    orbited = _screenshot(browser)
    changed = (np.abs(before - orbited).sum(-1) > 60).sum()
    assert changed > 500, f"orbiting changed only {changed} pixels"

    span = np.ptp(_skeleton_pixels(orbited), axis=0).max()
    ActionChains(browser).scroll_from_origin(ScrollOrigin.from_element(canvas), 0, -500).perform()
    zoomed = np.ptp(_skeleton_pixels(_screenshot(browser)), axis=0).max()
    assert zoomed > 1.3 * span, f"zooming in changed the skeleton's extent {span} -> {zoomed} px"
    assert browser.get_log("browser") == []


def test_video_frame_shown_on_request(browser, tmp_path: Path) -> None:
    poses, trajectory = _walk(10)
    frames = [np.full((90, 160, 3), (200, 0, 200), np.uint8) for _ in range(10)]
    path = write_viewer(
        tmp_path / "v.html", [ViewerPerson("p", poses, trajectory)], 30.0,
        video_frames=encode_video_frames(frames, count=10, height=90),
    )  # fmt: skip
    assert _open(browser, path) == []
    image = browser.find_element("id", "video")
    assert image.is_displayed()
    assert browser.execute_script("return arguments[0].naturalWidth", image) == 160
    browser.find_element("id", "show-video").click()
    assert not image.is_displayed()


def test_two_people_are_both_drawn(browser, tmp_path: Path) -> None:
    poses, trajectory = _walk(20)
    other = trajectory.copy()
    other[:, 0] = -other[:, 0]  # walking the other way: they cross at frame 10
    people = [ViewerPerson("person 0", poses, trajectory), ViewerPerson("person 1", poses, other)]
    path = write_viewer(tmp_path / "two.html", people, 30.0)
    assert _open(browser, path) == []
    browser.execute_script("window.ssrstfViewer.setFrame(0)")
    pixels = _skeleton_pixels(_screenshot(browser))
    # Two skeletons 3 m apart: two clusters of bone pixels, split around the middle column.
    middle = (pixels[:, 0].min() + pixels[:, 0].max()) / 2
    left, right = pixels[pixels[:, 0] < middle], pixels[pixels[:, 0] >= middle]
    assert len(left) > 200 and len(right) > 200
    assert right[:, 0].min() - left[:, 0].max() > 50  # empty floor between them


def test_viewer_frames_from_a_video_file(tmp_path: Path) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="viz/dev extra writes the clip")
    from ssrstf.outputs.folder import viewer_frames as _viewer_frames

    video = tmp_path / "clip.mp4"
    writer = imageio_ffmpeg.write_frames(str(video), (320, 180), fps=10, macro_block_size=2)
    writer.send(None)
    for k in range(6):
        writer.send(np.full((180, 320, 3), 40 * k, np.uint8))
    writer.close()
    uris = _viewer_frames(video, (320, 180), 5)
    assert len(uris) == 5
    from PIL import Image

    image = Image.open(io.BytesIO(base64.b64decode(uris[4].split(",", 1)[1])))
    assert image.size == (426, 240)  # scaled by ffmpeg to the viewer's frame height
    assert abs(np.asarray(image).mean() - 160) < 10  # the fifth frame, not the first


def test_write_outputs_embeds_the_video_on_request(tmp_path: Path, monkeypatch, caplog) -> None:
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="viz/dev extra writes the clip")
    from ssrstf.lifting.lifter import Lifter
    from ssrstf.outputs import folder
    from ssrstf.outputs.folder import OUTPUT_FILES, write_outputs
    from ssrstf.pipeline.run import lift_keypoints

    sample = make_sample(seconds=0.12)  # 6 frames of a 1000x1000 video
    video = tmp_path / "clip.mp4"
    writer = imageio_ffmpeg.write_frames(str(video), (200, 200), fps=50, macro_block_size=2)
    writer.send(None)
    for _ in range(6):
        writer.send(np.zeros((200, 200, 3), np.uint8))
    writer.close()
    result = lift_keypoints(sample.keypoints, Lifter("default", flip=False))
    plain = write_outputs(result, tmp_path / "plain", frames_from=video)
    assert set(plain) == set(OUTPUT_FILES) - {"render"}
    assert _embedded(plain["viewer"])["video"] is None  # only when asked
    asked = write_outputs(result, tmp_path / "asked", frames_from=video, viewer_video=True)
    frames = _embedded(asked["viewer"])["video"]["frames"]
    assert len(frames) == 6 and frames[0].startswith("data:image/jpeg;base64,")
    assert asked["glb"].read_bytes()[:4] == b"glTF"
    # A page whose frames pass the size budget says so.
    monkeypatch.setattr(folder, "VIEWER_VIDEO_WARN_MB", 1e-3)
    with caplog.at_level(logging.WARNING, logger="ssrstf.outputs.folder"):
        write_outputs(result, tmp_path / "big", frames_from=video, viewer_video=True)
    assert "viewer.html embeds" in caplog.text and "(6 frames)" in caplog.text
    # A video that cannot be decoded fails before the first file: no half-written folder.
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    with pytest.raises(ValueError, match="broken.mp4"):
        write_outputs(result, tmp_path / "half", frames_from=broken, viewer_video=True)
    assert not (tmp_path / "half").exists() or not list((tmp_path / "half").iterdir())
