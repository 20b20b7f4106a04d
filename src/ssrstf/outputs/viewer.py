"""A self-contained 3D viewer page (``viewer.html``) for lifted poses.

The page is one HTML file with its data inlined: no network access, no external script and no
vendored library. Its drawing code (``viewer_template.html``, package data) is ~300 lines of
our own JavaScript on a canvas 2D context: a perspective orbit camera, a floor grid, every
person's skeleton (bones coloured by side like the renderings, depth-sorted) and root path on
the floor, a timeline with play/pause, and optionally the input video's frames. Controls: drag
to orbit, shift+drag (or right drag) to pan, wheel to zoom, space to play/pause, arrow keys to
step; ``window.ssrstfViewer`` offers the same operations to scripts.

Coordinates: the Y-up frame of the GLB export (`ssrstf.outputs.gltf.animation_positions_mm`):
the camera's ``(x, −y, −z)`` axes, or a world frame when a ``world_from_camera`` transform is
given, in which case the floor is Y = 0; otherwise the floor is drawn at the lowest joint of
the clip. People whose root motion is unknown (root-relative poses, no trajectory) would all
stand at the origin; they are placed side by side 1 m apart along X, and the page says so.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ssrstf.extras import require
from ssrstf.files import atomic_write
from ssrstf.outputs.colours import side_colours
from ssrstf.outputs.gltf import animation_positions_mm
from ssrstf.skeleton import H36M_17, Skeleton

TEMPLATE = "viewer_template.html"
"""The page's HTML/JavaScript, a package data file next to this module."""
SIDE_BY_SIDE_MM = 1000.0
"""Spacing along X of people without root motion."""
VIDEO_FRAME_HEIGHT = 240
"""Height in pixels of the embedded video frames (JPEG)."""


@dataclass(frozen=True)
class ViewerPerson:
    """One person's poses for the viewer.

    Attributes:
        name: Label shown above the person when there are several.
        poses_mm: (F, J, 3) millimetres, camera axes (x right, y down, z forward), usually
            root-relative.
        trajectory_mm: (F, 3) camera-space root positions (mm) added to ``poses_mm``, or None.
        valid: (F,) bool, frames in which the person was detected (others are drawn thin), or
            None for all.
        start_frame: Index in the page's timeline of the first pose.
    """

    name: str
    poses_mm: np.ndarray
    trajectory_mm: np.ndarray | None = None
    valid: np.ndarray | None = None
    start_frame: int = 0


def _hex(rgb: Sequence[int]) -> str:
    return "#" + "".join(f"{int(c):02x}" for c in rgb)


def _joint_colours(skeleton: Skeleton) -> list[str]:
    return [_hex(rgb) for rgb in side_colours(skeleton)]


def encode_video_frames(
    frames: Iterable[np.ndarray], *, count: int, height: int = VIDEO_FRAME_HEIGHT, quality: int = 70
) -> list[str]:
    """JPEG data URIs of the first ``count`` frames (RGB uint8 (H, W, 3)), ``height`` px high.

    Needs Pillow (extra ``viz``).

    Raises:
        ValueError: If there are fewer than ``count`` frames.
    """
    pil = require("PIL.Image", "viz")
    uris = []
    for frame in frames:
        if len(uris) == count:
            break
        image = pil.fromarray(np.ascontiguousarray(frame[..., :3]))
        width = max(2, round(image.width * height / image.height))
        image = image.resize((width, height), pil.Resampling.BILINEAR)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality)
        uris.append("data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii"))
    if len(uris) < count:
        raise ValueError(f"the input video ended after {len(uris)} frames, {count} expected")
    return uris


def _check_person(person: ViewerPerson, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    poses = np.asarray(person.poses_mm, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (skeleton.num_joints, 3) or len(poses) == 0:
        raise ValueError(
            f"{person.name}: poses_mm must be (F > 0, {skeleton.num_joints}, 3), got {poses.shape}"
        )
    if not np.isfinite(poses).all():
        raise ValueError(f"{person.name}: poses_mm contains NaN or inf")
    valid = np.ones(len(poses), bool) if person.valid is None else np.asarray(person.valid, bool)
    if valid.shape != (len(poses),):
        raise ValueError(f"{person.name}: valid must be ({len(poses)},), got {valid.shape}")
    if person.trajectory_mm is not None:
        trajectory = np.asarray(person.trajectory_mm, dtype=np.float64)
        if trajectory.shape != (len(poses), 3) or not np.isfinite(trajectory).all():
            raise ValueError(
                f"{person.name}: trajectory_mm must be finite ({len(poses)}, 3), got "
                f"{trajectory.shape}"
            )
    if person.start_frame < 0:
        raise ValueError(f"{person.name}: start_frame must be ≥ 0, got {person.start_frame}")
    return poses, valid


def viewer_data(
    people: Sequence[ViewerPerson],
    fps: float | None,
    *,
    skeleton: Skeleton = H36M_17,
    world_from_camera: np.ndarray | None = None,
    video_frames: Sequence[str] | None = None,
    title: str = "ssrstf 3D poses",
) -> dict[str, Any]:
    """The JSON document the page embeds (see `write_viewer` for the arguments).

    ``people[k]["positions"]`` are (F_k, J, 3) int64 arrays of millimetres in the viewer's Y-up
    frame (rounded to 1 mm; `viewer_html` writes them as nested JSON lists), ``floor_mm`` the
    floor height and ``num_frames`` the timeline length.
    """
    if not people:
        raise ValueError("the viewer needs at least one person")
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    checked = [_check_person(p, skeleton) for p in people]
    positions = [
        animation_positions_mm(poses, p.trajectory_mm, world_from_camera)
        for p, (poses, _) in zip(people, checked, strict=True)
    ]
    has_path = [p.trajectory_mm is not None for p in people]
    note = ""
    if len(people) > 1 and not all(has_path):
        for k, (pos, moves) in enumerate(zip(positions, has_path, strict=True)):
            if not moves:
                pos[..., 0] += (k - (len(people) - 1) / 2) * SIDE_BY_SIDE_MM
        note = "no root motion: people placed side by side, 1 m apart"
    num_frames = max(p.start_frame + len(pos) for p, pos in zip(people, positions, strict=True))
    if world_from_camera is not None:
        floor = 0.0
    else:
        floor = float(min(pos[..., 1].min() for pos in positions))
    video = None
    if video_frames is not None:
        if len(video_frames) < num_frames:
            raise ValueError(f"{len(video_frames)} video frames for {num_frames} pose frames")
        video = {"frames": list(video_frames[:num_frames])}
    return {
        "format": "ssrstf-viewer",
        "format_version": 1,
        "title": title,
        "fps": None if fps is None else float(fps),
        "num_frames": int(num_frames),
        "joint_names": list(skeleton.joint_names),
        "bones": [list(b) for b in skeleton.bones],
        "joint_colours": _joint_colours(skeleton),
        "frame": "world" if world_from_camera is not None else "camera",
        "floor_mm": round(floor, 1),
        "note": note,
        "people": [
            {
                "name": p.name,
                "start": int(p.start_frame),
                "valid": [int(v) for v in valid],
                "has_path": moves,
                "positions": np.rint(pos).astype(np.int64),
            }
            for p, (_, valid), pos, moves in zip(people, checked, positions, has_path, strict=True)
        ],
        "video": video,
    }


_ARRAY_BLOCK = 1000
"""Frames per block when an array is written as JSON text (`_json_with_arrays`)."""


def _json_with_arrays(data: dict[str, Any]) -> str:
    """Compact JSON of ``data`` in which integer arrays (the poses) become nested lists.

    Written block by block as text: ``ndarray.tolist()`` of a 100,000-frame clip would hold
    about 500 MB of Python integers at once; the text is ~30 MB.
    """
    arrays: list[np.ndarray] = []
    token = uuid.uuid4().hex  # marks the arrays' places; no title or name can contain it

    def placeholder(value: object) -> str:
        if not isinstance(value, np.ndarray):
            raise TypeError(f"not JSON serialisable: {type(value).__name__}")
        arrays.append(value)
        return f"{token}{len(arrays) - 1}{token}"

    text = json.dumps(data, separators=(",", ":"), allow_nan=False, default=placeholder)
    pieces = text.split(f'"{token}')
    out = [pieces[0]]
    for piece in pieces[1:]:
        index, rest = piece.split(f'{token}"', 1)
        array = arrays[int(index)]
        blocks = (
            json.dumps(array[i : i + _ARRAY_BLOCK].tolist(), separators=(",", ":"))[1:-1]
            for i in range(0, len(array), _ARRAY_BLOCK)
        )
        out += ["[", ",".join(blocks), "]", rest]
    return "".join(out)


_SCRIPT_SAFE = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}
"""JSON escapes of the characters that could end or change the page's <script> block
("</script>", "<!--"): the same JSON, as these characters occur only inside its strings."""


def _script_safe(text: str) -> str:
    for char, escape in _SCRIPT_SAFE.items():  # str.replace: fast on a clip's ~30 MB
        text = text.replace(char, escape)
    return text


def viewer_html(data: dict[str, Any]) -> str:
    """The page for a `viewer_data` document."""
    template = resources.files("ssrstf.outputs").joinpath(TEMPLATE).read_text(encoding="utf-8")
    values = {
        "__TITLE__": html.escape(data["title"]),
        "__DATA__": _script_safe(_json_with_arrays(data)),
    }
    # One pass: a title or name holding "__DATA__" or "__TITLE__" stays as it is.
    return re.sub("__TITLE__|__DATA__", lambda match: values[match.group()], template)


def write_viewer(
    path: str | Path,
    people: Sequence[ViewerPerson],
    fps: float | None,
    *,
    skeleton: Skeleton = H36M_17,
    world_from_camera: np.ndarray | None = None,
    video_frames: Sequence[str] | None = None,
    title: str = "ssrstf 3D poses",
    overwrite: bool = False,
) -> Path:
    """Write ``viewer.html``: the people's skeletons and paths, playable in any browser.

    Args:
        path: Output ``.html`` file.
        people: One or more people; their ``start_frame`` place them on the shared timeline.
        fps: Playback rate (30 when None).
        skeleton: Joint order and bones of the poses.
        world_from_camera: (4, 4) rigid transform (mm) from camera axes into a Y-up world with
            the floor at Y = 0, or None (see the module docstring).
        video_frames: Image URIs (`encode_video_frames`), one per timeline frame, shown beside
            the 3D view; None shows none.
        title: Page title.
        overwrite: Replace an existing file.

    Raises:
        ValueError: Bad shapes, non-finite values or too few video frames.
        FileExistsError: ``path`` exists and not ``overwrite``.
    """
    data = viewer_data(
        people, fps, skeleton=skeleton, world_from_camera=world_from_camera,
        video_frames=video_frames, title=title,
    )  # fmt: skip
    page = viewer_html(data).encode("utf-8")
    return atomic_write(path, lambda temp: temp.write_bytes(page), overwrite=overwrite)
