"""ssrstf: SSR-STF, a dual-stream 2D-to-3D human pose lifter.

Conventions used throughout the package:

* Tensors are laid out ``(B, T, J, C)``: batch, frames, joints, channels.
* 2D inputs are screen-normalised (VideoPose3D: ``x / w * 2 - 1``, ``y / w * 2 - h / w``) with
  ``C = 3`` (x, y, confidence) or ``C = 2``. 3D outputs have ``C = 3``.
* The joint order is `ssrstf.skeleton.H36M_17` unless a config names another skeleton.
* Reported errors are in millimetres; variables holding them end in ``_mm``.

`lift` turns 2D keypoints, a keypoint file or a video into 3D poses with the packaged model;
`StreamingLifter` does it for a live stream, frame by frame; `lift_mesh` gives a body mesh per
frame (extra ``mesh``).
"""

from ssrstf.config import ExperimentConfig, ModelConfig, load_config
from ssrstf.lifting.lifter import Lifter
from ssrstf.lifting.streaming import StreamingLifter
from ssrstf.models import SSRSTF, build_model
from ssrstf.pipeline.api import lift, lift_mesh

__version__ = "0.1.0"

__all__ = [
    "SSRSTF",
    "ExperimentConfig",
    "Lifter",
    "ModelConfig",
    "StreamingLifter",
    "__version__",
    "build_model",
    "lift",
    "lift_mesh",
    "load_config",
]
