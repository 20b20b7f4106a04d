"""Numpy keypoint files (``npy``): a ``.npy`` array (F, J, 2|3) or a ``.npz`` with ``keypoints``.

The ``.npz`` may also hold ``skeleton``, ``valid``, ``image_size`` and ``fps``
(`write_keypoints` writes all of them); the skeleton comes from ``skeleton_name``, the
``.npz``, or the joint count when only one skeleton has it.
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from tokenize import TokenError
from typing import Any

import numpy as np

from ssrstf.files import atomic_write
from ssrstf.keypoints.keypoints2d import KeypointFormatError, Keypoints2D, resolve_skeleton
from ssrstf.keypoints.parsing import check_size_value, clean
from ssrstf.skeleton import SKELETONS, Skeleton


def read_numpy(path: Path, skeleton: Skeleton | None) -> Keypoints2D:
    """A .npy array (F, J, 2|3), or a .npz with ``keypoints`` and optional metadata."""
    meta: dict[str, np.ndarray] = {}
    try:
        if path.suffix.lower() == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                meta = {k: archive[k] for k in archive.files}
            if "keypoints" not in meta and len(meta) != 1:
                raise KeypointFormatError(
                    f"{path}: no 'keypoints' array (arrays: {', '.join(meta) or 'none'})"
                )
            array = meta.pop("keypoints") if "keypoints" in meta else meta.popitem()[1]
        else:
            array = np.load(path, allow_pickle=False)
    except KeypointFormatError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, SyntaxError, TokenError) as err:
        # SyntaxError / TokenError: numpy parses a corrupt .npy header with ast.literal_eval.
        reason = " ".join(str(err).split())[:120]
        raise KeypointFormatError(f"{path}: cannot read the numpy file ({reason})") from None
    if array.ndim != 3 or array.shape[-1] not in (2, 3) or array.dtype.kind not in "fiu":
        raise KeypointFormatError(
            f"{path}: expected a numeric (frames, joints, 2 or 3) array, got {array.dtype} "
            f"{array.shape}"
        )
    if array.shape[0] == 0:
        raise KeypointFormatError(f"{path}: no frames")
    try:
        stored = resolve_skeleton(str(meta["skeleton"])) if "skeleton" in meta else None
    except ValueError as err:
        raise KeypointFormatError(f"{path}: {err}") from None
    if skeleton is not None and stored is not None and skeleton != stored:
        raise KeypointFormatError(
            f"{path}: the file says skeleton {stored.name}, not the requested {skeleton.name}"
        )
    skeleton = skeleton or stored
    joints = array.shape[1]
    if skeleton is None:
        matches = [s.name for s in SKELETONS.values() if s.num_joints == joints]
        if len(matches) != 1:
            raise KeypointFormatError(
                f"{path}: {joints} joints "
                + (f"could be any of {', '.join(matches)}" if matches else "match no skeleton")
                + "; pass --skeleton (skeleton_name)"
            )
        skeleton = SKELETONS[matches[0]]
    if joints != skeleton.num_joints:
        raise KeypointFormatError(
            f"{path}: {joints} joints, but {skeleton.name} has {skeleton.num_joints}"
        )
    keypoints = array.astype(np.float64)
    if keypoints.shape[-1] == 2:
        if not np.isfinite(keypoints).all():
            raise KeypointFormatError(
                f"{path}: NaN/inf coordinates in an (F, J, 2) array; add a confidence channel "
                "with 0 for missing joints"
            )
        keypoints = np.concatenate([keypoints, np.ones((*keypoints.shape[:2], 1))], axis=-1)
    keypoints = clean(path, keypoints, "array")
    valid = (keypoints[..., 2] > 0).any(-1)
    if "valid" in meta:
        if meta["valid"].shape != valid.shape:
            raise KeypointFormatError(f"{path}: 'valid' has shape {meta['valid'].shape}")
        valid &= meta["valid"].astype(bool)
    size: Any = None
    if "image_size" in meta:
        size = tuple(np.atleast_1d(meta["image_size"]).tolist())
        check_size_value(path, size)
    fps = None
    if "fps" in meta:
        value = meta["fps"]
        if value.shape != () or not np.issubdtype(value.dtype, np.number):
            raise KeypointFormatError(f"{path}: fps must be one number, got {value.tolist()!r}")
        fps = float(value) if np.isfinite(value) else None  # NaN: not recorded
        if fps is not None and not fps > 0:
            raise KeypointFormatError(f"{path}: fps must be positive, got {fps}")
    return Keypoints2D(
        keypoints=keypoints,
        skeleton=skeleton,
        valid=valid,
        image_size=size,
        fps=fps,
        source=f"{'npz' if path.suffix.lower() == '.npz' else 'npy'} ({skeleton.name})",
    )


def write_keypoints(path: str | Path, kp: Keypoints2D, *, overwrite: bool = False) -> Path:
    """Save 2D keypoints as an ``.npz`` that ``read_keypoints(path)`` reads back unchanged.

    Keys: ``keypoints`` (F, J, 3) pixels + confidence, ``skeleton`` (its name), ``valid`` (F,),
    and ``image_size`` (2,) / ``fps`` when known.
    """
    arrays = {
        "keypoints": kp.keypoints,
        "skeleton": np.array(kp.skeleton.name),
        "valid": kp.valid,
    }
    if kp.image_size is not None:
        arrays["image_size"] = np.array(kp.image_size, dtype=np.int64)
    if kp.fps is not None:
        arrays["fps"] = np.float64(kp.fps)

    def write(temp: Path) -> None:
        with temp.open("wb") as handle:
            np.savez(handle, **arrays)

    return atomic_write(path, write, overwrite=overwrite)
