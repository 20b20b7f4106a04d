"""Scoring models with the evaluation protocols: during training and from checkpoints.

The protocols themselves (`ssrstf.evaluation.protocol` for Human3.6M,
`ssrstf.evaluation.mpi_inf_3dhp` for MPI-INF-3DHP) only see numpy streams and a predictor
callable; this module connects them to models, configs and prepared datasets. A Human3.6M-skeleton
model evaluated on MPI-INF-3DHP (cross-dataset) gets its 2D input mapped MPI → H36M and its
output H36M → MPI (`ssrstf.skeleton` mappings) and is scored on the comparable joints.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ssrstf.checkpoint import load_model
from ssrstf.config import ExperimentConfig
from ssrstf.data.dataset import DATASET_JOINT_LAYOUTS, StreamClips, check_joint_layout, stream_clips
from ssrstf.data.h36m import Streams, ground_truth_arrays, load_streams
from ssrstf.evaluation import mpi_inf_3dhp
from ssrstf.evaluation.protocol import (
    PROTOCOLS,
    H36MProtocol,
    evaluate_model,
    streams_without_input,
    with_left_out,
)
from ssrstf.evaluation.results import EvalResult
from ssrstf.models.tta import make_predictor
from ssrstf.skeleton import (
    H36M_17,
    H36M_TO_MPI_INF_3DHP,
    MPI_INF_3DHP_17,
    MPI_INF_3DHP_TO_H36M,
    SKELETONS,
    convert_keypoints,
)

Protocol = H36MProtocol | mpi_inf_3dhp.MPIInf3DHPProtocol
PredictorFactory = Callable[[nn.Module, ExperimentConfig], Callable[[np.ndarray], np.ndarray]]
"""Builds the model hook (a `ssrstf.evaluation.protocol.Predictor`) from the loaded model and
the evaluation config (flip TTA per ``cfg.eval.flip_test``). The default runs the model in torch
(`ssrstf.models.tta.make_predictor`); ``ssrstf evaluate --backend onnxruntime`` passes one that
runs it in ONNX Runtime."""
Result = EvalResult | mpi_inf_3dhp.MPIInf3DHPResult


def is_cross_dataset(cfg: ExperimentConfig) -> bool:
    """Whether a Human3.6M-skeleton model is evaluated on MPI-INF-3DHP."""
    return cfg.data.dataset == "mpi_inf_3dhp" and cfg.model.skeleton == H36M_17.name


def protocol_of(cfg: ExperimentConfig) -> Protocol:
    """The configured protocol (Human3.6M: with ``eval.skip_sequences`` added to its skips).

    Raises:
        ValueError: If a Human3.6M protocol's ground-truth space is not the model's target
            space (`check_target_space`).
    """
    if cfg.data.dataset == "mpi_inf_3dhp":
        if is_cross_dataset(cfg):
            return mpi_inf_3dhp.MPI_INF_3DHP_CROSS
        if cfg.model.skeleton != MPI_INF_3DHP_17.name:
            raise ValueError(f"model.skeleton={cfg.model.skeleton!r} cannot run on MPI-INF-3DHP")
        return mpi_inf_3dhp.MPI_INF_3DHP
    protocol = PROTOCOLS[cfg.eval.protocol].with_skips(cfg.eval.skip_sequences)
    check_target_space(protocol, cfg.data.target_space)
    return protocol


_SPACE_NAMES = {"camera": "camera-frame 3D", "image_2.5d": "MotionBERT's 2.5D image-space"}


def check_target_space(protocol: H36MProtocol, target_space: str) -> None:
    """Refuse a model whose outputs live in another space than the protocol's ground truth.

    Camera-frame and 2.5D poses are different poses (perspective vs metric x, y): the exact
    camera-frame ground truth scores 22.8 mm P1 against the 2.5D one (docs/evaluation.md), so
    such a figure would measure the space, not the model. No conversion is attempted.

    Raises:
        ValueError: Naming both spaces and the protocol that fits the model.
    """
    if target_space == protocol.ground_truth:
        return
    fitting = [p.name for p in PROTOCOLS.values() if p.ground_truth == target_space]
    hint = f"; evaluate it with --protocol {fitting[0]}" if fitting else ""
    raise ValueError(
        f"the {protocol.name} protocol scores {_SPACE_NAMES[protocol.ground_truth]} poses "
        f"(data.target_space={protocol.ground_truth}), but this model predicts "
        f"{_SPACE_NAMES.get(target_space, target_space)} poses "
        f"(data.target_space={target_space}){hint}"
    )


def _arrays(cfg: ExperimentConfig, protocol: H36MProtocol, *, train: bool) -> list[str]:
    arrays = {f"poses_2d_{cfg.data.input_source}"}
    arrays.update(f"poses_2d_{source}" for source in cfg.eval.extra_inputs)
    if train:
        arrays.add("poses_3d" if cfg.data.target_space == "camera" else "poses_3d_image")
        if cfg.data.augment.detector_fraction > 0:
            arrays.add(f"poses_2d_{cfg.data.augment.detector_source}")
    # The protocol's ground truth as stored (poses_2_5d: the 2.5D ground truth of the source).
    arrays.update(ground_truth_arrays(protocol.ground_truth))
    if "poses_3d_image" in arrays:
        arrays.add("scale_2_5d")
    return sorted(arrays)


def load_experiment_streams(cfg: ExperimentConfig, *, train: bool = True) -> Streams:
    """The subjects and arrays a run needs (training and test, or test only), nothing more."""
    protocol = protocol_of(cfg)
    subjects = (
        (*cfg.data.train_subjects, *protocol.test_subjects) if train else protocol.test_subjects
    )
    streams = load_streams(
        cfg.data.path, subjects=subjects, arrays=_arrays(cfg, protocol, train=train)
    )
    check_joint_layout(streams, cfg.data.dataset, cfg.data.path)
    return streams


def build_eval_streams(
    cfg: ExperimentConfig, streams: Streams, *, input_source: str | None = None
) -> list[StreamClips]:
    """The protocol's test streams, with model inputs, as `evaluate_model` reads them.

    ``input_source`` (default ``cfg.data.input_source``) picks the 2D the model is fed, e.g.
    ``"sh"`` for the ``eval.extra_inputs`` evaluations of a run trained on ground truth.
    """
    protocol = protocol_of(cfg)
    if cfg.data.frame_stride > 1 and not protocol.cover_all_frames:
        raise ValueError(
            f"the {protocol.name} protocol scores consecutive clips of T frames; this model takes "
            f"one frame in {cfg.data.frame_stride} (data.frame_stride: {cfg.data.frame_stride}): "
            "evaluate it with --protocol videopose3d, which scores every frame once"
        )
    return stream_clips(
        streams,
        ground_truth=protocol.ground_truth,
        clip_len=cfg.model.num_frames,
        cover_all=protocol.cover_all_frames,
        subjects=protocol.test_subjects,
        input_source=input_source or cfg.data.input_source,
        target_space=cfg.data.target_space,
        use_confidence=cfg.data.use_confidence,
        frame_stride=cfg.data.frame_stride,
        overlap=cfg.eval.overlap,
    )


def _mpi_from_h36m(predict: Callable[[np.ndarray], np.ndarray]) -> Callable:
    """Wrap an H36M-skeleton predictor to take and return MPI-INF-3DHP joint order.

    Both mappings are relabellings (weights 1), so they commute with the screen normalisation
    of the inputs and the root-relative outputs; the confidence channel, if any, is kept.
    """

    def predict_mpi(clips: np.ndarray) -> np.ndarray:
        has_confidence = clips.shape[-1] == 3
        x = convert_keypoints(clips, MPI_INF_3DHP_TO_H36M, has_confidence=has_confidence)
        y = predict(x.astype(np.float32))
        return convert_keypoints(y, H36M_TO_MPI_INF_3DHP, has_confidence=False)

    return predict_mpi


def _counting(predict: Callable, bar: tqdm) -> Callable:
    """``predict`` that advances ``bar`` by the clips of each call."""

    def counted(x):
        out = predict(x)
        bar.update(len(x))
        return out

    return counted


def evaluate_on_streams(
    model: nn.Module,
    cfg: ExperimentConfig,
    streams: list[StreamClips],
    *,
    every: int = 1,
    gt_2d: bool = False,
    predictor: PredictorFactory | None = None,
    progress: str | None = None,
) -> Result:
    """Run ``model`` (flip TTA per ``cfg.eval.flip_test``) on prepared test streams and score it.

    ``gt_2d``: MotionBERT's setting (`ssrstf.evaluation.protocol.evaluate_model`); the streams
    must then carry the ``gt`` 2D source. ``predictor``: how to run the model (default: torch).
    ``progress``: show a progress bar (clips scored) with this description.
    """
    if predictor is not None:
        predict = predictor(model, cfg)
    else:
        predict = make_predictor(
            model,
            SKELETONS[cfg.model.skeleton],
            flip_test=cfg.eval.flip_test,
            device=next(model.parameters()).device,
        )
    bar = tqdm(desc=progress, unit="clip", dynamic_ncols=True, leave=False,
               disable=progress is None)  # fmt: skip
    with bar:
        predict = _counting(predict, bar)
        protocol = protocol_of(cfg)
        if isinstance(protocol, mpi_inf_3dhp.MPIInf3DHPProtocol):
            if gt_2d:
                raise ValueError("gt_2d is a setting of the Human3.6M motionbert protocol only")
            if is_cross_dataset(cfg):
                predict = _mpi_from_h36m(predict)
            return mpi_inf_3dhp.evaluate_model(
                protocol, streams, predict, every=every, batch_size=cfg.eval.batch_size
            )
        return evaluate_model(
            protocol, streams, predict, every=every, batch_size=cfg.eval.batch_size, gt_2d=gt_2d,
            overlap=cfg.eval.overlap,
        )  # fmt: skip


def evaluate_checkpoint(
    checkpoint: str | Path,
    data_path: str | Path,
    *,
    protocol: str | None = None,
    dataset: str | None = None,
    input_source: str | None = None,
    flip_test: bool = True,
    every: int = 1,
    batch_size: int | None = None,
    device: str = "cpu",
    gt_2d: bool = False,
    predictor: PredictorFactory | None = None,
    frame_stride: int | None = None,
    overlap: int = 0,
) -> Result:
    """Evaluate a checkpoint (``"default"``, ``.pt`` or ``.safetensors``) on a prepared dataset.

    The model, clip length, target space and normalisation come from the checkpoint's config;
    the arguments override the dataset (``"h36m"`` or ``"mpi_inf_3dhp"``; a Human3.6M model on
    MPI-INF-3DHP is the cross-dataset evaluation), the protocol, the 2D source (default: the
    checkpoint's own, ``gt`` when the dataset changes), flip TTA and quick mode. ``gt_2d`` is
    MotionBERT's ``gt_2d`` setting: the ground-truth 2D (source ``gt``) as input and the
    predicted x, y replaced by it (``--protocol motionbert`` only). ``predictor`` chooses how
    the model runs (`PredictorFactory`; default: torch). ``frame_stride`` runs the model on
    every ``frame_stride``-th frame instead of its training stride (``data.frame_stride``), e.g.
    a model trained at several strides (``data.train_frame_strides``) at each of them.
    ``overlap`` > 0 scores windows overlapping by that many frames, their predictions stitched
    as ``ssrstf infer`` stitches them (``eval.overlap``; videopose3d protocol only).

    Raises:
        ValueError: For a cross-dataset evaluation of a model that predicts the 2.5D image
            space (it needs a per-frame scale λ that MPI-INF-3DHP does not provide), a
            protocol whose ground-truth space is not the model's target space (a camera-space
            model on the motionbert protocol), ``gt_2d`` with another 2D source, or a dataset
            whose file has another joint layout.
    """
    if gt_2d and input_source not in (None, "gt"):
        raise ValueError(
            f"gt_2d uses the ground-truth 2D as input (MotionBERT's gt_2d); got 2D source "
            f"{input_source!r}"
        )
    model, cfg = load_model(checkpoint, device=device)
    dataset = dataset or cfg.data.dataset
    if dataset not in DATASET_JOINT_LAYOUTS:
        raise ValueError(f"unknown dataset {dataset!r}; valid: {', '.join(DATASET_JOINT_LAYOUTS)}")
    changed = dataset != cfg.data.dataset
    if changed and cfg.data.target_space != "camera":
        raise ValueError(
            f"{checkpoint}: cross-dataset evaluation needs a camera-space model "
            f"(data.target_space=camera); this one predicts {cfg.data.target_space!r}"
        )
    default_source = "gt" if changed or gt_2d else cfg.data.input_source
    if frame_stride is not None and frame_stride < 1:
        raise ValueError(f"frame_stride must be >= 1, got {frame_stride}")
    data = replace(
        cfg.data,
        dataset=dataset,
        path=str(data_path),
        input_source=input_source or default_source,
        frame_stride=frame_stride or cfg.data.frame_stride,
    )
    if dataset == "mpi_inf_3dhp":
        protocol = "mpi_inf_3dhp"
    elif changed or cfg.eval.protocol == "mpi_inf_3dhp":
        protocol = protocol or "videopose3d"
    evaluation = replace(
        cfg.eval,
        protocol=protocol or cfg.eval.protocol,
        flip_test=flip_test,
        batch_size=batch_size or cfg.eval.batch_size,
        overlap=overlap,
    )
    cfg = replace(cfg, data=data, eval=evaluation)
    if dataset == "h36m" and cfg.model.skeleton != H36M_17.name:
        raise ValueError(f"{checkpoint}: a {cfg.model.skeleton} model cannot run on Human3.6M")
    try:
        protocol_of(cfg)
    except ValueError as exc:
        raise ValueError(f"{checkpoint}: {exc}") from None
    with torch.inference_mode():
        loaded = load_experiment_streams(cfg, train=False)
        result = evaluate_on_streams(
            model, cfg, build_eval_streams(cfg, loaded), every=every, gt_2d=gt_2d,
            predictor=predictor,
        )  # fmt: skip
    if isinstance(result, EvalResult):  # name the test streams that lacked the 2D input
        source = cfg.data.input_source
        result = with_left_out(
            result, source, *streams_without_input(protocol_of(cfg), loaded, source)
        )
    return result
