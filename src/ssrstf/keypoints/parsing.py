"""The checks every keypoint-file reader shares: JSON loading, flat keypoint lists, image sizes.

Each raises `KeypointFormatError` with one line naming the file and the problem.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ssrstf.keypoints.keypoints2d import KeypointFormatError, clean_keypoints
from ssrstf.skeleton import Skeleton


def load_json(path: Path) -> Any:
    if path.is_file() and path.stat().st_size == 0:
        raise KeypointFormatError(f"{path}: empty file")
    try:  # utf-8-sig: also files that start with a byte-order mark (Windows tools)
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as err:
        raise KeypointFormatError(f"{path}: cannot read the file ({err})") from None
    except json.JSONDecodeError as err:
        raise KeypointFormatError(f"{path}: invalid JSON ({err})") from None
    except RecursionError:
        raise KeypointFormatError(f"{path}: invalid JSON (nested too deeply)") from None


def natural_key(text: str) -> tuple[Any, ...]:
    """Sort key ordering embedded numbers numerically: ``"f2"`` < ``"f10"``."""
    return tuple(int(t) if t.isdecimal() else t for t in re.split(r"(\d+)", text))


def check_size_value(path: Path, size: Any) -> None:
    """A stored image size: two finite positive numbers (width, height)."""
    numbers = (
        isinstance(size, (list, tuple, np.ndarray))
        and len(size) == 2
        and all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in size)
    )
    if not numbers:
        raise KeypointFormatError(f"{path}: image size must be [width, height], got {size!r}")
    if not (size[0] > 0 and size[1] > 0):
        raise KeypointFormatError(f"{path}: image size must be positive, got {size[0]}x{size[1]}")
    if not all(np.isfinite(v) and v < 1e6 for v in size):
        raise KeypointFormatError(
            f"{path}: image size must be finite and below a million pixels, got {size[0]}x{size[1]}"
        )


def check_score(path: Path, score: Any, where: str) -> float:
    """A detection score: a finite number."""
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not np.isfinite(score):
        raise KeypointFormatError(f"{path}: {where}: score must be a finite number, got {score!r}")
    return float(score)


def person_array(path: Path, values: Any, skeleton: Skeleton, where: str) -> np.ndarray:
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
    return clean(path, person, where)


def clean(path: Path, kp: np.ndarray, where: str) -> np.ndarray:
    return clean_keypoints(kp, f"{path}: {where}")
