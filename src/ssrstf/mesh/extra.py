"""The optional ``mesh`` extra (anny) and its one-line install hint."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

MESH_HINT = "mesh recovery needs the optional body model: pip install 'ssrstf[mesh]'"
"""The message of `MissingMeshError`."""


class MissingMeshError(ImportError):
    """anny (extra ``mesh``) is not installed; the message says how to install it."""


def require_mesh(module: str = "anny") -> ModuleType:
    """Import ``module`` (a package of the ``mesh`` extra) or raise `MissingMeshError`."""
    try:
        imported = importlib.import_module(module)
    except ImportError as err:
        raise MissingMeshError(MESH_HINT) from err
    quiet_warp()
    return imported


def quiet_warp() -> None:
    """Keep NVIDIA Warp (anny's kernels) from logging on standard output.

    Warp logs every module load at its INFO level to stdout ("Module ... took 5.63 ms
    (cached)"), which would mix into a command's own output (``ssrstf evaluate --json``); its
    warnings and errors still show. No-op before anny has imported warp.
    """
    warp = sys.modules.get("warp")
    config = getattr(warp, "config", None)
    if config is None:
        return
    if hasattr(config, "log_level"):  # warp >= 1.10
        config.log_level = max(config.log_level, getattr(warp, "LOG_WARNING", 30))
    if hasattr(config, "quiet"):  # older warp
        config.quiet = True


def has_mesh_extra() -> bool:
    """Whether anny can be imported (tests skip with a reason when it cannot)."""
    return importlib.util.find_spec("anny") is not None
