"""The optional ``mesh`` extra (anny) and its one-line install hint."""

from __future__ import annotations

import importlib
from types import ModuleType

MESH_HINT = "mesh recovery needs the optional body model: pip install 'ssrstf[mesh]'"
"""The message of `MissingMeshError`."""


class MissingMeshError(ImportError):
    """anny (extra ``mesh``) is not installed; the message says how to install it."""


def require_mesh(module: str = "anny") -> ModuleType:
    """Import ``module`` (a package of the ``mesh`` extra) or raise `MissingMeshError`."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingMeshError(MESH_HINT) from err


def has_mesh_extra() -> bool:
    """Whether anny can be imported (tests skip with a reason when it cannot)."""
    return importlib.util.find_spec("anny") is not None
