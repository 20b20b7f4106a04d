"""Scoring models with the evaluation protocols: during training and from checkpoints.

The protocols themselves (`ssrstf.evaluation.protocol`) only see numpy streams and a predictor
callable; this module connects them to models, configs and prepared datasets.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from ssrstf.config import ExperimentConfig
from ssrstf.data.dataset import StreamClips, stream_clips
from ssrstf.data.h36m import Streams, load_streams
from ssrstf.evaluation.protocol import PROTOCOLS, EvalResult, H36MProtocol, evaluate_model
from ssrstf.models.tta import make_predictor
from ssrstf.skeleton import SKELETONS
from ssrstf.training.checkpoint import load_model


def protocol_of(cfg: ExperimentConfig) -> H36MProtocol:
    """The configured protocol, with ``eval.skip_sequences`` added to its own skip list."""
    return PROTOCOLS[cfg.eval.protocol].with_skips(cfg.eval.skip_sequences)


def _arrays(cfg: ExperimentConfig, protocol: H36MProtocol, *, train: bool) -> list[str]:
    arrays = {f"poses_2d_{cfg.data.input_source}"}
    if train:
        arrays.add("poses_3d" if cfg.data.target_space == "camera" else "poses_3d_image")
    arrays.add("poses_3d" if protocol.ground_truth == "camera" else "poses_3d_image")
    if "poses_3d_image" in arrays:
        arrays.add("scale_2_5d")
    return sorted(arrays)


def load_experiment_streams(cfg: ExperimentConfig, *, train: bool = True) -> Streams:
    """The subjects and arrays a run needs (training and test, or test only), nothing more."""
    protocol = protocol_of(cfg)
    subjects = (
        (*cfg.data.train_subjects, *protocol.test_subjects) if train else protocol.test_subjects
    )
    return load_streams(
        cfg.data.path, subjects=subjects, arrays=_arrays(cfg, protocol, train=train)
    )


def build_eval_streams(cfg: ExperimentConfig, streams: Streams) -> list[StreamClips]:
    """The protocol's test streams, with model inputs, as `evaluate_model` reads them."""
    protocol = protocol_of(cfg)
    return stream_clips(
        streams,
        ground_truth=protocol.ground_truth,
        clip_len=cfg.model.num_frames,
        cover_all=protocol.cover_all_frames,
        subjects=protocol.test_subjects,
        input_source=cfg.data.input_source,
        target_space=cfg.data.target_space,
        use_confidence=cfg.data.use_confidence,
    )


def evaluate_on_streams(
    model: nn.Module, cfg: ExperimentConfig, streams: list[StreamClips], *, every: int = 1
) -> EvalResult:
    """Run ``model`` (flip TTA per ``cfg.eval.flip_test``) on prepared test streams and score it."""
    predict = make_predictor(
        model,
        SKELETONS[cfg.model.skeleton],
        flip_test=cfg.eval.flip_test,
        device=next(model.parameters()).device,
    )
    return evaluate_model(
        protocol_of(cfg), streams, predict, every=every, batch_size=cfg.eval.batch_size
    )


def evaluate_checkpoint(
    checkpoint: str | Path,
    data_path: str | Path,
    *,
    protocol: str | None = None,
    input_source: str | None = None,
    flip_test: bool = True,
    every: int = 1,
    batch_size: int | None = None,
    device: str = "cpu",
) -> EvalResult:
    """Evaluate a checkpoint (``"default"``, ``.pt`` or ``.safetensors``) on a prepared dataset.

    The model, clip length, target space and normalisation come from the checkpoint's config;
    the arguments override the protocol, the 2D source, flip TTA and quick mode.
    """
    model, cfg = load_model(checkpoint, device=device)
    data = replace(
        cfg.data, path=str(data_path), input_source=input_source or cfg.data.input_source
    )
    evaluation = replace(
        cfg.eval,
        protocol=protocol or cfg.eval.protocol,
        flip_test=flip_test,
        batch_size=batch_size or cfg.eval.batch_size,
    )
    cfg = replace(cfg, data=data, eval=evaluation)
    with torch.inference_mode():
        streams = build_eval_streams(cfg, load_experiment_streams(cfg, train=False))
        return evaluate_on_streams(model, cfg, streams, every=every)
