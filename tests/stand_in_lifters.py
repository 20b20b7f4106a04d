"""A stand-in for `ssrstf.lifting.lifter.Lifter` in the pipeline tests: it returns given poses
instead of running a model, so a test knows exactly what the scene and output stages receive."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np


class TruthLifter:
    """Stands in for `Lifter`: returns given root-relative poses (e.g. a sample's truth), with
    bones that change length from frame to frame by up to ``stretch`` (as a lifter's do)."""

    def __init__(self, poses: np.ndarray, stretch: float = 0.0) -> None:
        self.poses = poses.copy()
        if stretch:
            rng = np.random.default_rng(0)
            self.poses = self.poses * rng.uniform(1 - stretch, 1 + stretch, (len(poses), 1, 1))

    frame_stride = 1  # a Human3.6M model's, on consecutive frames (`auto_frame_stride`)
    cfg = SimpleNamespace(data=SimpleNamespace(dataset="h36m", frame_stride=1))

    def lift(
        self, keypoints: np.ndarray, image_size, *, progress: bool = False, frame_stride: int = 1
    ) -> np.ndarray:
        assert frame_stride == 1, "the stand-in returns every frame's pose"
        assert keypoints.shape == self.poses.shape and image_size == (1000, 1000)
        return self.poses
