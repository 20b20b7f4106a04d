"""Glue between the training loop (`ssrstf.training.trainer`) and mesh recovery (`ssrstf.mesh`).

A config with ``mesh.use_mesh_head: true`` trains `ssrstf.mesh.head.MeshRecovery` on the same
loop as the lifter: the model's ``model`` section is the backbone's (copied from the
``mesh.backbone`` checkpoint), the loss is `ssrstf.mesh.losses.MeshLoss`, quick and final
evaluations score the mesh joints (`MeshRecovery.joints_only`) with the lifter's protocol.
"""

from __future__ import annotations

import torch

from ssrstf.config import ExperimentConfig
from ssrstf.mesh.head import MeshRecovery
from ssrstf.mesh.losses import MeshLoss
from ssrstf.mesh.model import create_mesh_model, resolve_backbone_config
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
