"""Upright and grounded: the floor from the feet, foot contacts, and a Y-up world frame.

Absolute camera-space poses (``poses_3d + trajectory``, `ssrstf.scene.trajectory`) lean with
the camera. `estimate_floor` finds the floor plane from the feet, `world_frame` turns the
camera's frame into a world frame standing on it, and `WorldFrame.to_world` maps points.

Floor. A *contact* is a frame where an ankle is **low** (at most `CONTACT_HEIGHT_MM` above the
floor's ankle level) and **slow** (speed under `CONTACT_SPEED_MM_S`, over ±`SPEED_WINDOW_S`). The
plane is fitted to the contact positions of both ankles by total least squares with a prior
towards the body's up direction ``u₀`` (from between the ankles to the thorax in the frames
where the person stands straight, else pelvis → thorax; `_body_up`): its normal is the
eigenvector of least eigenvalue of ``S + μ (I − u₀u₀ᵀ)``, where ``S`` is the contacts' scatter
matrix and ``μ = (PRIOR_MM)²``; contacts farther than `TRIM_MAD` robust deviations from the
plane are dropped and the plane refitted. Contacts spread over the floor (walking) fix the
plane by themselves; contacts in one or two spots (standing, squatting) leave rotations about
them free, and the prior fills in. Contacts and plane are re-estimated three times, starting
from the prior. The constants were chosen on Human3.6M training subjects (docs/design.md).
The floor lies `ANKLE_HEIGHT_MM` below the median ankle level of the contacts (the height of the
ankle joint over the sole, measured on Human3.6M training subjects).

World frame (a right-handed rotation of the camera's axes plus an origin, both in camera
coordinates, mm):

* **Y** is the floor normal, pointing up (away from the floor, towards the body);
* **Z** is the horizontal part of the camera's viewing direction (+z of the camera), negated, so
  a person facing the camera faces +Z, as in the BVH frame of `ssrstf.outputs.bvh`
  (a level camera gives exactly its ``CAMERA_TO_BVH`` axes);
* **X** = Y × Z (the camera's right, made horizontal);
* the **origin** is the root's position at frame 0 dropped onto the floor, so the floor is at
  height Y = 0 and the motion starts above the origin.

API (numpy, mm):

* ``estimate_floor(poses_cam (F, J, 3) absolute, fps) -> Floor`` (``normal`` (3,), ``height``
  (float: the plane is ``normal · p = height``), ``contacts`` (F, 2) bool for (right, left)
  ankle, ``foot_joints``).
* ``world_frame(floor, root_start (3,)) -> WorldFrame`` (``rotation`` (3, 3) camera → world, rows
  = the world's X, Y, Z axes in camera coordinates; ``origin`` (3,) in camera coordinates;
  ``to_world(points)``, ``to_camera(points)``, ``matrix`` (4, 4) camera → world).
* ``ground(poses_cam, fps) -> (Floor, WorldFrame)``: both, for a clip.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssrstf.skeleton import H36M_17, Skeleton

CONTACT_SPEED_MM_S = 300.0
"""An ankle slower than this (mm/s) can be in contact with the floor."""

SPEED_WINDOW_S = 0.1
"""Half the time span over which `point_speed` measures a speed (seconds)."""

CONTACT_HEIGHT_MM = 80.0
"""An ankle at most this far above the floor's ankle level (mm) can be in contact."""

ANKLE_HEIGHT_MM = 79.0
"""Height of the ankle joint over the floor when the foot is flat (mm), from Human3.6M's training
subjects (median over their ground-truth contact frames; docs/design.md)."""

PRIOR_MM = 150.0
"""Strength of the body-up prior of the floor fit (mm; see the module docstring)."""

TRIM_MAD = 2.5
"""Contacts farther from the fitted plane than this many robust standard deviations (1.4826 ×
the median absolute deviation) are left out of the next fit (a foot on tiptoe, a bad frame)."""

STANDING: tuple[tuple[float, float], ...] = ((150.0, 30.0), (140.0, 45.0))
"""Rules for "standing straight", tried in order: (knee straighter than this many degrees
between thigh and shin, thigh within this many degrees of the torso's direction). The looser
second rule catches lifted poses whose standing frames come out slightly bent."""

STANDING_MIN_FRAMES = 5
"""Frames of standing needed for the standing body axis to be the up prior."""

FOOT_JOINTS = ("right_ankle", "left_ankle")
"""The joints whose contacts define the floor, in the column order of ``Floor.contacts``."""


@dataclass(frozen=True)
class Floor:
    """A floor plane in camera coordinates and the foot contacts it was fitted to.

    Attributes:
        normal: (3,) unit normal pointing up (towards the body), camera axes.
        height: The plane is ``{p : normal · p = height}`` (mm).
        contacts: (F, 2) bool, ankle on the floor, columns in `FOOT_JOINTS` order.
        foot_joints: The names of the contact columns.
    """

    normal: np.ndarray
    height: float
    contacts: np.ndarray
    foot_joints: tuple[str, ...] = FOOT_JOINTS

    def heights(self, points: np.ndarray) -> np.ndarray:
        """(...,) signed height of camera-space points (..., 3) above the floor, mm."""
        return np.asarray(points, dtype=np.float64) @ self.normal - self.height


@dataclass(frozen=True)
class WorldFrame:
    """A rigid map from camera coordinates to a Y-up world frame (see the module docstring).

    Attributes:
        rotation: (3, 3) proper rotation, camera → world; its rows are the world's X, Y and Z
            axes in camera coordinates.
        origin: (3,) the world's origin in camera coordinates, mm.
    """

    rotation: np.ndarray
    origin: np.ndarray

    def to_world(self, points: np.ndarray) -> np.ndarray:
        """Camera-space points (..., 3) → world points (..., 3): ``R · (p − origin)``."""
        return (np.asarray(points, dtype=np.float64) - self.origin) @ self.rotation.T

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (..., 3) → camera-space points: ``Rᵀ · p + origin``."""
        return np.asarray(points, dtype=np.float64) @ self.rotation + self.origin

    def directions_to_world(self, vectors: np.ndarray) -> np.ndarray:
        """Camera-space directions or offsets (..., 3) → world (rotation only)."""
        return np.asarray(vectors, dtype=np.float64) @ self.rotation.T

    @property
    def matrix(self) -> np.ndarray:
        """(4, 4) homogeneous camera → world transform."""
        out = np.eye(4)
        out[:3, :3] = self.rotation
        out[:3, 3] = -self.rotation @ self.origin
        return out

    @property
    def up(self) -> np.ndarray:
        """(3,) the world's up axis (the floor normal) in camera coordinates."""
        return self.rotation[1]


def point_speed(points: np.ndarray, fps: float) -> np.ndarray:
    """(F, K) speed (mm/s) of points (F, K, 3): a central difference over ±`SPEED_WINDOW_S`
    (at least one frame; one-sided at the ends)."""
    frames = len(points)
    if frames < 2:
        return np.zeros(points.shape[:2])
    half = max(1, round(SPEED_WINDOW_S * fps))
    index = np.arange(frames)
    after, before = np.minimum(index + half, frames - 1), np.maximum(index - half, 0)
    step = np.linalg.norm(points[after] - points[before], axis=-1)
    return step * fps / (after - before)[:, None]


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(F,) angle in degrees between direction arrays (F, 3)."""
    a = a / np.maximum(np.linalg.norm(a, axis=-1, keepdims=True), 1e-9)
    b = b / np.maximum(np.linalg.norm(b, axis=-1, keepdims=True), 1e-9)
    return np.degrees(np.arccos(np.clip((a * b).sum(-1), -1.0, 1.0)))


def _standing(poses: np.ndarray, skeleton: Skeleton, knee_deg: float, hip_deg: float):
    """(F,) bool: both knees straighter than ``knee_deg`` and both thighs within ``hip_deg`` of
    the torso (pelvis → thorax)."""
    torso = poses[:, skeleton.index("thorax")] - poses[:, skeleton.root]
    out = np.ones(len(poses), dtype=bool)
    for side in ("right", "left"):
        hip, knee, ankle = (
            poses[:, skeleton.index(f"{side}_{p}")] for p in ("hip", "knee", "ankle")
        )
        out &= _angle(hip - knee, ankle - knee) > knee_deg
        out &= _angle(torso, hip - knee) < hip_deg
    return out


def _body_up(poses: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """(3,) the body's up direction: from between the ankles to the thorax, averaged over the
    frames where the person stands straight (`STANDING`: the first rule with at least
    `STANDING_MIN_FRAMES` frames); the mean pelvis → thorax direction when none qualifies
    (sitting, crouching)."""
    thorax = poses[:, skeleton.index("thorax")]
    axis = thorax - poses[:, skeleton.root]
    for knee_deg, hip_deg in STANDING:
        standing = _standing(poses, skeleton, knee_deg, hip_deg)
        if standing.sum() >= STANDING_MIN_FRAMES:
            feet = poses[:, [skeleton.index(name) for name in FOOT_JOINTS]].mean(1)
            axis = (thorax - feet)[standing]
            break
    axis = axis / np.maximum(np.linalg.norm(axis, axis=-1, keepdims=True), 1e-9)
    mean = axis.mean(0)
    norm = np.linalg.norm(mean)
    return mean / norm if norm > 1e-9 else np.array([0.0, -1.0, 0.0])


def _fit_normal(points: np.ndarray, prior: np.ndarray, rounds: int = 3) -> np.ndarray:
    """Unit normal of the plane through ``points`` (N, 3), pulled towards ``prior``; points
    beyond `TRIM_MAD` robust deviations from the plane are dropped and the plane refitted."""
    penalty = PRIOR_MM**2 * (np.eye(3) - np.outer(prior, prior))
    keep = np.ones(len(points), dtype=bool)
    normal = prior
    for _ in range(rounds):
        inliers = points[keep]
        centred = inliers - inliers.mean(0)
        _, vectors = np.linalg.eigh(centred.T @ centred / len(inliers) + penalty)
        normal = vectors[:, 0] if vectors[:, 0] @ prior >= 0 else -vectors[:, 0]
        distance = (points - inliers.mean(0)) @ normal
        spread = 1.4826 * np.median(np.abs(distance[keep])) + 1e-6
        trimmed = np.abs(distance) <= TRIM_MAD * spread
        if trimmed.sum() < 3 or (trimmed == keep).all():
            break
        keep = trimmed
    return normal


def detect_contacts(
    ankles: np.ndarray, normal: np.ndarray, ankle_level: float, fps: float
) -> np.ndarray:
    """(F, K) bool: ankles (F, K, 3) low (`CONTACT_HEIGHT_MM` of ``ankle_level`` along
    ``normal``) and slow (`CONTACT_SPEED_MM_S`)."""
    low = ankles @ normal - ankle_level <= CONTACT_HEIGHT_MM
    return low & (point_speed(ankles, fps) < CONTACT_SPEED_MM_S)


def estimate_floor(
    poses: np.ndarray,
    fps: float | None = None,
    *,
    skeleton: Skeleton = H36M_17,
    iterations: int = 3,
) -> Floor:
    """The floor under a clip of absolute camera-space poses, and the foot contacts.

    Args:
        poses: (F, J, 3) mm, camera axes, absolute (``poses_3d + trajectory[:, None]``).
        fps: Frame rate (None: 30), for the ankle speeds.
        skeleton: Joint order; needs ``thorax`` and the `FOOT_JOINTS`.
        iterations: Rounds of contacts → plane.

    Raises:
        ValueError: For a malformed or non-finite ``poses``.
    """
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (skeleton.num_joints, 3) or len(poses) == 0:
        raise ValueError(f"poses must be (F, {skeleton.num_joints}, 3), got {poses.shape}")
    if not np.isfinite(poses).all():
        raise ValueError("poses contain NaN or inf")
    rate = 30.0 if fps is None else float(fps)
    if not rate > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    ankles = poses[:, [skeleton.index(name) for name in FOOT_JOINTS]]
    prior = _body_up(poses, skeleton)
    normal = prior
    level = float(np.percentile(ankles @ normal, 5))
    contacts = np.zeros(ankles.shape[:2], dtype=bool)
    for _ in range(iterations):
        contacts = detect_contacts(ankles, normal, level, rate)
        if contacts.sum() < 3:  # no usable contact: the lowest ankles stand on the floor
            contacts = ankles @ normal - level <= CONTACT_HEIGHT_MM
        points = ankles[contacts]
        normal = _fit_normal(points, prior)
        level = float(np.median(points @ normal))
    contacts = detect_contacts(ankles, normal, level, rate)
    return Floor(normal=normal, height=level - ANKLE_HEIGHT_MM, contacts=contacts)


def world_frame(floor: Floor, root_start: np.ndarray) -> WorldFrame:
    """The Y-up world frame on ``floor`` with its origin under ``root_start`` (camera, mm)."""
    up = floor.normal / np.linalg.norm(floor.normal)
    forward = np.array([0.0, 0.0, 1.0]) - up[2] * up  # camera's viewing direction, horizontal
    if np.linalg.norm(forward) < 1e-6:  # camera looking straight down or up
        forward = np.array([0.0, 1.0, 0.0]) - up[1] * up
    z_axis = -forward / np.linalg.norm(forward)
    x_axis = np.cross(up, z_axis)
    rotation = np.stack([x_axis, up, z_axis])
    root_start = np.asarray(root_start, dtype=np.float64)
    origin = root_start - floor.heights(root_start) * up
    return WorldFrame(rotation=rotation, origin=origin)


def ground(
    poses: np.ndarray, fps: float | None = None, *, skeleton: Skeleton = H36M_17
) -> tuple[Floor, WorldFrame]:
    """`estimate_floor` and the `world_frame` under the root's first position."""
    floor = estimate_floor(poses, fps, skeleton=skeleton)
    return floor, world_frame(floor, np.asarray(poses)[0, skeleton.root])
