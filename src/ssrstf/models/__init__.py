"""SSR-STF models: `build_model`, `create_model` and the `SSRSTF` module."""

from __future__ import annotations

from typing import Any

from torch import nn

from ssrstf.config import ModelConfig, model_config_from_name
from ssrstf.models.baseline import SingleFrameMLP
from ssrstf.models.ssrstf import SSRSTF


def create_model(cfg: ModelConfig) -> nn.Module:
    """The module ``cfg.architecture`` names: `SSRSTF` or the `SingleFrameMLP` baseline."""
    return SingleFrameMLP(cfg) if cfg.architecture == "mlp" else SSRSTF(cfg)


def build_model(spec: str | ModelConfig = "base", **overrides: Any) -> nn.Module:
    """Build an SSR-STF model (or the baseline its ``architecture`` names, as `create_model`).

    Args:
        spec: A variant name (``"xsmall"``, ``"small"``, ``"base"``, ``"large"``) or a full
            `ModelConfig`.
        **overrides: `ModelConfig` fields to change, e.g. ``local_stream="gcn"`` or
            ``architecture="mlp"`` (the `SingleFrameMLP` baseline).

    Returns:
        The model (randomly initialised, in training mode).
    """
    return create_model(model_config_from_name(spec, **overrides))


__all__ = ["SSRSTF", "SingleFrameMLP", "build_model", "create_model"]
