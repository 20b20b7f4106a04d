"""Converters from the three public Human3.6M sources into the project format (`Streams`).

* `prepare_h36m`: the raw layout of ``../shared/data/h36m`` (world 3D in metres, cameras,
  Stacked-Hourglass 2D; Martinez et al.'s release converted to numpy).
* `convert_videopose3d`: VideoPose3D's ``data_3d_h36m.npz`` (world, metres, 32 joints) plus any
  ``data_2d_h36m_<source>.npz`` files, with cameras from an ``h36m_cameras.json`` (VideoPose3D
  hard-codes its cameras in code, so they are not in its files).
* `convert_motionbert`: MotionBERT's ``h36m_sh_conf_cam_source_final.pkl``. Unpickling can run
  arbitrary code, so this needs an explicit ``allow_pickle=True``.

Every path computes the same things per (subject, action, camera) stream where the source
allows: camera-frame 3D in mm, ground-truth 2D by projecting with the full camera model (radial
and tangential distortion), the 2.5D image-space pose with its scale λ
(`ssrstf.geometry.image_space_poses`), and the 2D detections mapped to H36M-17.
"""

from __future__ import annotations

import logging
import pickle
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ssrstf.data.h36m import Streams, concatenate_streams
from ssrstf.files import check_input_file, open_npz, read_json
from ssrstf.geometry import (
    H36M_CAMERA_IDS,
    H36M_CAMERA_RESOLUTIONS,
    Camera,
    image_space_poses,
    project_camera,
)
from ssrstf.skeleton import (
    H36M_17,
    H36M_32_TO_17,
    MAPPINGS_TO_H36M,
    SH_MISSING_JOINTS,
    SH_TO_H36M,
    JointMapping,
    convert_keypoints,
)

logger = logging.getLogger(__name__)

RAW_POSES_3D = "h36m_3d_17j_world_50fps.npz"
"""Raw layout: key ``"S9/Walking 1"`` → (F, 17, 3) float32 world coordinates in metres."""
RAW_KEYPOINTS_SH = "h36m_2d_stackedhourglass_16j.npz"
"""Raw layout: key ``"S9/Walking 1/54138969"`` → (F, 16, 2) int16 pixels, SH order."""
RAW_CAMERAS = "h36m_cameras.json"
"""Raw layout: key ``"S9/54138969"`` → camera (see `load_h36m_cameras`)."""

H36M_FPS = 50.0
"""Frame rate of the Human3.6M motion capture and videos."""

H36M_WORLD_UP = np.array([0.0, 0.0, 1.0])
"""Human3.6M's world frame has z up (floor at z = 0); stored per stream in camera axes (``up``)."""

VIDEOPOSE3D_SOURCE_NAMES = {
    "cpn_ft_h36m_dbb": "cpn",
    "sh_ft_h36m": "sh",
    "sh_pt_mpii": "sh_pt",
    "detectron_ft_h36m": "detectron",
    "detectron_pt_coco": "detectron_coco",
}
"""Short 2D-source names for VideoPose3D's ``data_2d_h36m_<tag>.npz`` files (other tags are used
as they are)."""

_MOTIONBERT_SOURCE = re.compile(r"^s_(\d+)_act_(\d+)_subact_(\d+)_ca_(\d+)$")


def load_h36m_cameras(path: str | Path) -> dict[str, Camera]:
    """Read an ``h36m_cameras.json``: key ``"S9/54138969"`` → camera.

    Each entry holds ``R_world_to_cam`` (3×3, ``X_cam = R · (X_world − C)``),
    ``cam_center_world_m`` (C, metres), ``f`` and ``c`` (pixels), ``k`` (3 radial), ``p``
    (2 tangential, Martinez order) and ``res_w``/``res_h``. The returned cameras have their centre
    in **millimetres**, the unit of every pose we compute.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If an entry lacks a field.
    """
    path = Path(path)
    entries = read_json(path, "camera file")
    if not isinstance(entries, dict) or not all(isinstance(e, dict) for e in entries.values()):
        raise ValueError(f"{path}: expected an object of cameras keyed 'S9/54138969'")
    cameras = {}
    for key, entry in entries.items():
        try:
            cameras[key] = Camera(
                rotation=np.asarray(entry["R_world_to_cam"], dtype=np.float64).reshape(3, 3),
                center=np.asarray(entry["cam_center_world_m"], dtype=np.float64) * 1000.0,
                focal=np.asarray(entry["f"], dtype=np.float64).reshape(2),
                principal_point=np.asarray(entry["c"], dtype=np.float64).reshape(2),
                radial=np.asarray(entry["k"], dtype=np.float64).reshape(3),
                tangential=np.asarray(entry["p"], dtype=np.float64).reshape(2),
                width=int(entry["res_w"]),
                height=int(entry["res_h"]),
            )
        except KeyError as exc:
            raise ValueError(f"{path}: camera {key!r} lacks field {exc.args[0]!r}") from None
        except (TypeError, ValueError):
            raise ValueError(f"{path}: camera {key!r} has a field of the wrong shape") from None
        if not all(np.isfinite(v).all() for v in vars(cameras[key]).values()):
            raise ValueError(f"{path}: camera {key!r} has NaN or inf values")
    return cameras


def _world_poses(poses: Any, where: str) -> np.ndarray:
    """(F, 17, 3) finite world poses (metres), or one line naming ``where`` and the problem."""
    try:
        poses = np.asarray(poses, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: expected a numeric (frames, joints, 3) array") from None
    if poses.ndim == 3 and poses.shape[1] == 32:
        poses = poses[:, list(H36M_32_TO_17)]
    if poses.ndim != 3 or poses.shape[1:] != (H36M_17.num_joints, 3) or len(poses) == 0:
        raise ValueError(
            f"{where}: expected (frames, 17 or 32 joints, 3) 3D poses, got shape {poses.shape}"
        )
    if not np.isfinite(poses).all():
        raise ValueError(f"{where}: 3D poses contain NaN or inf")
    return poses


def keypoints_to_h36m(keypoints: np.ndarray, mapping: JointMapping) -> np.ndarray:
    """2D keypoints of any supported layout → H36M-17 with a confidence channel.

    Args:
        keypoints: (F, J_source, 2) pixels or (F, J_source, 3) with confidence (1 when absent).
        mapping: The layout conversion (e.g. `ssrstf.skeleton.SH_TO_H36M`).

    Returns:
        (F, 17, 3) float32 (x px, y px, confidence). For Stacked Hourglass the missing joints
        (`ssrstf.skeleton.SH_MISSING_JOINTS`) keep their stand-in position with confidence 0.
    """
    kp = np.asarray(keypoints, dtype=np.float64)
    if kp.shape[-1] == 2:
        kp = np.concatenate([kp, np.ones_like(kp[..., :1])], axis=-1)
    out = convert_keypoints(kp, mapping, has_confidence=True)
    if mapping is SH_TO_H36M:
        out[..., list(SH_MISSING_JOINTS), 2] = 0.0
    return out.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Shared core: world-frame sequences + cameras → streams.


def _streams_from_world(
    sequences: Mapping[tuple[str, str], np.ndarray],
    cameras: Mapping[str, Camera],
    sources: Mapping[str, Callable[[str, str, str], np.ndarray | None]],
    *,
    provenance: str,
    progress: bool,
) -> Streams:
    """Build streams from world-frame poses (metres) and cameras.

    Args:
        sequences: (subject, action) → (F, 17, 3) world poses in metres.
        cameras: ``"S9/54138969"`` → camera (centre in mm).
        sources: 2D source name → function (subject, action, camera id) returning that stream's
            (F', 17, 3) H36M keypoints (F' ≥ F; longer detections are trimmed to the motion
            capture, as in VideoPose3D), or None when the stream lacks the source.
        provenance: Stored in the file.
        progress: Show a tqdm progress bar.
    """
    entries = [
        (subject, action, camera_id)
        for subject, action in sorted(sequences)
        for camera_id in H36M_CAMERA_IDS
        if f"{subject}/{camera_id}" in cameras
    ]
    missing = sorted({s for s, _ in sequences} - {k.split("/")[0] for k in cameras})
    if missing:
        raise ValueError(f"no cameras for subjects {missing}")
    lengths = np.array([len(sequences[(s, a)]) for s, a, _ in entries], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    num_frames, num_joints = int(offsets[-1]), H36M_17.num_joints
    poses_3d = np.zeros((num_frames, num_joints, 3), np.float32)
    poses_3d_image = np.zeros((num_frames, num_joints, 3), np.float32)
    scale_2_5d = np.zeros(num_frames, np.float32)
    poses_2d = {name: np.zeros((num_frames, num_joints, 3), np.float32) for name in sources}
    poses_2d["gt"] = np.zeros((num_frames, num_joints, 3), np.float32)
    has_2d = {name: np.zeros(len(entries), bool) for name in poses_2d}
    has_2d["gt"][:] = True
    for i, (subject, action, camera_id) in enumerate(
        tqdm(entries, desc="streams", unit="stream", disable=not progress)
    ):
        camera = cameras[f"{subject}/{camera_id}"]
        frames = slice(int(offsets[i]), int(offsets[i + 1]))
        points_cam, pixels = project_camera(sequences[(subject, action)] * 1000.0, camera)
        image_3d, scale = image_space_poses(points_cam, pixels, camera.focal, H36M_17.root)
        poses_3d[frames] = points_cam
        poses_3d_image[frames] = image_3d
        scale_2_5d[frames] = scale
        poses_2d["gt"][frames, :, :2] = pixels
        poses_2d["gt"][frames, :, 2] = 1.0
        for name, read in sources.items():
            keypoints = read(subject, action, camera_id)
            if keypoints is None:
                continue
            if len(keypoints) < lengths[i]:
                raise ValueError(
                    f"2D source {name!r}: {subject}/{action}/{camera_id} has {len(keypoints)} "
                    f"frames, fewer than the {lengths[i]} of the 3D poses"
                )
            poses_2d[name][frames] = keypoints[: lengths[i]]
            has_2d[name][i] = True
    return Streams(
        subject=np.array([e[0] for e in entries]),
        action=np.array([e[1] for e in entries]),
        camera=np.array([e[2] for e in entries]),
        offsets=offsets,
        image_size=np.array(
            [(cameras[f"{s}/{c}"].width, cameras[f"{s}/{c}"].height) for s, _, c in entries],
            dtype=np.int32,
        ).reshape(-1, 2),
        fps=np.full(len(entries), H36M_FPS, np.float32),
        intrinsics=np.array([cameras[f"{s}/{c}"].intrinsics for s, _, c in entries]).reshape(-1, 9),
        up=np.array([cameras[f"{s}/{c}"].rotation @ H36M_WORLD_UP for s, _, c in entries]).reshape(
            -1, 3
        ),
        poses_2d=poses_2d,
        has_2d=has_2d,
        poses_3d=poses_3d,
        poses_3d_image=poses_3d_image,
        scale_2_5d=scale_2_5d,
        provenance=provenance,
    )


def _wanted(subject: str, subjects: Iterable[str] | None) -> bool:
    return subjects is None or subject in subjects


# ---------------------------------------------------------------------------------------------
# 1. Raw layout (../shared/data/h36m).


def prepare_h36m(
    source: str | Path,
    *,
    subjects: Iterable[str] | None = None,
    sequences: Iterable[str] | None = None,
    progress: bool = True,
) -> Streams:
    """Prepare the raw Human3.6M layout (``RAW_POSES_3D``, ``RAW_KEYPOINTS_SH``, ``RAW_CAMERAS``).

    Streams are every (sequence, camera) pair with 3D poses; the ``"sh"`` source is the
    Stacked-Hourglass detections mapped with `ssrstf.skeleton.SH_TO_H36M` (neck stand-in with
    confidence 0, every other joint confidence 1 since SH reports none). A stream without
    detections (S11 "Directions" camera 54138969 in the original release) has
    ``has_2d["sh"] = False``.

    Args:
        source: The folder holding the three files.
        subjects: Only these subjects (all when None).
        sequences: Only these ``"subject/action"`` sequences (all when None).
        progress: Show a progress bar.

    Raises:
        FileNotFoundError: If a file is missing.
    """
    subjects = None if subjects is None else set(subjects)
    sequences = None if sequences is None else set(sequences)

    def wanted(key: str) -> bool:
        sequence = "/".join(key.split("/")[:2])
        return _wanted(key.split("/")[0], subjects) and (sequences is None or sequence in sequences)

    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"Human3.6M source folder not found: {source}")
    if not source.is_dir():
        raise ValueError(f"{source}: not a folder (expected the raw H36M layout folder)")
    for name in (RAW_POSES_3D, RAW_KEYPOINTS_SH, RAW_CAMERAS):
        if not (source / name).is_file():
            raise FileNotFoundError(f"{source / name} not found (expected the raw H36M layout)")
    cameras = load_h36m_cameras(source / RAW_CAMERAS)
    with open_npz(source / RAW_POSES_3D, "3D pose archive") as data:
        world = {
            tuple(key.split("/", 1)): _world_poses(data[key], f"{source / RAW_POSES_3D}[{key!r}]")
            for key in data.files
            if wanted(key)
        }
    with open_npz(source / RAW_KEYPOINTS_SH, "2D keypoint archive") as data:
        detections = {k: data[k] for k in data.files if wanted(k)}
    for key, keypoints in detections.items():
        if keypoints.shape[1:] != (16, 2) or not np.issubdtype(keypoints.dtype, np.number):
            raise ValueError(
                f"{source / RAW_KEYPOINTS_SH}[{key!r}]: expected (frames, 16, 2) "
                f"Stacked-Hourglass pixels, got {keypoints.dtype} {keypoints.shape}"
            )

    def read_sh(subject: str, action: str, camera_id: str) -> np.ndarray | None:
        key = f"{subject}/{action}/{camera_id}"
        return keypoints_to_h36m(detections[key], SH_TO_H36M) if key in detections else None

    return _streams_from_world(
        world,
        cameras,
        {"sh": read_sh},
        provenance=f"prepare-h36m from {source.name}/ ({RAW_POSES_3D}, {RAW_KEYPOINTS_SH})",
        progress=progress,
    )


# ---------------------------------------------------------------------------------------------
# 2. VideoPose3D npz files.


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, dicts, lists and scalars only; refuses every other class.

    VideoPose3D's npz files hold dicts inside object arrays, which numpy can only read through
    pickle. Restricting the classes a pickle may construct makes reading them safe.
    """

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("collections", "OrderedDict"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}: not a numpy array")


def read_npz_object(path: str | Path, key: str) -> Any:
    """Read one entry of an ``.npz`` that may be a pickled object array, without running code.

    Object arrays (VideoPose3D stores dicts this way) are unpickled by `_NumpyOnlyUnpickler`;
    0-d object arrays are returned as their item.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If ``key`` is absent or the pickle holds anything but numpy data.
    """
    path = check_input_file(path, ".npz file")
    try:
        return _read_npz_member(path, key)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValueError(f"{path}: not a readable .npz file ({exc})") from None


def _read_npz_member(path: Path, key: str) -> Any:
    with zipfile.ZipFile(path) as archive:
        member = f"{key}.npy"
        if member not in archive.namelist():
            names = [n.removesuffix(".npy") for n in archive.namelist()]
            raise ValueError(f"{path} has no key {key!r} (keys: {', '.join(names)})")
        with archive.open(member) as handle:
            version = np.lib.format.read_magic(handle)
            header = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = header(handle)
            if not dtype.hasobject:
                return np.load(path, allow_pickle=False)[key]
            try:
                value = _NumpyOnlyUnpickler(handle, encoding="latin1").load()
            except pickle.UnpicklingError as exc:
                raise ValueError(f"{path}[{key!r}]: {exc}") from None
    if isinstance(value, np.ndarray) and value.shape == () and shape == ():
        return value.item()
    return value


def source_name_from_path(path: str | Path) -> str:
    """2D source name of a VideoPose3D file: ``data_2d_h36m_cpn_ft_h36m_dbb.npz`` → ``"cpn"``."""
    stem = Path(path).name.removesuffix(".npz")
    tag = stem.removeprefix("data_2d_h36m_") if stem.startswith("data_2d_h36m_") else stem
    return VIDEOPOSE3D_SOURCE_NAMES.get(tag, re.sub(r"[^a-z0-9_]", "_", tag.lower()))


def _videopose3d_mapping(metadata: Mapping[str, Any] | None, num_joints: int) -> JointMapping:
    """Joint layout of a VideoPose3D 2D file from its metadata (or its joint count)."""
    layout = str((metadata or {}).get("layout_name", "")).lower()
    if num_joints == 16:
        return SH_TO_H36M
    if num_joints == 17 and layout in ("", "h36m"):
        return MAPPINGS_TO_H36M[H36M_17.name]
    if num_joints == 17 and layout == "coco":
        return MAPPINGS_TO_H36M["coco17"]
    raise ValueError(f"unsupported 2D layout {layout!r} with {num_joints} joints")


def convert_videopose3d(
    positions_3d: str | Path,
    keypoints_2d: Mapping[str, str | Path],
    cameras: str | Path,
    *,
    subjects: Iterable[str] | None = None,
    progress: bool = True,
) -> Streams:
    """Convert VideoPose3D's preprocessed files.

    Args:
        positions_3d: ``data_3d_h36m.npz``: ``positions_3d[subject][action]`` = (F, 32, 3)
            world coordinates in metres (17-joint arrays are accepted as already selected).
        keypoints_2d: Source name → ``data_2d_h36m_<tag>.npz``:
            ``positions_2d[subject][action]`` = list of 4 (F', J, 2) pixel arrays in the camera
            order `ssrstf.geometry.H36M_CAMERA_IDS` (None for a missing camera), and
            ``metadata`` (``num_joints``; ``layout_name`` for generic files). 16 joints are the
            Stacked-Hourglass order, 17 the H36M order (or COCO when ``layout_name`` is
            ``"coco"``). Subjects without 3D (S2, S3, S4 in some files) are ignored.
        cameras: ``h36m_cameras.json`` (see `load_h36m_cameras` and docs/data-format.md).
        subjects: Only these subjects (all when None).
        progress: Show a progress bar.

    Raises:
        ValueError: If a source is named ``gt`` (the ground-truth 2D is computed from the 3D
            poses and cameras) or a file has an unexpected layout.
    """
    if "gt" in keypoints_2d:
        raise ValueError(
            "the 'gt' 2D source is computed from the 3D poses and cameras; drop "
            "data_2d_h36m_gt.npz or give it another name (e.g. gt_vp3d=PATH)"
        )
    subjects = None if subjects is None else set(subjects)
    data_3d = read_npz_object(positions_3d, "positions_3d")
    sequences = {}
    if not isinstance(data_3d, Mapping):
        raise ValueError(f"{positions_3d}: positions_3d must be a dict subject -> action -> poses")
    for subject, actions in data_3d.items():
        for action, positions in actions.items():
            if _wanted(subject, subjects):
                where = f"{positions_3d}[{subject!r}][{action!r}]"
                sequences[(str(subject), str(action))] = _world_poses(positions, where)
    readers = {name: _videopose3d_reader(path) for name, path in keypoints_2d.items()}
    files = ", ".join(Path(p).name for p in keypoints_2d.values())
    return _streams_from_world(
        sequences,
        load_h36m_cameras(cameras),
        readers,
        provenance=f"convert-videopose3d from {Path(positions_3d).name} + [{files}]",
        progress=progress,
    )


def _videopose3d_reader(path: str | Path) -> Callable[[str, str, str], np.ndarray | None]:
    positions = read_npz_object(path, "positions_2d")
    try:
        metadata = read_npz_object(path, "metadata")
    except ValueError:
        metadata = None

    def read(subject: str, action: str, camera_id: str) -> np.ndarray | None:
        per_camera = positions.get(subject, {}).get(action)
        if per_camera is None:
            return None
        keypoints = per_camera[H36M_CAMERA_IDS.index(camera_id)]
        if keypoints is None:
            return None
        keypoints = np.asarray(keypoints)
        return keypoints_to_h36m(keypoints, _videopose3d_mapping(metadata, keypoints.shape[1]))

    return read


# ---------------------------------------------------------------------------------------------
# 3. MotionBERT pickle.


def convert_motionbert(path: str | Path, *, allow_pickle: bool = False) -> Streams:
    """Convert MotionBERT's ``h36m_sh_conf_cam_source_final.pkl`` (both splits).

    Frames are grouped into streams by their ``source`` id (``s_09_act_05_subact_02_ca_01``).
    Stored per stream: subject ``S9``, action ``"<action> <subaction>"`` (e.g. ``"Greeting 2"``;
    this numbering differs from the Martinez-style names of `prepare_h36m`), camera id,
    ``sequence_id`` (the source id without ``_ca_XX``), ``action_label`` (the stored ``action``
    label, which MotionBERT's ``evaluate`` groups by), 2D source ``"sh"`` (``joint_2d`` +
    ``confidence``), ``gt`` (x, y of ``joint3d_image``), ``poses_3d_image`` (``joint3d_image``),
    ``scale_2_5d`` (``2.5d_factor``) and ``poses_2_5d`` (``joints_2.5d_image``). The pickle has
    no camera-frame 3D, so ``poses_3d`` is absent (only the MotionBERT protocol applies).

    Args:
        path: The pickle.
        allow_pickle: Must be True: unpickling runs code from the file; only convert files you
            trust.

    Raises:
        ValueError: Without ``allow_pickle``, or when the pickle does not have the layout.
    """
    path = Path(path)
    if not allow_pickle:
        raise ValueError(
            f"{path.name} is a Python pickle; loading it can run arbitrary code. Pass "
            "--allow-pickle (allow_pickle=True) if you trust the file."
        )
    check_input_file(path, "pickle")
    try:
        with open(path, "rb") as handle:
            data = pickle.load(handle)  # noqa: S301 - explicit opt-in above
    except Exception as exc:  # unpickling a foreign file can raise almost anything
        raise ValueError(f"{path}: not a readable pickle ({type(exc).__name__})") from None
    if not isinstance(data, Mapping) or not {"train", "test"} & set(data):
        raise ValueError(f"{path.name}: expected a dict with 'train' and 'test' splits")
    try:
        parts = [_motionbert_split(data[s], s) for s in ("train", "test") if s in data]
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise ValueError(f"{path.name}: {exc}") from None
    return concatenate_streams(parts, provenance=f"convert-motionbert from {path.name}")


def _motionbert_split(split: Mapping[str, Any], name: str) -> Streams:
    required = ("joint_2d", "joint3d_image", "2.5d_factor", "camera_name", "action", "source")
    absent = [k for k in required if k not in split]
    if absent:
        raise ValueError(f"MotionBERT split {name!r} lacks keys {absent}")
    sources = np.asarray([str(s) for s in split["source"]])
    starts = np.flatnonzero(np.r_[True, sources[1:] != sources[:-1]])
    offsets = np.r_[starts, len(sources)].astype(np.int64)
    if len(set(sources[starts])) != len(starts):
        raise ValueError(f"MotionBERT split {name!r}: the frames of a video are not contiguous")
    actions = np.asarray([str(a) for a in split["action"]])
    cameras = np.asarray([str(c) for c in split["camera_name"]])
    for values, key in ((actions, "action"), (cameras, "camera_name")):
        if (
            len(values) != len(sources)
            or (values != np.repeat(values[starts], np.diff(offsets))).any()
        ):
            raise ValueError(
                f"MotionBERT split {name!r}: {key!r} must have one value per frame, "
                "constant within each video (source)"
            )
    subject, action, camera, sequence = [], [], [], []
    for start in starts:
        match = _MOTIONBERT_SOURCE.match(sources[start])
        if match is None:
            raise ValueError(f"unexpected MotionBERT source id {sources[start]!r}")
        subject.append(f"S{int(match[1])}")
        action.append(f"{actions[start]} {int(match[3])}")
        camera.append(cameras[start])
        sequence.append(sources[start][: -len("_ca_00")])
    unknown = sorted(set(camera) - set(H36M_CAMERA_RESOLUTIONS))
    if unknown:
        raise ValueError(f"unknown camera names {unknown}")
    joint_2d = np.asarray(split["joint_2d"], dtype=np.float32)[..., :2]
    if "confidence" in split:
        confidence = np.asarray(split["confidence"], dtype=np.float32).reshape(joint_2d.shape[:2])
    else:
        confidence = np.ones(joint_2d.shape[:2], np.float32)
    image_3d = np.asarray(split["joint3d_image"], dtype=np.float32)
    gt_2d = np.concatenate([image_3d[..., :2], np.ones_like(image_3d[..., :1])], axis=-1)
    factor = np.asarray(split["2.5d_factor"], dtype=np.float32).reshape(-1)
    poses_2_5d = split.get("joints_2.5d_image")
    num_streams = len(starts)
    return Streams(
        subject=np.array(subject),
        action=np.array(action),
        camera=np.array(camera),
        sequence_id=np.array(sequence),
        action_label=actions[starts],
        offsets=offsets,
        image_size=np.array([H36M_CAMERA_RESOLUTIONS[c] for c in camera], np.int32),
        fps=np.full(num_streams, H36M_FPS, np.float32),
        poses_2d={"sh": np.concatenate([joint_2d, confidence[..., None]], -1), "gt": gt_2d},
        has_2d={"sh": np.ones(num_streams, bool), "gt": np.ones(num_streams, bool)},
        poses_3d_image=image_3d,
        scale_2_5d=factor,
        poses_2_5d=None if poses_2_5d is None else np.asarray(poses_2_5d, np.float32),
    )
