"""The built-in demo input: a procedurally animated person, generated on the fly.

No recorded data is shipped. `make_sample` poses a hand-built H36M-17 skeleton (adult
proportions, bone lengths in mm below) with closed-form joint angles: walking on the spot
(hip, knee and arm swing at 1 step cycle per second, a small vertical bob), a slow turn of the
whole body (±40° yaw), and a wave of the left arm in the second half. The 3D joints are placed
4.5 m in front of a pinhole camera (focal length 1145 px, 1000 × 1000 image, Human3.6M-like)
and projected to pixels. A short occlusion of the left wrist (confidence 0, position zeroed) shows
how missing joints are filled and reported. The 3D truth comes along, so the demo can report
how far the lifted poses are from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssrstf.keypoints.keypoints2d import Keypoints2D
from ssrstf.skeleton import H36M_17

IMAGE_SIZE = (1000, 1000)
FOCAL_PX = 1145.0
DISTANCE_MM = 4500.0
FPS = 50.0

# Rest pose in camera axes (x right, y down, z away from the camera), person facing the camera,
# so their left side is at +x. Offset of each joint from its parent (H36M_17.parents), mm.
_REST_OFFSETS = np.array(
    [
        [0, 0, 0],  # pelvis
        [-130, 0, 0], [0, 440, 0], [0, 430, 0],  # right hip, knee, ankle
        [130, 0, 0], [0, 440, 0], [0, 430, 0],  # left hip, knee, ankle
        [0, -230, 0], [0, -250, 0],  # spine, thorax
        [0, -110, -30], [0, -120, 10],  # neck/nose, head
        [150, 10, 0], [0, 280, 0], [0, 250, 0],  # left shoulder, elbow, wrist
        [-150, 10, 0], [0, 280, 0], [0, 250, 0],  # right shoulder, elbow, wrist
    ],
    dtype=np.float64,
)  # fmt: skip


@dataclass(frozen=True)
class Sample:
    """The demo sequence: 2D keypoints (the input) and the 3D truth they were projected from.

    Attributes:
        keypoints: H36M-17 pixels with confidence, `Keypoints2D`.
        poses_3d: (F, 17, 3) camera-frame joints in mm (not root-relative).
        description: One line saying what the motion is.
    """

    keypoints: Keypoints2D
    poses_3d: np.ndarray
    description: str


def _rot_x(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    z, o = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(*angle.shape, 3, 3)


def _rot_y(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    z, o = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(*angle.shape, 3, 3)


def _rot_z(angle: np.ndarray) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    z, o = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(*angle.shape, 3, 3)


def _joint_rotations(t: np.ndarray) -> dict[int, np.ndarray]:
    """Rotation (F, 3, 3) of each animated bone relative to its parent bone."""
    phase = 2 * np.pi * 1.0 * t  # one step cycle per second
    deg = np.pi / 180
    swing = np.sin(phase)
    # The wave: the left arm rises sideways during t in [2, 4] s and the forearm waves.
    raise_left = np.clip((t - 2.0) / 0.5, 0, 1) * 140 * deg
    arm_swing_left = swing * 20 * deg * (1 - raise_left / (140 * deg))
    # Keyed by the joint a bone ends at: that bone and everything below it turn.
    return {
        # Thighs: flexion about x (negative = forward, towards the camera); shins bend back.
        2: _rot_x(-25 * deg * swing),
        3: _rot_x(35 * deg * np.maximum(0.0, swing)),
        5: _rot_x(25 * deg * swing),
        6: _rot_x(35 * deg * np.maximum(0.0, -swing)),
        # Arms swing opposite to the legs; the left one is raised and waves later.
        12: _rot_z(-raise_left) @ _rot_x(arm_swing_left),
        13: _rot_z(-np.sin(2 * np.pi * 2.0 * t) * 35 * deg * (raise_left > 0))
        @ _rot_x(-25 * deg * np.ones_like(t)),
        15: _rot_x(-20 * deg * swing),
        16: _rot_x(-(20 + 15 * np.maximum(0.0, swing)) * deg),
    }


def _forward_kinematics(t: np.ndarray) -> np.ndarray:
    """Root-relative joints (F, 17, 3) in mm from the rest offsets and joint rotations."""
    rotations = _joint_rotations(t)
    frames = len(t)
    world_rot = [np.broadcast_to(np.eye(3), (frames, 3, 3))] * H36M_17.num_joints
    joints = np.zeros((frames, H36M_17.num_joints, 3))
    for joint, parent in enumerate(H36M_17.parents):
        if parent < 0:
            continue
        # A bone turns with its own rotation composed with every rotation above it.
        parent_rot = world_rot[parent]
        own = rotations.get(joint, np.broadcast_to(np.eye(3), (frames, 3, 3)))
        world_rot[joint] = parent_rot @ own
        joints[:, joint] = joints[:, parent] + world_rot[joint] @ _REST_OFFSETS[joint]
    return joints


def make_sample(seconds: float = 4.0, fps: float = FPS) -> Sample:
    """Generate the demo sequence (deterministic).

    Args:
        seconds: Duration.
        fps: Frame rate.
    """
    t = np.arange(int(round(seconds * fps))) / fps
    local = _forward_kinematics(t)
    yaw = 40 * np.pi / 180 * np.sin(2 * np.pi * t / 6.0)
    bob = 15.0 * np.sin(4 * np.pi * t)
    root = np.stack([150 * np.sin(2 * np.pi * t / 8.0), bob, DISTANCE_MM + 0 * t], -1)
    poses = np.einsum("fij,fkj->fki", _rot_y(yaw), local) + root[:, None, :]
    width, height = IMAGE_SIZE
    uv = FOCAL_PX * poses[..., :2] / poses[..., 2:3] + np.array([width / 2, height / 2])
    keypoints = np.concatenate([uv, np.ones(uv.shape[:2] + (1,))], axis=-1)
    occluded = (t >= 1.4) & (t < 1.6)  # the left wrist goes missing for 0.2 s
    wrist = H36M_17.index("left_wrist")
    keypoints[occluded, wrist] = 0.0
    kp = Keypoints2D(
        keypoints=keypoints,
        skeleton=H36M_17,
        valid=np.ones(len(t), dtype=bool),
        image_size=IMAGE_SIZE,
        fps=fps,
        source="built-in sample (procedural: walking on the spot, turning, waving)",
    )
    description = (
        f"{len(t)} frames at {fps:g} fps ({seconds:g} s): a procedurally animated person walking "
        "on the spot, turning ±40°, waving the left arm from 2 s; the left wrist is hidden "
        "for 0.2 s"
    )
    return Sample(keypoints=kp, poses_3d=poses, description=description)
