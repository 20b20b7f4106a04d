"""Readers for 2D keypoint files from common detectors, into one `Keypoints2D` container.

Formats (`FORMATS`; the layouts are documented in docs/data-format.md, "Inference inputs and
outputs"), each read by its own module (`ssrstf.keypoints.coco`, `ssrstf.keypoints.openpose`,
`ssrstf.keypoints.blazepose`, `ssrstf.keypoints.npy`); this one detects the format and
dispatches:

* ``coco``: COCO keypoint-results JSON, a list of ``{image_id, category_id, keypoints[51],
  score}``. Frames are the **distinct image_ids present**, sorted (numbers numerically, file
  names naturally: ``"2.jpg"`` before ``"10.jpg"``); COCO results only list images with
  detections, so images without one cannot be told apart from images that do not exist.
* ``halpe``: AlphaPose results JSON, the same list with ``keypoints[78]`` (Halpe-26) and
  ``image_id`` usually a file name.
* ``openpose``: a folder of per-frame OpenPose files (``*_keypoints.json``, BODY_25
  ``pose_keypoints_2d[75]``), one frame per file in natural file-name order; also one such file.
* ``blazepose``: our BlazePose-33 JSON (``{"frames": [[[x, y, visibility] × 33] | null, ...],
  "image_size": [w, h], "fps": f, "coordinates": "pixels" | "normalized"}`` or a bare frames
  list), or a ``.npy`` of (F, 33, 2|3).
* ``npy``: a ``.npy`` array (F, J, 2|3) or a ``.npz`` with ``keypoints`` (and optionally
  ``skeleton``, ``valid``, ``image_size``, ``fps``); the skeleton comes from ``skeleton_name``,
  the ``.npz``, or the joint count when only one skeleton has it.

Conventions of the result: pixels, one person per frame (the best-scored one when a frame has
several), missing joints stored as ``(0, 0, confidence 0)``, every coordinate finite.
`read_detections` keeps **every** person of every frame instead (COCO, Halpe and OpenPose files
can hold several); `ssrstf.keypoints.tracking` links them into one `Keypoints2D` per person.
A frame is **valid** when the file lists a person in it with at least one keypoint of confidence
> 0 (`ssrstf.keypoints.keypoints2d`). Nothing is filled in by the readers: see
`ssrstf.keypoints.prepare.fill_missing`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ssrstf.keypoints.blazepose import read_blazepose_json
from ssrstf.keypoints.coco import RESULTS_SKELETONS, read_results, results_by_image
from ssrstf.keypoints.keypoints2d import (
    Detections,
    KeypointFormatError,
    Keypoints2D,
    check_image_size,
    resolve_skeleton,
)
from ssrstf.keypoints.npy import read_numpy
from ssrstf.keypoints.openpose import openpose_people, read_openpose
from ssrstf.keypoints.parsing import check_size_value, load_json
from ssrstf.skeleton import BLAZEPOSE_33

FORMATS: tuple[str, ...] = ("auto", "coco", "halpe", "openpose", "blazepose", "npy")
"""Values of ``fmt`` accepted by `read_keypoints` (``npz`` is an alias of ``npy``)."""


def read_keypoints(
    path: str | Path,
    fmt: str = "auto",
    *,
    skeleton_name: str | None = None,
    image_size: tuple[int, int] | None = None,
    fps: float | None = None,
) -> Keypoints2D:
    """Read a 2D keypoint file (or OpenPose folder) in its own skeleton's joint order.

    Args:
        path: The file, or the folder of OpenPose per-frame files.
        fmt: One of `FORMATS`; ``"auto"`` decides from the extension and the content and records
            its choice in `Keypoints2D.source`.
        skeleton_name: Joint order of an ``npy`` array (see `resolve_skeleton`); for the other
            formats it may only name the format's own skeleton.
        image_size: (width, height) in pixels; replaces the file's size (also for scaling a
            BlazePose file's normalized coordinates to pixels) and is checked with
            `check_image_size`.
        fps: Frame rate; replaces the file's.

    Returns:
        The keypoints; convert them with `to_h36m` and fill gaps with `fill_missing`.

    Raises:
        KeypointFormatError: One line naming the file and the problem.
    """
    path = Path(path)
    if not path.exists():
        raise KeypointFormatError(f"{path}: no such file or folder")
    fmt = "npy" if fmt == "npz" else fmt
    if fmt not in FORMATS:
        raise KeypointFormatError(f"{path}: unknown format {fmt!r}; choose one of {FORMATS}")
    wanted = resolve_skeleton(skeleton_name) if skeleton_name else None
    detected = ""
    if fmt == "auto":
        fmt, detected = _detect_format(path)
    if fmt == "openpose":
        kp = read_openpose(path)
    elif fmt == "npy" or (fmt == "blazepose" and path.suffix.lower() in (".npy", ".npz")):
        skeleton = BLAZEPOSE_33 if fmt == "blazepose" else wanted
        if fmt == "blazepose" and wanted not in (None, BLAZEPOSE_33):
            raise KeypointFormatError(f"{path}: blazepose files are {BLAZEPOSE_33.name}")
        kp = read_numpy(path, skeleton)
    elif path.is_dir():
        raise KeypointFormatError(f"{path}: is a folder; only the openpose format reads folders")
    elif fmt == "blazepose":
        kp = read_blazepose_json(path, load_json(path), image_size)
    else:
        kp = read_results(path, load_json(path), fmt)
    if wanted is not None and wanted != kp.skeleton:
        raise KeypointFormatError(
            f"{path}: {fmt} keypoints are {kp.skeleton.name}, not the requested {wanted.name}"
        )
    source = f"{kp.source}{' (auto-detected: ' + detected + ')' if detected else ''} from {path}"
    size = image_size if image_size is not None else kp.image_size
    if size is not None:
        check_size_value(path, size)
    kp = dataclasses.replace(
        kp, source=source, image_size=size, fps=fps if fps is not None else kp.fps
    )
    if size is not None:
        try:
            check_image_size(kp, size)
        except ValueError as err:
            raise KeypointFormatError(f"{path}: {err}") from None
    return kp


def read_detections(
    path: str | Path,
    fmt: str = "auto",
    *,
    skeleton_name: str | None = None,
    image_size: tuple[int, int] | None = None,
    fps: float | None = None,
) -> Detections:
    """Read every person of every frame (COCO / Halpe results, OpenPose files).

    The file is checked as `read_keypoints` checks it (same arguments, same errors); the
    formats that hold one person per frame (``blazepose``, ``npy``) give at most one.

    Raises:
        KeypointFormatError: One line naming the file and the problem.
    """
    best = read_keypoints(path, fmt, skeleton_name=skeleton_name, image_size=image_size, fps=fps)
    path = Path(path)
    fmt = "npy" if fmt == "npz" else fmt
    if fmt == "auto":
        fmt = _detect_format(path)[0]
    if fmt in RESULTS_SKELETONS:
        frame_ids, people, scores = results_by_image(path, load_json(path), fmt)
    elif fmt == "openpose":
        frame_ids, people, scores = openpose_people(path)
    else:
        return Detections.from_keypoints(best)
    assert frame_ids == best.frame_ids  # the same frames as the best-person reading
    detections = Detections(
        people=people,
        scores=scores,
        skeleton=best.skeleton,
        image_size=best.image_size,
        fps=best.fps,
        source=best.source,
        frame_ids=frame_ids,
    )
    if best.image_size is not None and detections.max_people > 1:
        everyone = np.concatenate([p for p in people if len(p)])
        pooled = Keypoints2D.from_detections(everyone, best.skeleton, source=best.source)
        try:
            check_image_size(pooled, best.image_size)
        except ValueError as err:
            raise KeypointFormatError(f"{path}: {err}") from None
    return detections


def _detect_format(path: Path) -> tuple[str, str]:
    """(format, reason) for ``fmt="auto"``."""
    suffix = path.suffix.lower()
    if path.is_dir():
        return "openpose", "a folder"
    if suffix in (".npy", ".npz"):
        return "npy", f"{suffix} file"
    if suffix != ".json":
        raise KeypointFormatError(
            f"{path}: cannot detect the format of a {suffix or 'suffix-less'} file; pass --format"
        )
    data = load_json(path)
    if isinstance(data, dict) and "people" in data:
        return "openpose", "an OpenPose frame file"
    if isinstance(data, dict) and "frames" in data:
        return "blazepose", "a JSON object with frames"
    if isinstance(data, list) and data and isinstance(data[0], dict) and "keypoints" in data[0]:
        first = data[0]["keypoints"]
        count = len(first) if isinstance(first, list) else -1
        for fmt, skeleton in RESULTS_SKELETONS.items():
            if count == 3 * skeleton.num_joints:
                return fmt, f"results list with {count}-value keypoints"
        raise KeypointFormatError(
            f"{path}: results list with {count}-value keypoints; expected 51 (COCO-17) or "
            "78 (Halpe-26)"
        )
    if isinstance(data, list) and data and (data[0] is None or isinstance(data[0], list)):
        return "blazepose", "a list of per-frame landmark lists"
    if isinstance(data, list) and not data:
        raise KeypointFormatError(f"{path}: empty JSON list, no frames")
    raise KeypointFormatError(
        f"{path}: JSON is neither a COCO/Halpe results list, an OpenPose frame nor a "
        "BlazePose frames file; pass --format"
    )
