"""Configuration: YAML round trip, overrides, strict key and type checking."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssrstf.config import (
    VARIANTS,
    ConfigError,
    ExperimentConfig,
    from_dict,
    load_config,
    save_config,
    to_dict,
)

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


def test_defaults_are_the_base_variant() -> None:
    cfg = load_config()
    assert cfg.model == VARIANTS["base"]
    assert cfg == ExperimentConfig()


def test_yaml_round_trip(tmp_path: Path) -> None:
    cfg = load_config(overrides=["model.variant=small", "train.lr=1e-3", "eval.every=4"])
    save_config(cfg, tmp_path / "config.yaml")
    assert load_config(tmp_path / "config.yaml") == cfg
    assert from_dict(to_dict(cfg)) == cfg


def test_variant_plus_overrides(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text("model:\n  variant: xsmall\n  depth: 3\ntrain:\n  epochs: 2\n")
    cfg = load_config(path, ["model.local_stream=gcn", "data.train_subjects=[S1, S5]"])
    assert (cfg.model.dim, cfg.model.depth, cfg.model.local_stream) == (64, 3, "gcn")
    assert cfg.data.train_subjects == ("S1", "S5")
    assert cfg.train.epochs == 2


def test_int_is_accepted_for_float_and_tuples_are_typed() -> None:
    cfg = load_config(overrides=["train.lr=1", "model.ssra_temporal_kernel=[3, 5, 2]"])
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.model.ssra_temporal_kernel == (3, 5, 2)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lrr=1e-3", "unknown config key 'train.lrr'"),
        ("model.colour=red", "unknown config key 'model.colour'"),
        ("optimizer.lr=1", "unknown config key 'optimizer'"),
        ("train.epochs=ten", "train.epochs expects int, got str 'ten'"),
        ("train.epochs=2.5", "train.epochs expects int"),
        ("model.global_stream=1", "model.global_stream expects bool"),
        ("model.fusion=max", "model.fusion='max' is not one of"),
        ("model.ssra_spatial_kernel=[3, 3]", "expects 3 values"),
        ("model.variant=huge", "unknown model.variant 'huge'"),
        ("train.lr=-1", "train.lr must be > 0"),
        ("eval.every=0", "eval.every must be >= 1"),
        ("train.epochs", "not of the form section.key=value"),
        ("model.num_heads=0", "model.num_heads must be >= 1"),
        ("train.checkpoint_minutes=-1", "train.checkpoint_minutes must be >= 0"),
        ("train.eval_every_steps=-5", "train.eval_every_steps must be >= 0"),
        ("train.grad_clip=-1", "train.grad_clip must be >= 0"),
    ],
)
def test_bad_values_name_the_key(override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_config(overrides=[override])


def test_overrides_fill_an_empty_section(tmp_path: Path) -> None:
    path = tmp_path / "empty_train.yaml"
    path.write_text("train:\nmodel:\n  dim: 32\n")
    cfg = load_config(path, ["train.batch_size=7"])
    assert cfg.train.batch_size == 7 and cfg.model.dim == 32


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ConfigError, match="mapping of sections"):
        load_config(bad)


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path: Path) -> None:
    cfg = load_config(path)
    assert isinstance(cfg, ExperimentConfig)
