"""MPI-INF-3DHP into the project format (`Streams` with ``joint_layout = "mpi_inf_3dhp17"``).

Two sources, one result (``ssrstf data prepare-3dhp``):

* P-STMO's preprocessed ``data_train_3dhp.npz`` / ``data_test_3dhp.npz`` (also used by
  MotionAGFormer, STCFormer, PoseFormerV2, KTPFormer). Their ``data`` entry is a dict inside a
  pickled numpy object array, so reading them needs an explicit ``allow_pickle=True``; even then
  only numpy arrays, dicts, lists and scalars are unpickled (`read_npz_object`).
* The official release: ``S*/Seq*/annot.mat`` (training; 28 joints per camera) and
  ``mpi_inf_3dhp_test_set/TS*/annot_data.mat`` (test; 17 joints and ``valid_frame``), each as
  MATLAB v5 (scipy) or v7.3 / HDF5 (h5py).

Per stream: ``poses_3d`` = ``univ_annot3`` (camera frame, mm, the "universal" skeleton rescaled to
the Human3.6M body height), 2D source ``gt`` = ``annot2`` (pixels, confidence 1), ``valid``
(``valid_frame`` for the test set, all True for training), the camera resolution and the frame
rate. Training streams are (subject ``S1``, action ``Seq1``, camera ``"0"``) for the eight
"vnect" cameras; test streams are (subject ``TS1``, action ``"test"``, camera ``"test"``).
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ssrstf.data.h36m import Streams
from ssrstf.data.prepare import read_npz_object
from ssrstf.skeleton import (
    MPI_INF_3DHP_17,
    MPI_INF_3DHP_28_JOINT_NAMES,
    MPI_INF_3DHP_28_TO_17,
    MPI_INF_3DHP_TEST_SCENES,
)

logger = logging.getLogger(__name__)

NUM_JOINTS_28 = len(MPI_INF_3DHP_28_JOINT_NAMES)
"""Joints per frame in the training annotations (`ssrstf.skeleton.MPI_INF_3DHP_28_JOINT_NAMES`)."""

TEST_SEQUENCES: tuple[str, ...] = tuple(
    s for seqs in MPI_INF_3DHP_TEST_SCENES.values() for s in seqs
)
"""The six test sequences TS1..TS6."""

# fmt: off
TRAIN_SEQUENCE_INFO: dict[tuple[str, str], tuple[int, float]] = {
    ("S1", "Seq1"): (6416, 25.0), ("S1", "Seq2"): (12430, 50.0),
    ("S2", "Seq1"): (6502, 25.0), ("S2", "Seq2"): (6081, 25.0),
    ("S3", "Seq1"): (12488, 50.0), ("S3", "Seq2"): (12283, 50.0),
    ("S4", "Seq1"): (6171, 25.0), ("S4", "Seq2"): (6675, 25.0),
    ("S5", "Seq1"): (12820, 50.0), ("S5", "Seq2"): (12312, 50.0),
    ("S6", "Seq1"): (6188, 25.0), ("S6", "Seq2"): (6145, 25.0),
    ("S7", "Seq1"): (6239, 25.0), ("S7", "Seq2"): (6320, 25.0),
    ("S8", "Seq1"): (6468, 25.0), ("S8", "Seq2"): (6054, 25.0),
}
"""(subject, sequence) → (video frames, fps) of the training set (``mpii_get_sequence_info.m``).
The annotations can be longer than the videos; they are cut to the video length, as P-STMO and
mmpose do."""

TRAIN_CAMERAS: tuple[str, ...] = ("0", "1", "2", "4", "5", "6", "7", "8")
"""The "vnect" camera subset (``mpii_get_camera_set.m``) used by every lifting code base."""

TRAIN_RESOLUTION: tuple[int, int] = (2048, 2048)
"""(width, height) of every training camera."""

TEST_RESOLUTIONS: dict[str, tuple[int, int]] = {
    "TS1": (2048, 2048), "TS2": (2048, 2048), "TS3": (2048, 2048), "TS4": (2048, 2048),
    "TS5": (1920, 1080), "TS6": (1920, 1080),
}
"""(width, height) of the test videos: studio 2048×2048, outdoor (TS5, TS6) 1920×1080."""

TEST_FPS: dict[str, float] = {
    "TS1": 25.0, "TS2": 25.0, "TS3": 25.0, "TS4": 25.0, "TS5": 50.0, "TS6": 50.0,
}
"""Frame rate of the test sequences: studio 25 fps, outdoor 50 fps. The annotation files do not
store it and no primary source was at hand to check it: informational only, nothing in training
or evaluation depends on it."""
# fmt: on

PSTMO_TRAIN_FILE = "data_train_3dhp.npz"
PSTMO_TEST_FILE = "data_test_3dhp.npz"
TRAIN_ANNOTATION = "annot.mat"
TEST_ANNOTATION = "annot_data.mat"
TEST_STREAM = "test"
"""Action and camera name of the test streams (one video per test sequence)."""

_SEQUENCE_KEY = re.compile(r"^(S\d+)[ /_](Seq\d+)$")


def _streams(
    entries: list[tuple[str, str, str, np.ndarray, np.ndarray, np.ndarray, tuple[int, int], float]],
    provenance: str,
) -> Streams:
    """Streams from (subject, action, camera, 2D px (F,17,2), 3D mm (F,17,3), valid, size, fps)."""
    lengths = np.array([len(e[3]) for e in entries], dtype=np.int64)
    poses_2d = np.concatenate([e[3] for e in entries]).astype(np.float32)
    poses_3d = np.concatenate([e[4] for e in entries]).astype(np.float32)
    valid = np.concatenate([e[5] for e in entries]).astype(bool)
    confidence = np.ones((*poses_2d.shape[:2], 1), np.float32)
    bad = ~(np.isfinite(poses_2d).all(axis=(1, 2)) & np.isfinite(poses_3d).all(axis=(1, 2)))
    if (bad & valid).any():
        raise ValueError(f"{provenance}: {int((bad & valid).sum())} valid frames have NaN or inf")
    if bad.any():
        # Invalid test frames are never scored, but a NaN in a model input clip would spread to
        # the clip's other frames; zero them (confidence 0) so they are harmless context.
        logger.info("%d invalid frames with NaN/inf annotations set to 0", int(bad.sum()))
        poses_2d[bad], poses_3d[bad], confidence[bad] = 0.0, 0.0, 0.0
    return Streams(
        subject=np.array([e[0] for e in entries]),
        action=np.array([e[1] for e in entries]),
        camera=np.array([e[2] for e in entries]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        image_size=np.array([e[6] for e in entries], dtype=np.int32).reshape(-1, 2),
        fps=np.array([e[7] for e in entries], dtype=np.float32),
        poses_2d={"gt": np.concatenate([poses_2d, confidence], axis=-1)},
        has_2d={"gt": np.ones(len(entries), bool)},
        poses_3d=poses_3d,
        valid=valid,
        provenance=provenance,
        joint_layout=MPI_INF_3DHP_17.name,
    )


def _check_shape(array: Any, shape: tuple[int | None, ...], where: str) -> np.ndarray:
    """``array`` as float64 with the given shape (None = any size), else a ValueError."""
    arr = np.asarray(array)
    ok = arr.ndim == len(shape) and all(
        s is None or s == n for s, n in zip(shape, arr.shape, strict=False)
    )
    if not ok or not np.issubdtype(arr.dtype, np.number):
        want = "(" + ", ".join("F" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{where}: expected a numeric {want} array, got {arr.dtype} {arr.shape}")
    return arr.astype(np.float64)


def _train_info(subject: str, sequence: str, where: str) -> tuple[int, float]:
    if (subject, sequence) not in TRAIN_SEQUENCE_INFO:
        raise ValueError(f"{where}: unknown training sequence {subject}/{sequence} (S1-S8, Seq1-2)")
    return TRAIN_SEQUENCE_INFO[(subject, sequence)]


# ---------------------------------------------------------------------------------------------
# P-STMO npz files.


def _has_object_arrays(path: Path) -> bool:
    """Whether an ``.npz`` holds object (pickled) arrays, read from the headers only."""
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            with archive.open(name) as handle:
                version = np.lib.format.read_magic(handle)
                read = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                if read(handle)[2].hasobject:
                    return True
    return False


def _read_pstmo(path: Path, allow_pickle: bool) -> Mapping[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    try:
        pickled = _has_object_arrays(path)
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None
    if pickled and not allow_pickle:
        raise ValueError(
            f"{path.name} stores pickled object arrays; pass --allow-pickle (allow_pickle=True) "
            "to read it (only numpy arrays, dicts and lists are unpickled)"
        )
    data = read_npz_object(path, "data")
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: 'data' must be a dict keyed by sequence, got {type(data)}")
    return data


def _pstmo_train(path: Path, allow_pickle: bool) -> list:
    entries = []
    for key, value in sorted(_read_pstmo(path, allow_pickle).items()):
        match = _SEQUENCE_KEY.match(str(key))
        if match is None or not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError(f"{path}: entry {key!r} is not 'S<i> Seq<j>' → [cameras, fps]")
        subject, sequence = match[1], match[2]
        cameras, fps = value
        _train_info(subject, sequence, str(path))
        for camera in sorted(cameras, key=lambda c: int(c)):
            where = f"{path}[{key!r}][{camera!r}]"
            anim = cameras[camera]
            if "data_2d" not in anim or "data_3d" not in anim:
                raise ValueError(f"{where}: needs keys 'data_2d' and 'data_3d'")
            kp2 = _check_shape(anim["data_2d"], (None, MPI_INF_3DHP_17.num_joints, 2), where)
            kp3 = _check_shape(anim["data_3d"], (None, MPI_INF_3DHP_17.num_joints, 3), where)
            if len(kp2) != len(kp3):
                raise ValueError(f"{where}: data_2d has {len(kp2)} frames, data_3d {len(kp3)}")
            valid = np.ones(len(kp3), bool)
            entries.append(
                (subject, sequence, str(camera), kp2, kp3, valid, TRAIN_RESOLUTION, float(fps))
            )
    return entries


def _pstmo_test(path: Path, allow_pickle: bool) -> list:
    entries = []
    for name, anim in sorted(_read_pstmo(path, allow_pickle).items()):
        where = f"{path}[{name!r}]"
        if name not in TEST_SEQUENCES:
            raise ValueError(
                f"{where}: unknown test sequence (expected {', '.join(TEST_SEQUENCES)})"
            )
        missing = [k for k in ("data_2d", "data_3d", "valid") if k not in anim]
        if missing:
            raise ValueError(f"{where}: missing keys {missing}")
        kp2 = _check_shape(anim["data_2d"], (None, MPI_INF_3DHP_17.num_joints, 2), where)
        kp3 = _check_shape(anim["data_3d"], (None, MPI_INF_3DHP_17.num_joints, 3), where)
        valid = np.asarray(anim["valid"]).reshape(-1)
        if not len(kp2) == len(kp3) == len(valid):
            raise ValueError(f"{where}: data_2d, data_3d and valid differ in frame count")
        entries.append(
            (name, TEST_STREAM, TEST_STREAM, kp2, kp3, valid != 0, TEST_RESOLUTIONS[name],
             TEST_FPS[name])
        )  # fmt: skip
    return entries


# ---------------------------------------------------------------------------------------------
# Official release (.mat files).


def _mat_is_hdf5(path: Path) -> bool:
    """Whether a MATLAB file is v7.3 (HDF5) rather than v5; ValueError for other files."""
    with open(path, "rb") as handle:
        header = handle.read(1024)
    if header.startswith(b"\x89HDF") or header[512:516] == b"\x89HDF":
        return True
    if header.startswith(b"MATLAB 5.0"):
        return False
    raise ValueError(f"{path}: not a MATLAB v5 or v7.3 .mat file")


def _load_mat(path: Path, keys: Iterable[str]) -> dict[str, Any]:
    """The variables ``keys`` of a .mat file; v7.3 cell arrays become lists of arrays.

    Arrays keep MATLAB's dimension order: h5py returns them reversed, so they are transposed
    back here and both versions give the same shapes.
    """
    keys = list(keys)
    if _mat_is_hdf5(path):
        try:
            import h5py
        except ImportError:
            raise ValueError(
                f"{path} is a MATLAB v7.3 file; reading it needs h5py (pip install h5py)"
            ) from None
        out = {}
        with h5py.File(path, "r") as mat:
            for key in keys:
                if key not in mat:
                    raise ValueError(f"{path}: missing variable {key!r}")
                value = mat[key]
                if value.dtype == h5py.ref_dtype:  # a cell array: one dataset per cell
                    out[key] = [np.asarray(mat[ref]).T for ref in np.asarray(value).T.reshape(-1)]
                else:
                    out[key] = np.asarray(value).T
        return out
    try:
        from scipy.io import loadmat
    except ImportError:
        raise ValueError(
            f"{path} is a MATLAB file; reading it needs scipy (pip install scipy)"
        ) from None
    mat = loadmat(path, variable_names=keys)
    missing = [k for k in keys if k not in mat]
    if missing:
        raise ValueError(f"{path}: missing variables {missing}")
    out = {}
    for key in keys:
        value = mat[key]
        out[key] = list(value.reshape(-1, order="F")) if value.dtype == object else value
    return out


def _official_train(path: Path) -> list:
    subject, sequence = path.parent.parent.name, path.parent.name
    frames, fps = _train_info(subject, sequence, str(path))
    mat = _load_mat(path, ("annot2", "univ_annot3", "cameras"))
    cameras = [int(c) for c in np.asarray(mat["cameras"]).reshape(-1)]
    entries = []
    for camera in TRAIN_CAMERAS:
        where = f"{path} camera {camera}"
        if not isinstance(mat["annot2"], list) or not isinstance(mat["univ_annot3"], list):
            raise ValueError(f"{path}: annot2 and univ_annot3 must be cell arrays (one per camera)")
        if int(camera) not in cameras:
            raise ValueError(f"{path}: no camera {camera} in 'cameras' {cameras}")
        cell = cameras.index(int(camera))
        if cell >= min(len(mat["annot2"]), len(mat["univ_annot3"])):
            raise ValueError(f"{where}: annot2/univ_annot3 have fewer cells than 'cameras'")
        kp2 = _check_shape(mat["annot2"][cell], (None, 2 * NUM_JOINTS_28), where)
        kp3 = _check_shape(mat["univ_annot3"][cell], (None, 3 * NUM_JOINTS_28), where)
        if len(kp2) != len(kp3):
            raise ValueError(f"{where}: annot2 has {len(kp2)} frames, univ_annot3 {len(kp3)}")
        # Row-major (F, 28 × C): joint-major, coordinates inner (P-STMO, mmpose reshape so).
        joints = list(MPI_INF_3DHP_28_TO_17)
        kp2 = kp2[:frames].reshape(-1, NUM_JOINTS_28, 2)[:, joints]
        kp3 = kp3[:frames].reshape(-1, NUM_JOINTS_28, 3)[:, joints]
        valid = np.ones(len(kp3), bool)
        entries.append((subject, sequence, camera, kp2, kp3, valid, TRAIN_RESOLUTION, fps))
    return entries


def _official_test(path: Path) -> list:
    name = path.parent.name
    if name not in TEST_SEQUENCES:
        raise ValueError(
            f"{path}: folder {name!r} is not a test sequence ({', '.join(TEST_SEQUENCES)})"
        )
    mat = _load_mat(path, ("annot2", "univ_annot3", "valid_frame"))
    num_joints = MPI_INF_3DHP_17.num_joints
    # MATLAB shapes: annot2 2×17×1×F, univ_annot3 3×17×1×F, valid_frame 1×F (or F×1).
    kp2 = _check_shape(mat["annot2"], (2, num_joints, 1, None), f"{path} annot2")
    kp3 = _check_shape(mat["univ_annot3"], (3, num_joints, 1, None), f"{path} univ_annot3")
    valid = np.asarray(mat["valid_frame"]).reshape(-1)
    kp2, kp3 = kp2[:, :, 0].transpose(2, 1, 0), kp3[:, :, 0].transpose(2, 1, 0)
    if not len(kp2) == len(kp3) == len(valid):
        raise ValueError(f"{path}: annot2, univ_annot3 and valid_frame differ in frame count")
    return [
        (
            name,
            TEST_STREAM,
            TEST_STREAM,
            kp2,
            kp3,
            valid != 0,
            TEST_RESOLUTIONS[name],
            TEST_FPS[name],
        )
    ]


# ---------------------------------------------------------------------------------------------
# Entry point.


def prepare_mpi_inf_3dhp(source: str | Path, *, allow_pickle: bool = False) -> Streams:
    """Prepare MPI-INF-3DHP from P-STMO's npz files or the official release.

    Args:
        source: One of ``data_train_3dhp.npz`` / ``data_test_3dhp.npz``, a folder holding either
            or both, or the official release folder (``S*/Seq*/annot.mat`` and/or
            ``mpi_inf_3dhp_test_set/TS*/annot_data.mat``; ``TS*/annot_data.mat`` directly under
            ``source`` is accepted too).
        allow_pickle: Needed for P-STMO's files (pickled object arrays).

    Returns:
        Training streams (sorted by subject, sequence, camera) then test streams (TS1..TS6).

    Raises:
        FileNotFoundError: If ``source`` does not exist.
        ValueError: If nothing recognisable is found, or a file is malformed (the message
            names the file).
    """
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"MPI-INF-3DHP source not found: {source}")
    if source.is_file():  # a single P-STMO file; "test" in its name marks the test split
        npz = {PSTMO_TEST_FILE if "test" in source.name else PSTMO_TRAIN_FILE: source}
    else:
        npz = {n: source / n for n in (PSTMO_TRAIN_FILE, PSTMO_TEST_FILE) if (source / n).is_file()}
    entries: list = []
    if npz:
        if PSTMO_TRAIN_FILE in npz:
            entries += _pstmo_train(npz[PSTMO_TRAIN_FILE], allow_pickle)
        if PSTMO_TEST_FILE in npz:
            entries += _pstmo_test(npz[PSTMO_TEST_FILE], allow_pickle)
        files = ", ".join(p.name for p in npz.values())
        provenance = f"prepare-3dhp from P-STMO {files}"
    else:
        train = sorted(source.glob(f"S*/Seq*/{TRAIN_ANNOTATION}"), key=_train_order)
        test = sorted(
            [*source.glob(f"mpi_inf_3dhp_test_set/TS*/{TEST_ANNOTATION}"),
             *source.glob(f"TS*/{TEST_ANNOTATION}")],
            key=lambda p: p.parent.name,
        )  # fmt: skip
        for path in train:
            entries += _official_train(path)
        for path in test:
            entries += _official_test(path)
        provenance = f"prepare-3dhp from the official release in {source.name}/"
    if not entries:
        raise ValueError(
            f"{source}: found neither {PSTMO_TRAIN_FILE}/{PSTMO_TEST_FILE} nor "
            f"S*/Seq*/{TRAIN_ANNOTATION} / mpi_inf_3dhp_test_set/TS*/{TEST_ANNOTATION}"
        )
    return _streams(entries, provenance)


def _train_order(path: Path) -> tuple[int, int]:
    numbers = re.findall(r"\d+", f"{path.parent.parent.name} {path.parent.name}")
    return (int(numbers[0]), int(numbers[1])) if len(numbers) == 2 else (0, 0)
