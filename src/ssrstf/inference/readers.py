"""Readers for 2D keypoint files from common detectors, into one `Keypoints2D` container.

Formats (`FORMATS`; the layouts are documented in docs/data-format.md, "Inference inputs and
outputs"):

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
can hold several); `ssrstf.inference.tracking` links them into one `Keypoints2D` per person.
A frame is **valid** when the file lists a person in it with at least one keypoint of confidence
> 0. Nothing is filled in by the readers: see `fill_missing`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from tokenize import TokenError
from typing import Any

import numpy as np

from ssrstf.data.missing import fill_missing_joints
from ssrstf.skeleton import (
    BLAZEPOSE_33,
    COCO_17,
    H36M_17,
    HALPE_26,
    MAPPINGS_TO_H36M,
    OPENPOSE_BODY_25,
    SKELETONS,
    Skeleton,
    convert_keypoints,
)

logger = logging.getLogger(__name__)

FORMATS: tuple[str, ...] = ("auto", "coco", "halpe", "openpose", "blazepose", "npy")
"""Values of ``fmt`` accepted by `read_keypoints` (``npz`` is an alias of ``npy``)."""

SKELETON_ALIASES: dict[str, str] = {
    "h36m": H36M_17.name,
    "coco": COCO_17.name,
    "halpe": HALPE_26.name,
    "blazepose": BLAZEPOSE_33.name,
    "openpose": OPENPOSE_BODY_25.name,
    "body25": OPENPOSE_BODY_25.name,
    "openpose-body25": OPENPOSE_BODY_25.name,
    "mpi": "mpi_inf_3dhp17",
    "humaneva": "humaneva15",
}
"""Short names accepted for ``skeleton_name`` besides the `Skeleton.name` keys of `SKELETONS`."""

_RESULTS_SKELETONS = {"coco": COCO_17, "halpe": HALPE_26}


class KeypointFormatError(ValueError):
    """A keypoint file cannot be read as the requested format; the message names the file."""


@dataclass(frozen=True, eq=False)
class Keypoints2D:
    """2D keypoints of one person over a video.

    Attributes:
        keypoints: (F, J, 3) float64: x, y in pixels and a confidence; missing joints have
            confidence 0.
        skeleton: Joint order of ``keypoints``.
        valid: (F,) bool: a person was detected in the frame (at least one keypoint with
            confidence > 0 in the file). Frames filled by `fill_missing` stay False.
        image_size: (width, height) in pixels, when known.
        fps: Frame rate, when known.
        source: What was read and how, e.g. ``"coco json (auto-detected) from run.json"``.
        frame_ids: Per-frame identifiers from the file (image ids, file names), or empty.
    """

    keypoints: np.ndarray
    skeleton: Skeleton
    valid: np.ndarray
    image_size: tuple[int, int] | None
    fps: float | None
    source: str
    frame_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints, dtype=np.float64)
        valid = np.asarray(self.valid, dtype=bool)
        joints = self.skeleton.num_joints
        if kp.ndim != 3 or kp.shape[1:] != (joints, 3):
            raise ValueError(
                f"keypoints must be (F, {joints}, 3) for {self.skeleton.name}, got {kp.shape}"
            )
        if valid.shape != kp.shape[:1]:
            raise ValueError(f"valid must be ({kp.shape[0]},), got {valid.shape}")
        if self.frame_ids and len(self.frame_ids) != kp.shape[0]:
            raise ValueError(f"{len(self.frame_ids)} frame ids for {kp.shape[0]} frames")
        if self.image_size is not None:
            w, h = self.image_size
            if not (w > 0 and h > 0):
                raise ValueError(f"image size must be positive, got {w}x{h}")
            object.__setattr__(self, "image_size", (int(w), int(h)))
        if self.fps is not None and not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        object.__setattr__(self, "keypoints", kp)
        object.__setattr__(self, "valid", valid)

    @classmethod
    def from_detections(
        cls,
        keypoints: np.ndarray,
        skeleton: Skeleton,
        *,
        source: str,
        image_size: tuple[int, int] | None = None,
        fps: float | None = None,
        frame_ids: tuple[str, ...] = (),
    ) -> Keypoints2D:
        """Detector output: a frame is ``valid`` where any joint has confidence > 0."""
        kp = np.asarray(keypoints, dtype=np.float64)
        has_confidence = kp.ndim == 3 and kp.shape[-1] == 3
        valid = (kp[..., 2] > 0).any(-1) if has_confidence else np.zeros(0, dtype=bool)
        return cls(
            keypoints=kp,
            skeleton=skeleton,
            valid=valid,
            image_size=image_size,
            fps=fps,
            source=source,
            frame_ids=frame_ids,
        )

    @property
    def num_frames(self) -> int:
        """Number of frames F."""
        return self.keypoints.shape[0]


@dataclass(frozen=True, eq=False)
class Detections:
    """Every person detected in every frame of a keypoint file (no identities yet).

    Attributes:
        people: Per frame, (K_f, J, 3) float64 keypoints of the K_f ≥ 0 people listed in it,
            in the conventions of `Keypoints2D` (pixels, missing joints zeroed).
        scores: Per frame, (K_f,) detection scores (the file's ``score``, else the mean
            keypoint confidence).
        skeleton: Joint order of the keypoints.
        image_size: (width, height) in pixels, when known.
        fps: Frame rate, when known.
        source: What was read, as in `Keypoints2D.source`.
        frame_ids: Per-frame identifiers from the file, or empty.
    """

    people: tuple[np.ndarray, ...]
    scores: tuple[np.ndarray, ...]
    skeleton: Skeleton
    image_size: tuple[int, int] | None
    fps: float | None
    source: str
    frame_ids: tuple[str, ...] = ()

    @property
    def num_frames(self) -> int:
        """Number of frames F."""
        return len(self.people)

    @property
    def max_people(self) -> int:
        """The largest number of people listed in one frame."""
        return max((len(p) for p in self.people), default=0)

    @classmethod
    def from_keypoints(cls, kp: Keypoints2D) -> Detections:
        """One person per frame where ``kp.valid``, none elsewhere."""
        people = tuple(kp.keypoints[f : f + int(kp.valid[f])] for f in range(kp.num_frames))
        scores = tuple(p[:, :, 2].mean(-1) for p in people)
        return cls(people, scores, kp.skeleton, kp.image_size, kp.fps, kp.source, kp.frame_ids)


def resolve_skeleton(name: str) -> Skeleton:
    """The skeleton called ``name`` (a `SKELETONS` key or a `SKELETON_ALIASES` short name)."""
    key = SKELETON_ALIASES.get(name.lower(), name.lower())
    if key not in SKELETONS:
        names = sorted({*SKELETONS, *SKELETON_ALIASES})
        raise ValueError(f"unknown skeleton {name!r}; choose one of: {', '.join(names)}")
    return SKELETONS[key]


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
        image_size: (width, height) in pixels; replaces the file's size and is checked with
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
        kp = _read_openpose(path)
    elif fmt == "npy" or (fmt == "blazepose" and path.suffix.lower() in (".npy", ".npz")):
        skeleton = BLAZEPOSE_33 if fmt == "blazepose" else wanted
        if fmt == "blazepose" and wanted not in (None, BLAZEPOSE_33):
            raise KeypointFormatError(f"{path}: blazepose files are {BLAZEPOSE_33.name}")
        kp = _read_numpy(path, skeleton)
    elif path.is_dir():
        raise KeypointFormatError(f"{path}: is a folder; only the openpose format reads folders")
    elif fmt == "blazepose":
        kp = _read_blazepose_json(path, _load_json(path))
    else:
        kp = _read_results(path, _load_json(path), fmt)
    if wanted is not None and wanted != kp.skeleton:
        raise KeypointFormatError(
            f"{path}: {fmt} keypoints are {kp.skeleton.name}, not the requested {wanted.name}"
        )
    source = f"{kp.source}{' (auto-detected: ' + detected + ')' if detected else ''} from {path}"
    size = image_size if image_size is not None else kp.image_size
    if size is not None:
        _check_size_value(path, size)
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
    if fmt in _RESULTS_SKELETONS:
        frame_ids, people, scores = _results_by_image(path, _load_json(path), fmt)
    elif fmt == "openpose":
        frame_ids, people, scores = _openpose_people(path)
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


def to_h36m(kp: Keypoints2D) -> Keypoints2D:
    """The same keypoints in `H36M_17` order, through ``MAPPINGS_TO_H36M`` (the model's input).

    A synthesised joint's confidence is the minimum of its sources' (see `convert_keypoints`),
    so a joint built from a missing source is itself missing (confidence 0).
    """
    mapping = MAPPINGS_TO_H36M[kp.skeleton.name]
    converted = convert_keypoints(kp.keypoints, mapping)
    return dataclasses.replace(kp, keypoints=converted, skeleton=H36M_17)


def fill_missing(kp: Keypoints2D) -> Keypoints2D:
    """Fill missing joints and frames with the rule training uses (`fill_missing_joints`).

    A joint is *observed* in a frame when the frame is valid, its confidence is > 0 (not NaN)
    and its coordinates are finite. Every other entry, including every joint of an invalid
    frame, gets x and y interpolated linearly in the frame index between the nearest observed
    frames of that joint and confidence 0. A torso joint never observed (a Stacked-Hourglass
    neck, a detector without spine) gets its stand-in position (`H36M_STAND_INS`), with a log
    message. ``valid`` is unchanged: filled frames stay invalid. Convert with `to_h36m` first
    to fill only the joints the model uses.

    Raises:
        ValueError: If no frame is valid, or a joint without a stand-in is never observed
            (named in the message).
    """
    xy = kp.keypoints[..., :2]
    conf = kp.keypoints[..., 2]
    with np.errstate(invalid="ignore"):
        observed = kp.valid[:, None] & (conf > 0) & np.isfinite(xy).all(-1)
    if not kp.valid.any():
        raise ValueError(f"{kp.source}: no frame with a detected person, nothing to fill from")
    filled, unfillable = fill_missing_joints(kp.keypoints, observed, kp.skeleton)
    if unfillable:
        names = ", ".join(kp.skeleton.joint_names[j] for j in unfillable)
        raise ValueError(f"{kp.source}: joint(s) {names} never detected; cannot fill them")
    stood_in = [kp.skeleton.joint_names[j] for j in np.flatnonzero(~observed.any(0))]
    if stood_in:
        logger.info("%s: joint(s) %s never detected; using stand-ins", kp.source, stood_in)
    return dataclasses.replace(kp, keypoints=filled.astype(kp.keypoints.dtype, copy=False))


def check_image_size(
    kp: Keypoints2D, image_size: tuple[int, int], *, max_outside: float = 0.05
) -> None:
    """Check that the keypoints plausibly belong to an image of ``image_size`` pixels.

    Raises:
        ValueError: If the size is not positive, or more than ``max_outside`` of the confident
            keypoints (confidence > 0, valid frames) lie outside ``[-0.5 w, 1.5 w] × [-0.5 h,
            1.5 h]``: the keypoints are then in another unit or the size is wrong.
    """
    w, h = image_size
    if not (w > 0 and h > 0):
        raise ValueError(f"image size must be positive, got {w}x{h}")
    frames = kp.keypoints[kp.valid]
    points = frames[..., :2][frames[..., 2] > 0]
    if len(points) == 0:
        return
    outside = (
        (points[:, 0] < -0.5 * w)
        | (points[:, 0] > 1.5 * w)
        | (points[:, 1] < -0.5 * h)
        | (points[:, 1] > 1.5 * h)
    )
    share = outside.mean()
    if share > max_outside:
        raise ValueError(
            f"{share:.0%} of the confident keypoints lie far outside a {w}x{h} image "
            f"(x range {points[:, 0].min():.1f}..{points[:, 0].max():.1f}, y range "
            f"{points[:, 1].min():.1f}..{points[:, 1].max():.1f}); wrong image size, or "
            "keypoints not in pixels?"
        )


# ------------------------------------------------------------------------------ format detection


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
    data = _load_json(path)
    if isinstance(data, dict) and "people" in data:
        return "openpose", "an OpenPose frame file"
    if isinstance(data, dict) and "frames" in data:
        return "blazepose", "a JSON object with frames"
    if isinstance(data, list) and data and isinstance(data[0], dict) and "keypoints" in data[0]:
        first = data[0]["keypoints"]
        count = len(first) if isinstance(first, list) else -1
        for fmt, skeleton in _RESULTS_SKELETONS.items():
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


def _load_json(path: Path) -> Any:
    if path.is_file() and path.stat().st_size == 0:
        raise KeypointFormatError(f"{path}: empty file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as err:
        raise KeypointFormatError(f"{path}: cannot read the file ({err})") from None
    except json.JSONDecodeError as err:
        raise KeypointFormatError(f"{path}: invalid JSON ({err})") from None


def _natural_key(text: str) -> tuple[Any, ...]:
    """Sort key ordering embedded numbers numerically: ``"f2"`` < ``"f10"``."""
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text))


def _check_size_value(path: Path, size: Any) -> None:
    if not (len(size) == 2 and all(isinstance(v, (int, float, np.number)) for v in size)):
        raise KeypointFormatError(f"{path}: image size must be [width, height], got {size}")
    if not (size[0] > 0 and size[1] > 0):
        raise KeypointFormatError(f"{path}: image size must be positive, got {size[0]}x{size[1]}")


# ---------------------------------------------------------------------------------- the readers


def _person_array(path: Path, values: Any, skeleton: Skeleton, where: str) -> np.ndarray:
    """(J, 3) keypoints from a flat list of 3 J numbers, missing joints zeroed."""
    expected = 3 * skeleton.num_joints
    if not isinstance(values, list) or len(values) != expected:
        got = len(values) if isinstance(values, list) else type(values).__name__
        raise KeypointFormatError(
            f"{path}: {where}: expected {expected} keypoint values ({skeleton.name}), got {got}"
        )
    try:
        person = np.asarray(values, dtype=np.float64).reshape(skeleton.num_joints, 3)
    except (TypeError, ValueError):
        raise KeypointFormatError(f"{path}: {where}: keypoints are not numbers") from None
    return _clean(path, person, where)


def clean_keypoints(kp: np.ndarray, where: str) -> np.ndarray:
    """Zero missing joints (confidence 0 or NaN); refuse NaN/inf coordinates of confident joints.

    Args:
        kp: (..., J, 3) x, y, confidence.
        where: What ``kp`` is, for the error message (e.g. ``"run.json: entry 3"``).

    Raises:
        KeypointFormatError: Naming ``where`` and the first offending joint.
    """
    kp = np.array(kp, dtype=np.float64)
    conf = kp[..., 2]
    conf[~np.isfinite(conf)] = 0.0
    bad = (conf > 0) & ~np.isfinite(kp[..., :2]).all(-1)
    if bad.any():
        index = np.argwhere(bad)[0]
        raise KeypointFormatError(
            f"{where}: {bad.sum()} keypoint(s) with NaN/inf coordinates and confidence "
            f"> 0 (first at index {tuple(int(i) for i in index)}); give them confidence 0"
        )
    kp[conf <= 0] = 0.0
    return kp


def _clean(path: Path, kp: np.ndarray, where: str) -> np.ndarray:
    return clean_keypoints(kp, f"{path}: {where}")


def _results_by_image(
    path: Path, data: Any, fmt: str
) -> tuple[tuple[str, ...], tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """COCO / AlphaPose results list grouped by image_id: (ids, people, scores), ids sorted."""
    skeleton = _RESULTS_SKELETONS[fmt]
    if not isinstance(data, list):
        raise KeypointFormatError(f"{path}: not a {fmt} results list (top level is not a list)")
    if not data:
        raise KeypointFormatError(f"{path}: empty results list, no frames")
    by_image: dict[str, list[tuple[float, np.ndarray]]] = {}
    for i, entry in enumerate(data):
        if not isinstance(entry, dict) or "image_id" not in entry or "keypoints" not in entry:
            raise KeypointFormatError(
                f"{path}: entry {i} is not a {fmt} result with image_id and keypoints"
            )
        person = _person_array(path, entry["keypoints"], skeleton, f"entry {i}")
        score = entry.get("score")
        score = float(person[:, 2].mean()) if score is None else float(score)
        by_image.setdefault(str(entry["image_id"]), []).append((score, person))
    ids = tuple(sorted(by_image, key=_natural_key))
    people = tuple(np.stack([p for _, p in by_image[k]]) for k in ids)
    scores = tuple(np.array([c for c, _ in by_image[k]]) for k in ids)
    return ids, people, scores


def _read_results(path: Path, data: Any, fmt: str) -> Keypoints2D:
    """COCO / AlphaPose results list: the best-scored person per image_id."""
    ids, people, scores = _results_by_image(path, data, fmt)
    keypoints = np.stack([p[np.argmax(c)] for p, c in zip(people, scores, strict=True)])
    return Keypoints2D.from_detections(
        keypoints, _RESULTS_SKELETONS[fmt], source=f"{fmt} json", frame_ids=ids
    )


def _openpose_people(
    path: Path,
) -> tuple[tuple[str, ...], tuple[np.ndarray, ...], tuple[np.ndarray, ...]]:
    """OpenPose BODY_25 per-frame files: (file names, people, mean confidences) per frame."""
    if path.is_dir():
        files = sorted(path.glob("*_keypoints.json")) or sorted(path.glob("*.json"))
        if not files:
            raise KeypointFormatError(f"{path}: no OpenPose *_keypoints.json files in the folder")
        files.sort(key=lambda f: _natural_key(f.name))
    else:
        files = [path]
    people, scores = [], []
    for file in files:
        data = _load_json(file)
        if not isinstance(data, dict) or not isinstance(data.get("people"), list):
            raise KeypointFormatError(f"{file}: not an OpenPose frame (no 'people' list)")
        frame = [
            _person_array(file, p.get("pose_keypoints_2d") if isinstance(p, dict) else p,
                          OPENPOSE_BODY_25, f"person {i} pose_keypoints_2d")
            for i, p in enumerate(data["people"])
        ]  # fmt: skip
        joints = OPENPOSE_BODY_25.num_joints
        people.append(np.stack(frame) if frame else np.zeros((0, joints, 3)))
        scores.append(people[-1][:, :, 2].mean(-1))
    return tuple(f.name for f in files), tuple(people), tuple(scores)


def _read_openpose(path: Path) -> Keypoints2D:
    """OpenPose BODY_25 per-frame files: the person with the highest mean confidence."""
    names, people, scores = _openpose_people(path)
    empty = np.zeros((OPENPOSE_BODY_25.num_joints, 3))
    keypoints = np.stack(
        [p[np.argmax(c)] if len(p) else empty for p, c in zip(people, scores, strict=True)]
    )
    return Keypoints2D.from_detections(
        keypoints,
        OPENPOSE_BODY_25,
        source="openpose " + ("folder" if path.is_dir() else "file"),
        frame_ids=names,
    )


def _read_blazepose_json(path: Path, data: Any) -> Keypoints2D:
    """Our BlazePose-33 JSON: frames of 33 × [x, y, visibility] (or [x, y]), null = no person."""
    meta = data if isinstance(data, dict) else {}
    frames = meta.get("frames") if isinstance(data, dict) else data
    if not isinstance(frames, list):
        raise KeypointFormatError(f"{path}: not a BlazePose file (no list of frames)")
    if not frames:
        raise KeypointFormatError(f"{path}: no frames")
    joints = BLAZEPOSE_33.num_joints
    keypoints = np.zeros((len(frames), joints, 3))
    for i, frame in enumerate(frames):
        if frame is None:
            continue
        try:
            values = np.asarray(frame, dtype=np.float64)
        except (TypeError, ValueError):
            raise KeypointFormatError(f"{path}: frame {i} is not a list of numbers") from None
        if values.shape not in ((joints, 3), (joints, 2)):
            raise KeypointFormatError(
                f"{path}: frame {i}: expected {joints} landmarks of [x, y(, visibility)], "
                f"got shape {values.shape}"
            )
        if values.shape[1] == 2:
            values = np.concatenate([values, np.ones((joints, 1))], axis=1)
        keypoints[i] = _clean(path, values, f"frame {i}")
    size = meta.get("image_size")
    if size is not None:
        _check_size_value(path, size)
        size = (size[0], size[1])
    units = meta.get("coordinates", "pixels")
    if units == "normalized":
        if size is None:
            raise KeypointFormatError(f"{path}: normalized coordinates need an image_size")
        keypoints[..., :2] *= size
    elif units != "pixels":
        raise KeypointFormatError(
            f"{path}: coordinates must be 'pixels' or 'normalized', got {units!r}"
        )
    fps = meta.get("fps")
    if fps is not None and not (isinstance(fps, (int, float)) and fps > 0):
        raise KeypointFormatError(f"{path}: fps must be a positive number, got {fps!r}")
    return Keypoints2D.from_detections(
        keypoints,
        BLAZEPOSE_33,
        source="blazepose json",
        image_size=size,
        fps=None if fps is None else float(fps),
    )


def _read_numpy(path: Path, skeleton: Skeleton | None) -> Keypoints2D:
    """A .npy array (F, J, 2|3), or a .npz with ``keypoints`` and optional metadata."""
    meta: dict[str, np.ndarray] = {}
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                meta = {k: archive[k] for k in archive.files}
            if "keypoints" not in meta and len(meta) != 1:
                raise KeypointFormatError(
                    f"{path}: no 'keypoints' array (arrays: {', '.join(meta) or 'none'})"
                )
            array = meta.pop("keypoints") if "keypoints" in meta else meta.popitem()[1]
        else:
            array = np.load(path, allow_pickle=False)
    except KeypointFormatError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, SyntaxError, TokenError) as err:
        # SyntaxError / TokenError: numpy parses a corrupt .npy header with ast.literal_eval.
        reason = " ".join(str(err).split())[:120]
        raise KeypointFormatError(f"{path}: cannot read the numpy file ({reason})") from None
    if array.ndim != 3 or array.shape[-1] not in (2, 3) or array.dtype.kind not in "fiu":
        raise KeypointFormatError(
            f"{path}: expected a numeric (frames, joints, 2 or 3) array, got {array.dtype} "
            f"{array.shape}"
        )
    if array.shape[0] == 0:
        raise KeypointFormatError(f"{path}: no frames")
    stored = resolve_skeleton(str(meta["skeleton"])) if "skeleton" in meta else None
    if skeleton is not None and stored is not None and skeleton != stored:
        raise KeypointFormatError(
            f"{path}: the file says skeleton {stored.name}, not the requested {skeleton.name}"
        )
    skeleton = skeleton or stored
    joints = array.shape[1]
    if skeleton is None:
        matches = [s.name for s in SKELETONS.values() if s.num_joints == joints]
        if len(matches) != 1:
            raise KeypointFormatError(
                f"{path}: {joints} joints "
                + (f"could be any of {', '.join(matches)}" if matches else "match no skeleton")
                + "; pass --skeleton (skeleton_name)"
            )
        skeleton = SKELETONS[matches[0]]
    if joints != skeleton.num_joints:
        raise KeypointFormatError(
            f"{path}: {joints} joints, but {skeleton.name} has {skeleton.num_joints}"
        )
    keypoints = array.astype(np.float64)
    if keypoints.shape[-1] == 2:
        if not np.isfinite(keypoints).all():
            raise KeypointFormatError(
                f"{path}: NaN/inf coordinates in an (F, J, 2) array; add a confidence channel "
                "with 0 for missing joints"
            )
        keypoints = np.concatenate([keypoints, np.ones((*keypoints.shape[:2], 1))], axis=-1)
    keypoints = _clean(path, keypoints, "array")
    valid = (keypoints[..., 2] > 0).any(-1)
    if "valid" in meta:
        if meta["valid"].shape != valid.shape:
            raise KeypointFormatError(f"{path}: 'valid' has shape {meta['valid'].shape}")
        valid &= meta["valid"].astype(bool)
    size: Any = tuple(meta["image_size"].tolist()) if "image_size" in meta else None
    if size is not None:
        _check_size_value(path, size)
    fps = float(meta["fps"]) if "fps" in meta and np.isfinite(meta["fps"]) else None
    if fps is not None and not fps > 0:
        raise KeypointFormatError(f"{path}: fps must be positive, got {fps}")
    return Keypoints2D(
        keypoints=keypoints,
        skeleton=skeleton,
        valid=valid,
        image_size=size,
        fps=fps,
        source=f"{'npz' if path.suffix.lower() == '.npz' else 'npy'} ({skeleton.name})",
    )
