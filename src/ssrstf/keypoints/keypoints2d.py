"""The container of 2D keypoints every reader returns (`Keypoints2D`), every person of every frame
(`Detections`), and the checks they share.

Conventions: pixels, one person per frame (the best-scored one when a frame has several),
missing joints stored as ``(0, 0, confidence 0)``, every coordinate finite. A frame is
**valid** when the file lists a person in it with at least one keypoint of confidence > 0.
The readers of each format (`ssrstf.keypoints.readers`) build these; nothing is filled in by
them (see `ssrstf.keypoints.prepare.fill_missing`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssrstf.geometry import check_fps
from ssrstf.skeleton import (
    BLAZEPOSE_33,
    COCO_17,
    H36M_17,
    HALPE_26,
    OPENPOSE_BODY_25,
    SKELETONS,
    Skeleton,
)

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
        object.__setattr__(self, "fps", check_fps(self.fps, optional=True))
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
