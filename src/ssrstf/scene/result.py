"""A lifted clip placed in its scene: `InferenceResult` and `place_in_scene`.

`place_in_scene` finds the root's camera-space trajectory (`ssrstf.scene.trajectory`), the
floor, foot contacts and the Y-up world frame (`ssrstf.scene.world`) of root-relative lifted
poses; `InferenceResult` holds the poses with all of that (and the smoothness and rigidity
figures, `ssrstf.scene.rigid`), as `ssrstf.pipeline.run.lift_keypoints` returns them and the
writers of `ssrstf.outputs` take them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssrstf.keypoints.keypoints2d import Keypoints2D
from ssrstf.scene.rigid import MotionStatistics
from ssrstf.scene.trajectory import DEFAULT_SMOOTHING, CameraIntrinsics, solve_root_translation
from ssrstf.scene.world import Floor, WorldFrame, ground


@dataclass(frozen=True)
class InferenceResult:
    """3D poses lifted from one input.

    Attributes:
        poses_3d: (F, 17, 3) mm, root-relative, camera axes (x right, y down, z forward),
            H36M-17 order.
        keypoints: The H36M-17 2D input after filling (pixels, confidence; filled joints have
            confidence 0), with ``valid`` (F,) = a person was detected in the frame.
        filled: (F, 17) bool, joints that were interpolated rather than detected.
        seconds: Wall time of each stage (``detect``, ``lift``).
        trajectory: (F, 3) camera-space position of the root (pelvis) in mm, so that
            ``poses_3d + trajectory[:, None]`` are the absolute camera-space poses; None when
            not computed.
        floor: The floor under the person and the per-frame foot contacts (`Floor`), or None.
        world: The Y-up world frame on that floor (`WorldFrame`: ``to_world``, ``matrix``), or
            None.
        intrinsics: The camera the trajectory assumes, or None.
        statistics: Smoothness and rigidity of ``poses_3d`` (`MotionStatistics`), or None.
        rigid: ``poses_3d`` have one set of bone lengths for the whole clip
            (`ssrstf.scene.rigid.make_rigid`).
    """

    poses_3d: np.ndarray
    keypoints: Keypoints2D
    filled: np.ndarray
    seconds: dict[str, float] = field(default_factory=dict)
    trajectory: np.ndarray | None = None
    floor: Floor | None = None
    world: WorldFrame | None = None
    intrinsics: CameraIntrinsics | None = None
    statistics: MotionStatistics | None = None
    rigid: bool = False

    @property
    def world_from_camera(self) -> np.ndarray | None:
        """(4, 4) rigid camera → world transform in mm (`WorldFrame.matrix`), or None."""
        return None if self.world is None else self.world.matrix

    @property
    def foot_contacts(self) -> np.ndarray | None:
        """(F, 2) bool, (right, left) ankle on the floor (`Floor.contacts`), or None."""
        return None if self.floor is None else self.floor.contacts

    def poses_world(self) -> np.ndarray | None:
        """(F, 17, 3) absolute poses in the world frame, mm (Y up, floor at 0), or None."""
        if self.world is None or self.trajectory is None:
            return None
        return self.world.to_world(self.poses_3d + self.trajectory[:, None])

    @property
    def valid(self) -> np.ndarray:
        """(F,) bool: frames in which a person was detected."""
        return self.keypoints.valid

    @property
    def num_frames(self) -> int:
        """Number of frames F."""
        return len(self.poses_3d)


def place_in_scene(
    poses_3d: np.ndarray,
    keypoints: Keypoints2D,
    intrinsics: CameraIntrinsics,
    *,
    smoothing: float = DEFAULT_SMOOTHING,
) -> tuple[np.ndarray, Floor, WorldFrame]:
    """The root trajectory, the floor (with foot contacts) and the world frame of a clip.

    Args:
        poses_3d: (F, 17, 3) root-relative lifted poses, mm, camera axes.
        keypoints: The H36M-17 2D keypoints they were lifted from (confidences weight the
            trajectory fit; filled joints have confidence 0).
        intrinsics: The camera.
        smoothing: The trajectory's smoothness weight (`solve_root_translation`).

    Returns:
        ``(trajectory (F, 3) mm, floor, world frame)``.
    """
    fps = keypoints.fps or 30.0
    trajectory = solve_root_translation(
        keypoints.keypoints, poses_3d, intrinsics, fps=fps, smoothing=smoothing
    )
    floor, world = ground(poses_3d + trajectory[:, None], fps, skeleton=keypoints.skeleton)
    return trajectory, floor, world
