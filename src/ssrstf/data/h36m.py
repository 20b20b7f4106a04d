"""The project's prepared-dataset format: one ``.npz`` of per-stream pose arrays.

A *stream* is one (subject, action, camera) video (for MPI-INF-3DHP: one training sequence
seen by one camera, or one test sequence; ``ssrstf.data.mpi_inf_3dhp``). Frames of all streams
are concatenated along one axis; ``stream_offsets`` says where each stream starts. The schema
(format version 1) is documented in ``docs/data-format.md``; `Streams` is its typed, in-memory
form, `save_streams` and `load_streams` the only readers and writers. Every
``prepare``/``convert`` path writes it.

Keys (N frames, S streams, J = 17 joints in the ``joint_layout`` order, `ssrstf.skeleton.H36M_17`
unless stated otherwise):

====================== ============ ========= ==================================================
key                    shape        dtype     content
====================== ============ ========= ==================================================
format_version         ()           int64     1
joint_layout           ()           str       ``"h36m17"`` or ``"mpi_inf_3dhp17"``
provenance             ()           str       how the file was made (converter and sources)
stream_subject         (S,)         str       ``"S9"``
stream_action          (S,)         str       ``"Walking 1"``
stream_camera          (S,)         str       ``"54138969"``
stream_sequence_id     (S,)         str       Human3.6M id ``"s_09_act_05_subact_02"`` or ``""``
stream_action_label    (S,)         str       optional: the source's own action label or ``""``
stream_offsets         (S + 1,)     int64     stream i is frames ``[offsets[i], offsets[i+1])``
stream_image_size      (S, 2)       int32     (width, height) in pixels
stream_fps             (S,)         float32   frames per second
stream_intrinsics      (S, 9)       float64   optional: fx, fy, cx, cy, k1, k2, k3, p1, p2 (px)
stream_up              (S, 3)       float64   optional: the world's up direction in camera axes
poses_3d               (N, J, 3)    float32   optional: camera-frame 3D, mm, absolute
poses_3d_image         (N, J, 3)    float32   optional: 2.5D image space, px (u, v, depth)
scale_2_5d             (N,)         float32   with poses_3d_image: λ, mm per pixel
poses_2_5d             (N, J, 3)    float32   optional: 2.5D ground truth in mm
poses_2d_<source>      (N, J, 3)    float32   2D keypoints: x px, y px, confidence
has_2d_<source>        (S,)         bool      whether the stream has that source at all
valid                  (N,)         bool      optional: frame is scored (MPI-INF-3DHP)
====================== ============ ========= ==================================================
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ssrstf.files import atomic_write, open_npz
from ssrstf.skeleton import SKELETONS

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Version of the on-disk schema written by `save_streams`."""

JOINT_LAYOUT = "h36m17"
"""Default joint layout of the pose arrays (`ssrstf.skeleton.H36M_17`); a file may declare
another `ssrstf.skeleton.SKELETONS` name in its ``joint_layout`` key."""

FRAME_ARRAYS = ("poses_3d", "poses_3d_image", "scale_2_5d", "poses_2_5d")
"""Optional per-frame arrays besides the 2D sources."""

_SOURCE_NAME = re.compile(r"^[a-z0-9_]+$")


@dataclass(frozen=True, eq=False)
class Streams:
    """Per-stream pose data with frames of all streams concatenated (see the module docstring).

    Attributes:
        subject: (S,) subject names, e.g. ``"S9"``.
        action: (S,) action names, e.g. ``"Walking 1"``.
        camera: (S,) camera ids, e.g. ``"54138969"``.
        offsets: (S + 1,) int64 frame offsets; stream i is ``offsets[i]:offsets[i + 1]``.
        image_size: (S, 2) int32 (width, height) in pixels.
        fps: (S,) float32 frame rate.
        poses_2d: 2D source name → (N, J, 3) float32 (x px, y px, confidence).
        has_2d: 2D source name → (S,) bool; False where a stream lacks that source (its frames
            are zeros with confidence 0). Lists every source of the file, also those whose
            frames were not loaded (``load_streams(arrays=...)``).
        poses_3d: (N, J, 3) float32 camera-frame poses in mm (absolute), or None.
        poses_3d_image: (N, J, 3) float32 2.5D image-space poses in pixels, or None.
        scale_2_5d: (N,) float32 λ in mm per pixel, present with ``poses_3d_image``.
        poses_2_5d: (N, J, 3) float32 2.5D ground truth in mm, or None. When None it is
            ``scale_2_5d · poses_3d_image`` (every consumer is root-relative, so the translation
            by which a source's stored ground truth may differ does not matter).
        sequence_id: (S,) Human3.6M sequence ids (``"s_09_act_05_subact_02"``) or ``""``.
        action_label: (S,) the action label the source itself stores per frame (MotionBERT's
            ``action``, e.g. ``"Greeting"``), which the evaluation protocols group by, or ``""``
            (then they group by ``action`` up to its first space).
        intrinsics: (S, 9) float64 camera intrinsics in pixels, or None.
        up: (S, 3) float64 unit vector of the world's vertical (up) direction in each stream's
            camera axes (x right, y down, z forward), or None. Virtual-camera augmentation
            (`ssrstf.data.augment`) rotates about it.
        provenance: Free text: converter and inputs.
        valid: (N,) bool, False for frames that evaluation must not score (MPI-INF-3DHP's
            ``valid_frame``), or None when every frame counts.
        joint_layout: `ssrstf.skeleton.SKELETONS` name of the joint order of every pose array.
    """

    subject: np.ndarray
    action: np.ndarray
    camera: np.ndarray
    offsets: np.ndarray
    image_size: np.ndarray
    fps: np.ndarray
    poses_2d: dict[str, np.ndarray] = field(default_factory=dict)
    has_2d: dict[str, np.ndarray] = field(default_factory=dict)
    poses_3d: np.ndarray | None = None
    poses_3d_image: np.ndarray | None = None
    scale_2_5d: np.ndarray | None = None
    poses_2_5d: np.ndarray | None = None
    sequence_id: np.ndarray | None = None
    action_label: np.ndarray | None = None
    intrinsics: np.ndarray | None = None
    up: np.ndarray | None = None
    provenance: str = ""
    valid: np.ndarray | None = None
    joint_layout: str = JOINT_LAYOUT

    def __post_init__(self) -> None:
        num_streams = len(self.subject)
        if self.joint_layout not in SKELETONS:
            raise ValueError(
                f"unknown joint_layout {self.joint_layout!r}; valid: {', '.join(SKELETONS)}"
            )
        if self.sequence_id is None:
            object.__setattr__(self, "sequence_id", np.full(num_streams, "", dtype="<U1"))
        if self.action_label is None:
            object.__setattr__(self, "action_label", np.full(num_streams, "", dtype="<U1"))
        for name in ("action", "camera", "fps", "sequence_id", "action_label"):
            if len(getattr(self, name)) != num_streams:
                raise ValueError(
                    f"{name} has {len(getattr(self, name))} entries, not {num_streams}"
                )
        if self.offsets.shape != (num_streams + 1,) or self.offsets[0] != 0:
            raise ValueError(f"offsets must be (S + 1,) starting at 0, got {self.offsets.shape}")
        if np.any(np.diff(self.offsets) < 0):
            raise ValueError("offsets must be non-decreasing")
        if self.image_size.shape != (num_streams, 2):
            raise ValueError(f"image_size must be ({num_streams}, 2), got {self.image_size.shape}")
        if self.intrinsics is not None and self.intrinsics.shape != (num_streams, 9):
            raise ValueError(f"intrinsics must be ({num_streams}, 9), got {self.intrinsics.shape}")
        if self.up is not None and self.up.shape != (num_streams, 3):
            raise ValueError(f"up must be ({num_streams}, 3), got {self.up.shape}")
        if len(set(self.keys)) != num_streams:
            raise ValueError("stream keys subject/action/camera must be unique")
        num_frames = int(self.offsets[-1])
        for name in ("poses_3d", "poses_3d_image", "poses_2_5d"):
            array = getattr(self, name)
            if array is not None and array.shape[:1] + array.shape[2:] != (num_frames, 3):
                raise ValueError(f"{name} must be ({num_frames}, J, 3), got {array.shape}")
        if (self.poses_3d_image is None) != (self.scale_2_5d is None):
            raise ValueError("poses_3d_image and scale_2_5d come together")
        if self.scale_2_5d is not None and self.scale_2_5d.shape != (num_frames,):
            raise ValueError(f"scale_2_5d must be ({num_frames},), got {self.scale_2_5d.shape}")
        if self.valid is not None and (
            self.valid.shape != (num_frames,) or self.valid.dtype != bool
        ):
            raise ValueError(f"valid must be a ({num_frames},) bool array, got {self.valid.shape}")
        if not set(self.poses_2d) <= set(self.has_2d):
            raise ValueError("every poses_2d source needs a has_2d entry")
        for source, array in self.poses_2d.items():
            if not _SOURCE_NAME.match(source):
                raise ValueError(f"2D source name {source!r} must match [a-z0-9_]+")
            if array.shape[:1] + array.shape[2:] != (num_frames, 3):
                raise ValueError(f"poses_2d[{source!r}] must be ({num_frames}, J, 3)")
            if self.has_2d[source].shape != (num_streams,):
                raise ValueError(f"has_2d[{source!r}] must be ({num_streams},)")

    @property
    def num_streams(self) -> int:
        """Number of streams S."""
        return len(self.subject)

    @property
    def num_frames(self) -> int:
        """Total number of frames N."""
        return int(self.offsets[-1])

    @property
    def lengths(self) -> np.ndarray:
        """(S,) frames per stream."""
        return np.diff(self.offsets)

    @property
    def sources(self) -> tuple[str, ...]:
        """Names of the stored 2D sources, sorted."""
        return tuple(sorted(self.poses_2d))

    @property
    def keys(self) -> list[str]:
        """Stream keys ``"subject/action/camera"``, e.g. ``"S9/Walking 1/54138969"``."""
        return [stream_key(*k) for k in zip(self.subject, self.action, self.camera, strict=True)]

    @property
    def origin(self) -> str:
        """The ``ssrstf data`` command that made the file (``"convert-motionbert"``,
        ``"prepare-h36m"``, ...): the first word of ``provenance``, ``""`` when unknown."""
        first = self.provenance.split(" ", 1)[0]
        return first if re.fullmatch(r"(prepare|convert)-[a-z0-9]+", first) else ""

    def frames(self, stream: int) -> slice:
        """The frame range of stream ``stream`` in the concatenated arrays."""
        return slice(int(self.offsets[stream]), int(self.offsets[stream + 1]))

    def frame_streams(self) -> np.ndarray:
        """(N,) index of the stream each frame belongs to."""
        return np.repeat(np.arange(self.num_streams), self.lengths)

    def ground_truth_2_5d(self, stream: int) -> np.ndarray:
        """2.5D ground truth of one stream in mm, (F, J, 3) float64 (MotionBERT protocol).

        Raises:
            ValueError: If the file has no 2.5D image-space poses.
        """
        frames = self.frames(stream)
        if self.poses_2_5d is not None:
            return self.poses_2_5d[frames].astype(np.float64)
        if self.poses_3d_image is None or self.scale_2_5d is None:
            raise ValueError("this dataset has no 2.5D image-space poses (poses_3d_image)")
        scale = self.scale_2_5d[frames].astype(np.float64)
        return self.poses_3d_image[frames].astype(np.float64) * scale[:, None, None]

    def select(self, streams: Sequence[int] | np.ndarray) -> Streams:
        """A new `Streams` with only the given streams (frames are copied), in the given order."""
        idx = np.asarray(streams, dtype=np.int64).reshape(-1)
        lengths = self.lengths[idx]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        frame_idx = (
            np.concatenate([np.arange(self.offsets[i], self.offsets[i + 1]) for i in idx])
            if len(idx)
            else np.zeros(0, dtype=np.int64)
        )

        def take(array: np.ndarray | None) -> np.ndarray | None:
            return None if array is None else array[frame_idx]

        return replace(
            self,
            subject=self.subject[idx],
            action=self.action[idx],
            camera=self.camera[idx],
            sequence_id=self.sequence_id[idx],
            action_label=self.action_label[idx],
            offsets=offsets,
            image_size=self.image_size[idx],
            fps=self.fps[idx],
            intrinsics=None if self.intrinsics is None else self.intrinsics[idx],
            up=None if self.up is None else self.up[idx],
            poses_2d={k: v[frame_idx] for k, v in self.poses_2d.items()},
            has_2d={k: v[idx] for k, v in self.has_2d.items()},
            poses_3d=take(self.poses_3d),
            poses_3d_image=take(self.poses_3d_image),
            scale_2_5d=take(self.scale_2_5d),
            poses_2_5d=take(self.poses_2_5d),
            valid=take(self.valid),
        )

    def subset(self, subjects: Collection[str]) -> Streams:
        """The streams of the given subjects, in file order."""
        wanted = set(subjects)
        return self.select(np.flatnonzero([s in wanted for s in self.subject]))


def stream_key(subject: str, action: str, camera: str) -> str:
    """``"subject/action/camera"``: the key of a stream in prediction files and messages."""
    return f"{subject}/{action}/{camera}"


def ground_truth_arrays(space: str) -> tuple[str, ...]:
    """Per-frame arrays holding the ground truth of a space (for ``load_streams(arrays=...)``).

    ``"camera"`` → ``poses_3d``; ``"image_2.5d"`` → ``poses_3d_image`` (with ``scale_2_5d``) and
    ``poses_2_5d`` when stored.
    """
    if space == "camera":
        return ("poses_3d",)
    if space == "image_2.5d":
        return ("poses_3d_image", "poses_2_5d")
    raise ValueError(f"unknown ground-truth space {space!r}; valid: camera, image_2.5d")


def prepared_path(path: str | Path) -> Path:
    """The file a prepared dataset named ``path`` lives in: the one suffix rule of the format.

    ``path`` itself when it ends in ``.npz``, else ``path`` + ``.npz`` (numpy's rule). The
    writer (`save_streams`) and every reader (`load_streams`, hence ``evaluate --data``,
    ``train``'s ``data.path``, ``data info``) apply it, so the path a user gave to
    ``prepare-h36m --out`` or ``prepare-3dhp --out`` works as given in the next command.
    """
    path = Path(path)
    return path if path.suffix == ".npz" else path.with_name(path.name + ".npz")


def save_streams(streams: Streams, path: str | Path) -> Path:
    """Write `Streams` to ``path`` (an uncompressed ``.npz``; written atomically).

    Returns:
        The path written: `prepared_path` of ``path`` (``.npz`` appended when missing).
    """
    path = prepared_path(path)
    arrays: dict[str, np.ndarray] = {
        "format_version": np.asarray(FORMAT_VERSION, dtype=np.int64),
        "joint_layout": np.asarray(streams.joint_layout),
        "provenance": np.asarray(streams.provenance),
        "stream_subject": _str_array(streams.subject),
        "stream_action": _str_array(streams.action),
        "stream_camera": _str_array(streams.camera),
        "stream_sequence_id": _str_array(streams.sequence_id),
        "stream_action_label": _str_array(streams.action_label),
        "stream_offsets": streams.offsets.astype(np.int64),
        "stream_image_size": streams.image_size.astype(np.int32),
        "stream_fps": streams.fps.astype(np.float32),
    }
    if streams.intrinsics is not None:
        arrays["stream_intrinsics"] = streams.intrinsics.astype(np.float64)
    if streams.up is not None:
        arrays["stream_up"] = streams.up.astype(np.float64)
    for name in FRAME_ARRAYS:
        if getattr(streams, name) is not None:
            arrays[name] = getattr(streams, name).astype(np.float32, copy=False)
    for source in streams.sources:
        arrays[f"poses_2d_{source}"] = streams.poses_2d[source].astype(np.float32, copy=False)
        arrays[f"has_2d_{source}"] = streams.has_2d[source].astype(bool)
    if streams.valid is not None:
        arrays["valid"] = streams.valid.astype(bool)

    def write(temp: Path) -> None:
        with temp.open("wb") as handle:
            np.savez(handle, **arrays)

    return atomic_write(path, write)


def load_streams(
    path: str | Path,
    *,
    subjects: Collection[str] | None = None,
    arrays: Collection[str] | None = None,
) -> Streams:
    """Read a prepared dataset written by `save_streams`.

    Args:
        path: The ``.npz`` file (`prepared_path`: ``.npz`` is appended when missing).
        subjects: Keep only these subjects (all when None); one the file lacks is named in a
            warning.
        arrays: Per-frame arrays to load, by key (``"poses_3d"``, ``"poses_2d_sh"``, ...);
            all when None. Skipping big arrays makes evaluation loads fast. The small
            ``valid`` mask is always loaded when stored: it defines which frames are scored.

    Returns:
        The streams.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not a prepared dataset of a supported version.
    """
    path = prepared_path(path)
    if not path.exists():
        raise FileNotFoundError(f"prepared dataset not found: {path} (see `ssrstf data --help`)")
    try:
        streams = _read_streams(path, subjects, arrays)
    except (KeyError, TypeError, IndexError) as exc:
        problem = f"{type(exc).__name__}: {exc}"
        raise ValueError(f"{path}: not a prepared ssrstf dataset ({problem})") from None
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: {exc}") from None
    _check_finite(streams, path)
    return streams


def _check_finite(streams: Streams, path: Path) -> None:
    """Refuse NaN / inf where they would be used: scored frames, streams that have a source."""
    frame_stream = np.repeat(np.arange(streams.num_streams), streams.lengths)
    scored = np.ones(streams.num_frames, bool) if streams.valid is None else streams.valid
    checks = {name: scored for name in ("poses_3d", "poses_3d_image", "poses_2_5d", "scale_2_5d")}
    checks |= {f"poses_2d_{s}": streams.has_2d[s][frame_stream] for s in streams.poses_2d}
    for name, rows in checks.items():
        array = (
            streams.poses_2d[name.removeprefix("poses_2d_")]
            if name.startswith("poses_2d_")
            else getattr(streams, name)
        )
        if array is None:
            continue
        finite = np.isfinite(array.reshape(len(array), -1)).all(1)
        bad = np.flatnonzero(rows & ~finite)
        if len(bad):
            raise ValueError(
                f"{path}: {name} has NaN or inf in {len(bad)} frame(s) (first: frame {bad[0]})"
            )


def _read_streams(
    path: Path, subjects: Collection[str] | None, arrays: Collection[str] | None
) -> Streams:
    with open_npz(path, "prepared dataset") as data:
        files = set(data.files)
        missing = {"format_version", "stream_offsets", "stream_subject"} - files
        if missing:
            raise ValueError(f"{path} is not a prepared ssrstf dataset (missing {sorted(missing)})")
        version = int(data["format_version"])
        if version != FORMAT_VERSION:
            raise ValueError(f"{path}: format_version {version}, this code reads {FORMAT_VERSION}")
        subject = data["stream_subject"]
        keep = np.ones(len(subject), bool) if subjects is None else np.isin(subject, list(subjects))
        absent = sorted(set(subjects or ()) - {str(s) for s in subject})
        if absent:  # a typo, or a file prepared with --subjects: fewer subjects than asked for
            logger.warning(
                "%s has no streams of subject(s) %s (it holds %s)",
                path, ", ".join(absent), ", ".join(sorted({str(s) for s in subject})),
            )  # fmt: skip
        offsets = data["stream_offsets"]
        if (
            not np.issubdtype(offsets.dtype, np.integer)
            or offsets.shape != (len(subject) + 1,)
            or offsets[0] != 0
            or (np.diff(offsets) < 0).any()
        ):
            raise ValueError(
                f"{path}: stream_offsets must be ({len(subject) + 1},) increasing integers "
                f"from 0, got {offsets.dtype} {offsets.shape}"
            )
        for key in sorted(files):  # per-stream arrays: one entry per stream
            if key.startswith(("stream_", "has_2d_")) and key != "stream_offsets":
                shape = data[key].shape
                if not shape or shape[0] != len(subject):
                    raise ValueError(
                        f"{path}: {key} has shape {shape}, not one entry per stream "
                        f"({len(subject)})"
                    )
        frame_keep = np.repeat(keep, np.diff(offsets))
        everything = keep.all()

        def frames(key: str, *, always: bool = False) -> np.ndarray | None:
            """The kept frames of a per-frame array; None when absent or not asked for."""
            if key not in files or (arrays is not None and key not in arrays and not always):
                return None
            array = data[key]
            if not array.shape or array.shape[0] != len(frame_keep):
                raise ValueError(
                    f"{path}: {key} has shape {array.shape}, not one entry per frame "
                    f"({len(frame_keep)}, by stream_offsets)"
                )
            return array if everything else array[frame_keep]

        lengths = np.diff(offsets)[keep]
        sources = sorted(k.removeprefix("poses_2d_") for k in files if k.startswith("poses_2d_"))
        poses_2d = {s: frames(f"poses_2d_{s}") for s in sources}
        poses_2d = {s: v for s, v in poses_2d.items() if v is not None}
        image_3d = frames("poses_3d_image")
        return Streams(
            subject=subject[keep],
            action=data["stream_action"][keep],
            camera=data["stream_camera"][keep],
            sequence_id=data["stream_sequence_id"][keep],
            action_label=(
                data["stream_action_label"][keep] if "stream_action_label" in files else None
            ),
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            image_size=data["stream_image_size"][keep],
            fps=data["stream_fps"][keep],
            intrinsics=data["stream_intrinsics"][keep] if "stream_intrinsics" in files else None,
            up=data["stream_up"][keep] if "stream_up" in files else None,
            poses_2d=poses_2d,
            has_2d={s: data[f"has_2d_{s}"][keep] for s in sources},
            poses_3d=frames("poses_3d"),
            poses_3d_image=image_3d,
            scale_2_5d=frames("scale_2_5d", always=True) if image_3d is not None else None,
            poses_2_5d=frames("poses_2_5d"),
            provenance=str(data["provenance"]) if "provenance" in files else "",
            valid=frames("valid", always=True),
            joint_layout=str(data["joint_layout"]) if "joint_layout" in files else JOINT_LAYOUT,
        )


def concatenate_streams(parts: Sequence[Streams], provenance: str = "") -> Streams:
    """Join several `Streams` (same 2D sources and optional arrays) into one."""
    if not parts:
        raise ValueError("nothing to concatenate")
    first = parts[0]

    def cat(name: str) -> np.ndarray | None:
        values = [getattr(p, name) for p in parts]
        if all(v is None for v in values):
            return None
        if any(v is None for v in values):
            raise ValueError(f"{name} is present in some parts only")
        return np.concatenate(values)

    layouts = {p.joint_layout for p in parts}
    if len(layouts) > 1:
        raise ValueError(f"cannot concatenate streams of different joint layouts {sorted(layouts)}")
    lengths = np.concatenate([p.lengths for p in parts])
    return Streams(
        subject=np.concatenate([p.subject for p in parts]),
        action=np.concatenate([p.action for p in parts]),
        camera=np.concatenate([p.camera for p in parts]),
        sequence_id=np.concatenate([p.sequence_id for p in parts]),
        action_label=np.concatenate([p.action_label for p in parts]),
        offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        image_size=np.concatenate([p.image_size for p in parts]),
        fps=np.concatenate([p.fps for p in parts]),
        intrinsics=cat("intrinsics"),
        up=cat("up"),
        poses_2d={s: np.concatenate([p.poses_2d[s] for p in parts]) for s in first.poses_2d},
        has_2d={s: np.concatenate([p.has_2d[s] for p in parts]) for s in first.poses_2d},
        poses_3d=cat("poses_3d"),
        poses_3d_image=cat("poses_3d_image"),
        scale_2_5d=cat("scale_2_5d"),
        poses_2_5d=cat("poses_2_5d"),
        provenance=provenance or first.provenance,
        valid=cat("valid"),
        joint_layout=first.joint_layout,
    )


def summarize_streams(streams: Streams) -> dict[str, object]:
    """Counts for a quick look: streams and frames per subject, sources, arrays present."""
    per_subject: dict[str, dict[str, int]] = {}
    for subject, length in zip(streams.subject, streams.lengths, strict=True):
        entry = per_subject.setdefault(str(subject), {"streams": 0, "frames": 0})
        entry["streams"] += 1
        entry["frames"] += int(length)
    return {
        "streams": streams.num_streams,
        "frames": streams.num_frames,
        "subjects": per_subject,
        "sources_2d": {s: int(v.sum()) for s, v in sorted(streams.has_2d.items())},
        "arrays": [n for n in FRAME_ARRAYS if getattr(streams, n) is not None],
        "joint_layout": streams.joint_layout,
        "valid_frames": None if streams.valid is None else int(streams.valid.sum()),
        "provenance": streams.provenance,
    }


def summarize_file(path: str | Path) -> dict[str, object]:
    """`summarize_streams` of a prepared file without loading its per-frame arrays."""
    summary = summarize_streams(load_streams(path, arrays=()))
    with open_npz(prepared_path(path), "prepared dataset") as data:
        summary["arrays"] = [n for n in FRAME_ARRAYS if n in data.files]
    return summary


def _str_array(values: Sequence[str] | np.ndarray) -> np.ndarray:
    """A numpy unicode array (never an object array, so files load without pickle)."""
    array = np.asarray([str(v) for v in values])
    return array if array.size else np.zeros(0, dtype="<U1")
