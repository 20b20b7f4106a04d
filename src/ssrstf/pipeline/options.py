"""The options of the pipeline: how an input is read, lifted and written (`InferOptions`), and
whether and how a body mesh is recovered with it (`MeshOptions`).

They are the options of ``ssrstf infer`` and ``ssrstf demo``; `ssrstf.pipeline.run.Pipeline`
takes them, and a batch records `InferOptions.fingerprint` with every finished input: the
options that shape the outputs and the model file's content (`checkpoint_sha256`), so that a
model retrained in place or a new packaged default does not pass for the one that made them.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssrstf.files import file_sha256
from ssrstf.keypoints.tracking import MIN_TRACK_FRAMES


def file_key(checkpoint: str | Path) -> tuple[str, tuple[int, ...]]:
    """The identity of a checkpoint file's version: the absolute path of an existing file with
    its modification time (ns), size and inode; anything else (``"default"``, a missing file)
    as given, so that loading it reports the name the caller used."""
    name = str(checkpoint)
    if name == "default":
        return name, ()
    path = Path(name)
    try:
        stat = path.stat()
    except (OSError, ValueError):
        return name, ()
    if not path.is_file():
        return name, ()
    # The absolute path, not the resolved one: a symlink's name carries the format's suffix
    # (a Hugging Face cache's blobs have none); the stat is the target's.
    return str(path.absolute()), (stat.st_mtime_ns, stat.st_size, stat.st_ino)


@functools.lru_cache(maxsize=8)
def _sha256(path: str, stamp: tuple[int, ...]) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


def checkpoint_sha256(checkpoint: str | Path) -> str | None:
    """The hex SHA-256 of a checkpoint's file (``"default"``: the packaged model), hashed once
    per version of the file (`file_key`); None when it cannot be read (loading it then fails
    with the reason)."""
    if str(checkpoint) == "default":
        from ssrstf.checkpoint import DEFAULT_CHECKPOINT

        checkpoint = DEFAULT_CHECKPOINT
    path, stamp = file_key(checkpoint)
    return _sha256(path, stamp) if stamp else None


@dataclass(frozen=True)
class InferOptions:
    """How an input is read, lifted and written (the options of ``ssrstf infer``).

    Attributes:
        fmt: Input format (``auto``, ``video`` or a keypoint format of
            `ssrstf.keypoints.readers.FORMATS`).
        image_size: (width, height) for keypoint files that do not record it.
        skeleton: Joint order of numpy array files.
        fps: Frame rate, overriding each file's.
        checkpoint: ``"default"`` or a model file (see `ssrstf.lifting.lifter.Lifter`).
        device: ``"cpu"``, ``"cuda"``, ...
        flip: Flip test-time augmentation.
        overlap: Frames shared by consecutive windows (None: the lifter's default).
        frame_stride: Run the model on every s-th frame (each phase lifted and interleaved
            back, every frame still gets a pose); None: automatic, from the input's frame rate
            (`ssrstf.lifting.lifter.auto_frame_stride`: fps / 50 rounded half up for a
            Human3.6M model, 2 for 100 fps; the model's own stride when the fps is unknown).
        threads: torch CPU threads per worker process (batches).
        backend: ``"torch"`` or ``"onnxruntime"`` (None: from the checkpoint).
        render: Also write ``render.mp4`` (extra ``viz``).
        viewer_video: Show a video input's frames in ``viewer.html``.
        focal_length: The camera's focal length in pixels (None: from ``fov``).
        fov: The camera's field of view in degrees (None: the default).
        frame: Frame of the BVH and GLB files, ``"world"`` or ``"camera"``.
        rigid: One set of bone lengths: True for every output, False for none, None for BVH
            and GLB only.
        min_track_frames: Several people per frame: lift tracks at least this long.
    """

    fmt: str = "auto"
    image_size: tuple[int, int] | None = None
    skeleton: str | None = None
    fps: float | None = None
    checkpoint: str = "default"
    device: str = "cpu"
    flip: bool = True
    overlap: int | None = None
    frame_stride: int | None = None
    threads: int = 1
    backend: str | None = None
    render: bool = False
    viewer_video: bool = False
    focal_length: float | None = None
    fov: float | None = None
    frame: str = "world"
    rigid: bool | None = None
    min_track_frames: int = MIN_TRACK_FRAMES

    def __post_init__(self) -> None:
        """Check the values here, before any input is read (a video's detection is slow)."""
        if self.threads < 1:
            raise ValueError(f"threads must be >= 1, got {self.threads}")
        if self.frame not in ("world", "camera"):
            raise ValueError(f"frame must be 'world' or 'camera', got {self.frame!r}")
        if self.focal_length is not None and not 0 < self.focal_length < math.inf:
            raise ValueError(f"focal length must be positive pixels, got {self.focal_length}")
        if self.fov is not None and not 0 < self.fov < 180:
            raise ValueError(f"field of view must be in (0, 180) degrees, got {self.fov}")
        if self.fps is not None and not 0 < self.fps < math.inf:
            raise ValueError(f"fps must be positive and finite, got {self.fps}")
        if self.frame_stride is not None:
            stride = self.frame_stride
            if isinstance(stride, bool) or not isinstance(stride, numbers.Integral) or stride < 1:
                raise ValueError(f"frame_stride must be >= 1 (a whole number), got {stride!r}")
            object.__setattr__(self, "frame_stride", int(stride))  # a numpy int: JSON-ready
        if self.min_track_frames < 1:
            raise ValueError(f"min_track_frames must be >= 1, got {self.min_track_frames}")

    def fingerprint(self) -> dict[str, Any]:
        """The options that shape the outputs, as JSON values, with the model file's content
        (``checkpoint_sha256``, `checkpoint_sha256`). ``threads``, ``device`` and ``backend``
        are left out: they change the poses by float rounding at most. ``frame_stride`` is
        recorded as given (None: automatic), so a done marker of an ssrstf without it (which
        lifted at the model's own stride) reads as automatic: the same poses below 75 fps, not
        for faster inputs of a Human3.6M model (rerun those with ``--overwrite``)."""
        values = dataclasses.asdict(self)
        for name in ("threads", "device", "backend"):
            values.pop(name)
        values["checkpoint"] = str(values["checkpoint"])
        values["checkpoint_sha256"] = checkpoint_sha256(self.checkpoint)
        return json.loads(json.dumps(values))


@dataclass(frozen=True)
class MeshOptions:
    """A body mesh beside the poses (``ssrstf infer --mesh``, `ssrstf.lift_mesh`; extra ``mesh``).

    Attributes:
        checkpoint: The mesh head: ``"default"`` (packaged), a mesh run's ``.pt`` or an exported
            ``.safetensors`` (see `ssrstf.lifting.meshes.MeshRecoverer`).
        fit_shape: Fit the body's shape and size to the lifted skeleton (``--mesh-shape fit``)
            rather than keep the head's (``head``).
        body_model: The body model the head must have been trained on (``anny``, ``smpl``);
            None: the head's own.
        body_model_path: SMPL files, for a head trained on SMPL.
        allow_pickle: Read an SMPL ``.pkl`` file (``--allow-pickle``; restricted unpickler,
            `ssrstf.mesh.smpl_body.read_smpl_file`); ``.npz`` files need no opt-in.
    """

    checkpoint: str | Path = "default"
    fit_shape: bool = True
    body_model: str | None = None
    body_model_path: str | Path | None = None
    allow_pickle: bool = False
