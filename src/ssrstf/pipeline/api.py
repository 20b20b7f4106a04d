"""The Python API of the pipeline: `lift` (3D poses) and `lift_mesh` (a body mesh per frame).

Both are `ssrstf.pipeline.run.Pipeline` with the packaged models by default, loaded once per
process and argument set (`ssrstf.lift`, `ssrstf.lift_mesh`). A checkpoint file is cached by its
absolute path and its target's modification time, size and inode
(`ssrstf.pipeline.options.file_key`), so a rewritten file (a training run's ``last.pt``) or a
relative path from another working directory loads afresh.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from ssrstf.lifting.lifter import Lifter
from ssrstf.lifting.meshes import MeshRecoverer, MeshSequence
from ssrstf.pipeline.options import InferOptions, MeshOptions, file_key
from ssrstf.pipeline.run import Pipeline


@functools.lru_cache(maxsize=4)
def _lifter(
    checkpoint: str, stamp: tuple[int, ...], device: str, flip: bool, backend: str | None
) -> Lifter:
    return Lifter(checkpoint, device=device, flip=flip, backend=backend)


def _cached_lifter(checkpoint: str, device: str, flip: bool, backend: str | None) -> Lifter:
    """The `Lifter` of these arguments, loaded once while the checkpoint file is unchanged."""
    return _lifter(*file_key(checkpoint), device, flip, backend)


def lift(
    source: np.ndarray | str | Path,
    image_size: tuple[int, int] | None = None,
    *,
    checkpoint: str | Path = "default",
    skeleton: str | None = None,
    fmt: str = "auto",
    flip: bool = True,
    device: str = "cpu",
    backend: str | None = None,
    fps: float | None = None,
    frame_stride: int | None = None,
) -> np.ndarray:
    """Lift 2D keypoints, a keypoint file or a video to 3D poses: (F, 17, 3) mm.

    The poses are root-relative (pelvis at the origin) in camera axes (x right, y down, z away
    from the camera), in H36M-17 joint order (`ssrstf.skeleton.H36M_17`). One person: a file
    with several people per frame gives the best-scored one of each frame; track and lift
    everyone with `ssrstf.pipeline.run.Pipeline` (`read_people`, `lift_people`) or ``ssrstf infer``.

    Args:
        source: An array (F, J, 2|3) of pixel coordinates (and confidences) in the joint order
            ``skeleton``; or the path of a video or a keypoint file (see
            `ssrstf.keypoints.inputs.load_keypoints`).
        image_size: (width, height) of the images; needed for arrays and for keypoint files that
            do not record it.
        checkpoint: ``"default"`` (the packaged model), a checkpoint path or an exported
            ``.onnx`` file.
        skeleton: Joint order of an array ``source`` (``h36m``, the default; ``coco``,
            ``halpe``, ``blazepose``, ``openpose``, ...) or of a numpy keypoint file that does
            not record it (None: the file's own, or detected from its joint count).
        fmt: Format of a path ``source`` (``auto`` detects it).
        flip: Flip test-time augmentation.
        device: ``"cpu"`` or ``"cuda"``.
        backend: ``"torch"`` or ``"onnxruntime"`` (extra ``onnx``); None: torch, or
            onnxruntime for an ``.onnx`` checkpoint.
        fps: The frame rate of ``source`` (an array's; a file's, overriding the file's own).
        frame_stride: Run the model on every s-th frame (every frame still gets a pose); None:
            from the frame rate (`ssrstf.lifting.lifter.auto_frame_stride`: 2 for 100 fps with
            the packaged model, trained at 50 fps; the model's own stride when it is unknown).

    Example::

        poses = ssrstf.lift(keypoints_coco, (1920, 1080), skeleton="coco")
        poses = ssrstf.lift("walk.mp4")  # needs pip install 'ssrstf[video]'
    """
    options = InferOptions(
        fmt=fmt, image_size=image_size, skeleton=skeleton, checkpoint=str(checkpoint),
        device=device, flip=flip, backend=backend, fps=fps, frame_stride=frame_stride,
    )  # fmt: skip
    pipeline = Pipeline(
        options, lifter=lambda: _cached_lifter(str(checkpoint), device, flip, backend)
    )
    result = pipeline.lift(pipeline.read(source)).result
    assert result is not None
    return result.poses_3d


def lift_mesh(
    source: np.ndarray | str | Path,
    image_size: tuple[int, int] | None = None,
    *,
    mesh_checkpoint: str | Path = "default",
    skeleton: str | None = None,
    fmt: str = "auto",
    device: str = "cpu",
    body_model_path: str | Path | None = None,
    allow_pickle: bool = False,
) -> MeshSequence:
    """A body mesh per frame from 2D keypoints, a keypoint file or a video (extra ``mesh``).

    The mesh counterpart of `ssrstf.lift` (same inputs): ``vertices`` (F, V, 3) and ``joints``
    (F, 17, 3) in mm, root-relative, camera axes, with the body parameters. The packaged head
    runs on the packaged lifter (trained on Human3.6M: research use only). ``allow_pickle``:
    a head on SMPL may read its ``.pkl`` model file (``.npz`` needs no opt-in).

    Example::

        mesh = ssrstf.lift_mesh(keypoints, (1000, 1000))
        mesh.vertices.shape  # (F, 13718, 3) with anny
    """
    options = InferOptions(fmt=fmt, image_size=image_size, skeleton=skeleton, device=device)
    mesh = MeshOptions(mesh_checkpoint, body_model_path=body_model_path, allow_pickle=allow_pickle)
    pipeline = Pipeline(
        options, mesh=mesh,
        recoverer=lambda: _cached_recoverer(
            str(mesh_checkpoint), device, str(body_model_path or ""), allow_pickle
        ),
    )  # fmt: skip
    return pipeline.mesh_from_keypoints(pipeline.read(source))


@functools.lru_cache(maxsize=2)
def _recoverer(
    checkpoint: str, stamp: tuple[int, ...], device: str, body_model_path: str, allow_pickle: bool
) -> MeshRecoverer:
    return MeshRecoverer(
        checkpoint, device=device, body_model_path=body_model_path or None,
        allow_pickle=allow_pickle or None,
    )  # fmt: skip


def _cached_recoverer(
    checkpoint: str, device: str, body_model_path: str, allow_pickle: bool = False
) -> MeshRecoverer:
    """The `MeshRecoverer` of these arguments, loaded once while the checkpoint file is
    unchanged (at most two kept: each holds a body model)."""
    return _recoverer(*file_key(checkpoint), device, body_model_path, allow_pickle)
