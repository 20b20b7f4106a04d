"""Glue between the training loop (`ssrstf.training.trainer`) and mesh recovery (`ssrstf.mesh`).

A config with ``mesh.use_mesh_head: true`` trains `ssrstf.mesh.head.MeshRecovery` on the same
loop as the lifter: the model's ``model`` section is the backbone's (copied from the
``mesh.backbone`` checkpoint), the loss is `ssrstf.mesh.losses.MeshLoss`, quick and final
evaluations score the mesh joints (`MeshRecovery.joints_only`) with the lifter's protocol.
Its checkpoints record the body model (`mesh_checkpoint_entries`); a resumed run must have the
same one (`check_resumed_body`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ssrstf.config import ExperimentConfig
from ssrstf.mesh.head import MeshRecovery
from ssrstf.mesh.losses import MeshLoss
from ssrstf.mesh.model import (
    BODY_RECORD,
    check_body_record,
    create_mesh_model,
    recorded_body,
    resolve_backbone_config,
    trained_body,
)
from ssrstf.training.optim import param_groups


def prepare_mesh_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """A new mesh run's config with the backbone's ``model`` section (unchanged otherwise)."""
    return resolve_backbone_config(cfg) if cfg.mesh.use_mesh_head else cfg


def build_mesh_model(cfg: ExperimentConfig) -> MeshRecovery:
    """The model to train; its vertex subset feeds the smoothness term."""
    model = create_mesh_model(cfg)
    stride = cfg.mesh.smoothness_vertex_stride
    model.vertex_ids = (
        torch.arange(0, model.body.num_vertices, stride) if cfg.mesh.loss_smoothness else False
    )
    return model


def build_mesh_optimizer(model: MeshRecovery, cfg: ExperimentConfig) -> torch.optim.Optimizer:
    """AdamW: the head at ``train.lr``; an unfrozen backbone at ``mesh.backbone_lr``."""
    groups = param_groups(model.head, cfg.train.weight_decay)
    if not cfg.mesh.freeze_backbone:
        for group in param_groups(model.backbone, cfg.train.weight_decay):
            groups.append({**group, "lr": cfg.mesh.backbone_lr})
    groups = [g for g in groups if g["params"]]
    return torch.optim.AdamW(groups, lr=cfg.train.lr)


def build_mesh_loss(cfg: ExperimentConfig, model: MeshRecovery) -> MeshLoss:
    """The mesh loss on the model's body model, on the model's device."""
    device = next(model.head.parameters()).device
    return MeshLoss(cfg.mesh, model.body).to(device)


def mesh_checkpoint_entries(model: MeshRecovery) -> dict[str, Any]:
    """What a mesh run's training checkpoint holds besides the lifter's entries: the record of
    its body model (`ssrstf.mesh.model.BODY_RECORD`), checked when the run is resumed or loaded."""
    return {BODY_RECORD: trained_body(model)}


def check_resumed_body(ckpt: dict[str, Any], model: MeshRecovery, source: str | Path) -> None:
    """Check that a resumed mesh run trains on the body model its checkpoint records.

    No override here: a head trained on one body model and continued on another is neither;
    start a new run instead (a checkpoint without a record, from an older ssrstf, resumes).

    Raises:
        ValueError: One line naming both body models.
    """
    record = recorded_body(ckpt.get(BODY_RECORD), source=source)
    hint = "resume it with that body model, or start a new run on this one"
    check_body_record(record, model.body, source=source, hint=hint)
