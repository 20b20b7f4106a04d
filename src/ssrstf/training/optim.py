"""Optimiser and learning-rate schedule."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from ssrstf.config import TrainConfig


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: decay on weight matrices and kernels only.

    Norm weights, biases, LayerScale gammas and position embeddings (every parameter with fewer
    than 2 dimensions, plus the embeddings) get no weight decay (nanoGPT's rule).
    """
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if param.ndim < 2 or name.endswith("pos_embed"):
            no_decay.append(param)
        else:
            decay.append(param)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with `param_groups`."""
    return torch.optim.AdamW(param_groups(model, cfg.weight_decay), lr=cfg.lr)


def lr_factor(
    step: int,
    *,
    cfg: TrainConfig,
    steps_per_epoch: int,
    total_steps: int,
    time_fraction: float = 0.0,
) -> float:
    """Learning-rate multiplier at optimiser step ``step`` (0-based).

    Linear warm-up over ``cfg.warmup_steps``, then ``lr_decay ** epoch`` (``exponential``, the
    credited code bases' per-epoch decay) or a half cosine to ``cfg.min_lr_ratio``: at
    ``total_steps`` (``cosine``), or when ``time_fraction`` (elapsed share of the wall-clock
    budget) reaches 1 (``cosine_time``, the CPU-budget recipe).
    """
    warmup = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
    if cfg.schedule == "exponential":
        return warmup * cfg.lr_decay ** (step // max(steps_per_epoch, 1))
    if cfg.schedule == "cosine_time":
        progress = min(1.0, max(0.0, time_fraction))
    else:
        horizon = max(total_steps - cfg.warmup_steps, 1)
        progress = min(1.0, max(0, step - cfg.warmup_steps) / horizon)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return warmup * (cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * cosine)


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    cfg: TrainConfig,
    *,
    steps_per_epoch: int,
    total_steps: int,
    time_fraction: Callable[[], float] = lambda: 0.0,
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step `LambdaLR` of `lr_factor` (call ``scheduler.step()`` after every optimiser step).

    ``time_fraction`` reports the elapsed share of the wall-clock budget when it is called
    (``cosine_time``); the other schedules ignore it.
    """
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: lr_factor(
            step,
            cfg=cfg,
            steps_per_epoch=steps_per_epoch,
            total_steps=total_steps,
            time_fraction=time_fraction(),
        ),
    )
