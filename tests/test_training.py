"""Training: losses, optimiser groups, schedule, checkpoints, fit, exact resume, DDP."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import subprocess
import sys
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrstf.checkpoint import (
    export_weights,
    load_checkpoint,
    load_model,
    model_differences,
    save_checkpoint,
)
from ssrstf.config import ConfigError, ExperimentConfig, ModelConfig, load_config
from ssrstf.models import build_model
from ssrstf.training.losses import LiftingLoss, mpjpe_loss, n_mpjpe_loss, velocity_loss
from ssrstf.training.optim import lr_factor, param_groups
from ssrstf.training.trainer import fit

ROOT = Path(__file__).resolve().parents[1]


def tiny_cfg(data_path: Path, *overrides: str) -> ExperimentConfig:
    base = [
        f"data.path={data_path}",
        "data.input_source=gt",
        "data.train_subjects=[S1, S5]",
        "model.num_frames=9",
        "train.batch_size=4",
        "train.num_threads=1",
        "eval.every=1",
        "eval.batch_size=16",
        "model.drop_path_rate=0.1",  # exercises the per-step RNG seeds on resume
    ]
    return load_config(ROOT / "configs" / "tiny_debug.yaml", [*base, *overrides])


def test_losses_on_hand_built_values() -> None:
    target = torch.zeros(1, 2, 2, 3)
    pred = torch.zeros(1, 2, 2, 3)
    pred[..., 0] = 3.0
    pred[..., 1] = 4.0
    assert mpjpe_loss(pred, target).item() == pytest.approx(5.0)
    assert velocity_loss(pred, target).item() == pytest.approx(0.0)
    gt = torch.randn(2, 5, 17, 3)
    assert n_mpjpe_loss(2.5 * gt, gt).item() == pytest.approx(0.0, abs=1e-5)
    assert velocity_loss(pred[:, :1], target[:, :1]).item() == 0.0  # one frame: no velocity


def test_losses_equal_the_reported_metrics() -> None:
    """Each loss term equals its numpy metric (`ssrstf.evaluation.metrics`, written apart), and
    the total weighs them as configured."""
    from ssrstf.evaluation.metrics import mpjpe, mpjve, n_mpjpe

    torch.manual_seed(0)
    gt = torch.randn(2, 5, 17, 3, dtype=torch.float64)
    pred = 0.8 * gt + 0.1 * torch.randn_like(gt)  # scaled and noisy: every term is non-zero
    m = mpjpe(pred.numpy(), gt.numpy()).mean()
    n = n_mpjpe(pred.numpy(), gt.numpy()).mean()
    v = mpjve(pred.numpy(), gt.numpy()).mean()
    assert min(m, n, v) > 0.01 and n < m
    assert mpjpe_loss(pred, gt).item() == pytest.approx(m, rel=1e-12)
    assert n_mpjpe_loss(pred, gt).item() == pytest.approx(n, rel=1e-12)
    assert velocity_loss(pred, gt).item() == pytest.approx(v, rel=1e-12)
    total, terms = LiftingLoss(mpjpe=1.0, n_mpjpe=0.5, velocity=20.0)(pred, gt)
    assert terms == pytest.approx({"mpjpe": m, "n_mpjpe": n, "velocity": v}, rel=1e-12)
    assert total.item() == pytest.approx(m + 0.5 * n + 20.0 * v, rel=1e-12)
    total, terms = LiftingLoss(mpjpe=2.0, n_mpjpe=0.0, velocity=0.0)(pred, gt)
    assert set(terms) == {"mpjpe"} and total.item() == pytest.approx(2.0 * m, rel=1e-12)


def test_no_weight_decay_on_norms_biases_and_embeddings() -> None:
    model = build_model("xsmall", dim=16, depth=1, num_heads=2)
    decay, no_decay = param_groups(model, 0.01)
    names = {id(p): n for n, p in model.named_parameters()}
    no_decay_names = {names[id(p)] for p in no_decay["params"]}
    assert "spatial_pos_embed" in no_decay_names
    assert all(names[id(p)].endswith("weight") for p in decay["params"])
    assert not any("norm" in names[id(p)] or "bias" in names[id(p)] for p in decay["params"])
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0


def test_schedules() -> None:
    cfg = load_config(overrides=["train.warmup_steps=10", "train.lr_decay=0.5"]).train
    assert lr_factor(0, cfg=cfg, steps_per_epoch=100, total_steps=1000) == pytest.approx(0.1)
    assert lr_factor(150, cfg=cfg, steps_per_epoch=100, total_steps=1000) == pytest.approx(0.5)
    cos = load_config(overrides=["train.schedule=cosine", "train.max_steps=100"]).train
    assert lr_factor(0, cfg=cos, steps_per_epoch=10, total_steps=100) == pytest.approx(1.0)
    assert lr_factor(50, cfg=cos, steps_per_epoch=10, total_steps=100) == pytest.approx(0.5)
    assert lr_factor(100, cfg=cos, steps_per_epoch=10, total_steps=100) == pytest.approx(0.0)
    # cosine_time: the horizon is the wall-clock budget, whatever the step count.
    timed = load_config(
        overrides=["train.schedule=cosine_time", "train.max_minutes=10", "train.min_lr_ratio=0.1"]
    ).train
    factor = partial(lr_factor, 5000, cfg=timed, steps_per_epoch=10, total_steps=100)
    assert factor(time_fraction=0.0) == pytest.approx(1.0)
    assert factor(time_fraction=0.5) == pytest.approx(0.55)
    assert factor(time_fraction=1.0) == pytest.approx(0.1)
    assert factor(time_fraction=3.0) == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="max_minutes"):
        load_config(overrides=["train.schedule=cosine_time"])


def test_checkpoint_round_trip_and_errors(tmp_path: Path) -> None:
    cfg = load_config(overrides=["model.variant=xsmall", "model.dim=16", "model.depth=1",
                                 "model.num_heads=2"])  # fmt: skip
    model = build_model(cfg.model).eval()
    from ssrstf.config import to_dict

    save_checkpoint(tmp_path / "a.pt", {"config": to_dict(cfg), "model": model.state_dict()})
    loaded, loaded_cfg = load_model(tmp_path / "a.pt")
    assert loaded_cfg == cfg
    x = torch.randn(1, 5, 17, 3)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), model(x))
    export_weights(tmp_path / "w.safetensors", model, cfg, note="test")
    again, _ = load_model(tmp_path / "w.safetensors")
    with torch.no_grad():
        torch.testing.assert_close(again(x), model(x))
    # Corrupt file, foreign file, wrong architecture: clear errors.
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable ssrstf checkpoint"):
        load_checkpoint(tmp_path / "bad.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "foreign.pt")
    with pytest.raises(ValueError, match="not an ssrstf checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    other = build_model("xsmall", dim=16, depth=2, num_heads=2)
    save_checkpoint(tmp_path / "mismatch.pt", {"config": to_dict(cfg), "model": other.state_dict()})
    with pytest.raises(ValueError, match="do not match the model architecture"):
        load_model(tmp_path / "mismatch.pt")
    for version, message in (("2", "format_version is not a number"), (99, "format 99 is newer")):
        torch.save({"format_version": version, "model": {}}, tmp_path / "v.pt")
        with pytest.raises(ValueError, match=message):
            load_checkpoint(tmp_path / "v.pt")
    save_checkpoint(tmp_path / "odd.pt", {"config": to_dict(cfg), "model": [torch.zeros(1)]})
    with pytest.raises(ValueError, match="the weights are not a mapping of names to tensors"):
        load_model(tmp_path / "odd.pt")
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(1)}, str(tmp_path / "foreign.safetensors"))
    with pytest.raises(ValueError, match="not an ssrstf checkpoint \\(no 'ssrstf' config in its"):
        load_model(tmp_path / "foreign.safetensors")
    meta = {"format": "ssrstf", "config": "{not json"}
    save_file({"w": torch.zeros(1)}, str(tmp_path / "j.safetensors"), metadata=meta)
    with pytest.raises(ValueError, match="the stored config is not valid JSON"):
        load_model(tmp_path / "j.safetensors")
    from ssrstf.mesh.model import load_mesh_model

    with pytest.raises(ValueError, match="not an ssrstf mesh model \\(no 'ssrstf-mesh' config"):
        load_mesh_model(tmp_path / "w.safetensors")  # a lifter's weights
    from ssrstf.checkpoint import resolve_packaged

    with pytest.raises(FileNotFoundError, match="the packaged mesh head is missing: "):
        resolve_packaged("default", tmp_path / "none.safetensors", "mesh head")
    assert resolve_packaged("j.safetensors", tmp_path / "none", "x") == Path("j.safetensors")
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"model": {"w": torch.ones(1)}, "epoch": 1})

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # killed half-way through writing

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_checkpoint(path, {"model": {"w": torch.zeros(1)}, "epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_fit_writes_a_run_directory(synthetic_h36m: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    best = fit(tiny_cfg(synthetic_h36m), run)
    assert best.is_file()
    assert "final evaluation (gt 2D)" in capsys.readouterr().err  # the long one shows progress
    assert {"config.yaml", "metrics.jsonl", "last.pt", "best.pt", "final.json"} <= {
        p.name for p in run.iterdir()
    }
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert records[-1]["eval"] == "final full" and records[-1]["p1_mm"] > 0
    assert load_config(run / "config.yaml") == tiny_cfg(synthetic_h36m)
    with pytest.raises(ValueError, match="already holds a run"):
        fit(tiny_cfg(synthetic_h36m), run)


def test_single_frame_baseline_trains_in_the_same_loop(synthetic_h36m: Path, tmp_path) -> None:
    cfg = load_config(
        ROOT / "configs" / "baseline-mlp_1f_h36m-gt.yaml",
        [f"data.path={synthetic_h36m}", "data.train_subjects=[S1]", "model.dim=32",
         "train.batch_size=64", "train.max_steps=3", "train.num_threads=1",
         "train.schedule=cosine", "eval.batch_size=256"],
    )  # fmt: skip
    run = tmp_path / "mlp"
    best = fit(cfg, run)
    final = json.loads((run / "final.json").read_text())
    assert final["p1_mm"] > 0
    model, loaded = load_model(best)
    assert loaded.model.architecture == "mlp" and type(model).__name__ == "SingleFrameMLP"


def test_quick_evaluations_do_not_count_against_the_budget(
    synthetic_h36m: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from ssrstf.training import trainer

    # A clock that jumps 1000 s during every quick evaluation: if evaluation time counted as
    # training time, the run's elapsed time would be over 3000 s after three of them.
    real_monotonic, jump = time.monotonic, [0.0]
    monkeypatch.setattr(trainer.time, "monotonic", lambda: real_monotonic() + jump[0])
    evaluate = trainer._Loop.evaluate

    def slow_evaluate(self, streams, progress, train_stats, final):  # noqa: ANN001
        evaluate(self, streams, progress, train_stats, final)
        if not final:
            jump[0] += 1000.0

    monkeypatch.setattr(trainer._Loop, "evaluate", slow_evaluate)
    run = tmp_path / "run"
    fit(tiny_cfg(synthetic_h36m, "train.max_steps=4", "train.eval_every_steps=1"), run)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]  # three quick ones, then the final one
    elapsed = load_checkpoint(run / "last.pt")["progress"]["elapsed_s"]
    assert jump[0] == 3000.0 and elapsed < 1000.0, f"evaluation time counted ({elapsed:.0f} s)"


def test_resume_after_the_budget_was_spent_trains_no_further_step(
    synthetic_h36m: Path, tmp_path: Path
) -> None:
    """A run that ended by its CPU-time budget and is resumed (say it was killed during its
    final evaluation): the same step, the same weights, the end written again."""
    run = tmp_path / "run"
    fit(tiny_cfg(synthetic_h36m, "train.max_minutes=0.002", "train.schedule=cosine_time",
                 "train.clock=cpu", "train.epochs=50"), run)  # fmt: skip
    before = load_checkpoint(run / "last.pt")
    assert before["progress"]["elapsed_s"] >= 0.12 and (run / "final.json").is_file()
    (run / "final.json").unlink()
    fit(None, run, resume=True)
    after = load_checkpoint(run / "last.pt")
    assert after["progress"]["global_step"] == before["progress"]["global_step"]
    for name, tensor in before["model"].items():
        assert torch.equal(after["model"][name], tensor)
    assert (run / "final.json").is_file()


def test_resuming_a_finished_run_changes_nothing(synthetic_h36m: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    fit(tiny_cfg(synthetic_h36m, "train.max_steps=3"), run)
    files = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    fit(None, run, resume=True)  # no second final evaluation, no duplicated record
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == files


def test_a_run_killed_in_its_later_end_evaluates_it_again(synthetic_h36m: Path, tmp_path) -> None:
    """A finished run resumed with a raised limit, killed in its new final evaluation: the old
    final.json (an earlier step) does not count as its end."""
    run = tmp_path / "run"
    fit(tiny_cfg(synthetic_h36m, "train.max_steps=3"), run)
    assert json.loads((run / "final.json").read_text())["step"] == 3
    ckpt = load_checkpoint(run / "last.pt")
    ckpt["config"]["train"]["max_steps"] = 5
    save_checkpoint(run / "last.pt", {k: v for k, v in ckpt.items() if k != "format_version"})
    fit(None, run, resume=True)
    final = json.loads((run / "final.json").read_text())
    (run / "final.json").write_text(json.dumps({**final, "step": 3}))  # the new end unwritten
    fit(None, run, resume=True)
    assert json.loads((run / "final.json").read_text())["step"] == 5
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if r["eval"].startswith("final")] == [3, 5]


def test_a_run_killed_while_writing_its_end_logs_one_final_record(
    synthetic_h36m: Path, tmp_path: Path
) -> None:
    run = tmp_path / "run"
    fit(tiny_cfg(synthetic_h36m, "train.max_steps=3"), run)
    (run / "final.json").unlink()  # killed after logging the final record, before final.json
    fit(None, run, resume=True)
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["eval"].startswith("final") for r in records].count(True) == 1
    assert (run / "final.json").is_file()


def test_resume_refuses_another_number_of_processes(synthetic_h36m: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    fit(tiny_cfg(synthetic_h36m, "train.max_steps=3", "train.epochs=5"), run)
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["world_size"] == 1
    ckpt["config"]["train"]["max_steps"] = 0
    state = {k: v for k, v in ckpt.items() if k != "format_version"}
    save_checkpoint(run / "last.pt", {**state, "world_size": 2})
    with pytest.raises(
        ValueError, match=r"trained by 2 process\(es\), not 1: resume it with torchrun"
    ):
        fit(None, run, resume=True)
    # A checkpoint of an older version (no world_size) past the end of this epoch length: the
    # data loader would yield nothing, and the loop would never end.
    del state["world_size"]
    state["progress"] = {**state["progress"], "step_in_epoch": 10_000}
    save_checkpoint(run / "last.pt", state)
    with pytest.raises(ValueError, match="another number of processes"):
        fit(None, run, resume=True)


def test_one_run_at_a_time_in_a_folder(synthetic_h36m: Path, tmp_path: Path) -> None:
    from ssrstf.files import OutputLockedError, output_lock

    run = tmp_path / "run"
    with output_lock(run), pytest.raises(OutputLockedError, match="another ssrstf run"):
        fit(tiny_cfg(synthetic_h36m, "train.max_steps=1"), run)
    assert not (run / "metrics.jsonl").exists()
    with pytest.raises(FileNotFoundError, match="run directory not found"):
        fit(None, tmp_path / "absent", resume=True)
    assert not (tmp_path / "absent").exists()


def test_test_subjects_are_the_protocol_s(synthetic_h36m: Path, tmp_path: Path) -> None:
    cfg = tiny_cfg(synthetic_h36m, "data.test_subjects=[S9]", "train.max_steps=1")
    with pytest.raises(ValueError, match=r"data.test_subjects \['S9'\] are not the videopose3d"):
        fit(cfg, tmp_path / "run")
    cfg = tiny_cfg(synthetic_h36m, "data.train_subjects=[S1, S9]", "train.max_steps=1")
    with pytest.raises(ValueError, match=r"data.train_subjects include the test subjects \['S9'\]"):
        fit(cfg, tmp_path / "run")


def test_resume_equals_uninterrupted(synthetic_h36m: Path, tmp_path: Path) -> None:
    two = tmp_path / "two"
    fit(tiny_cfg(synthetic_h36m, "train.epochs=2"), two)
    split = tmp_path / "split"
    fit(tiny_cfg(synthetic_h36m, "train.epochs=1"), split)
    # Continue the same run for a second epoch: raise the epoch limit in its saved config.
    ckpt = load_checkpoint(split / "last.pt")
    ckpt["config"]["train"]["epochs"] = 2
    save_checkpoint(split / "last.pt", {k: v for k, v in ckpt.items() if k != "format_version"})
    fit(None, split, resume=True)
    a, b = load_checkpoint(two / "last.pt"), load_checkpoint(split / "last.pt")
    assert a["progress"]["global_step"] == b["progress"]["global_step"] > 0
    for key, value in a["model"].items():
        torch.testing.assert_close(value, b["model"][key], rtol=0, atol=0, msg=key)


def test_mid_epoch_resume_equals_uninterrupted(synthetic_h36m: Path, tmp_path: Path) -> None:
    full = tmp_path / "full"
    fit(tiny_cfg(synthetic_h36m), full)
    steps = load_checkpoint(full / "last.pt")["progress"]["global_step"]
    part = tmp_path / "part"
    fit(tiny_cfg(synthetic_h36m, f"train.max_steps={steps // 2}"), part)
    ckpt = load_checkpoint(part / "last.pt")
    assert 0 < ckpt["progress"]["step_in_epoch"] < steps
    ckpt["config"]["train"]["max_steps"] = 0
    save_checkpoint(part / "last.pt", {k: v for k, v in ckpt.items() if k != "format_version"})
    fit(None, part, resume=True)
    a, b = load_checkpoint(full / "last.pt"), load_checkpoint(part / "last.pt")
    for key, value in a["model"].items():
        torch.testing.assert_close(value, b["model"][key], rtol=0, atol=0, msg=key)


def test_resume_restores_the_fp16_loss_scaler(
    synthetic_h36m: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """fp16 on CUDA trains with a loss scaler: its scale and growth count are saved (loadable
    with weights_only) and restored; a checkpoint without them (an older ssrstf) still resumes.
    An enabled CPU scaler stands in for the CUDA one."""
    cpu_scaler = torch.amp.GradScaler
    monkeypatch.setattr(torch.amp, "GradScaler", lambda *args, **kwargs: cpu_scaler("cpu"))
    run = tmp_path / "run"
    fit(tiny_cfg(synthetic_h36m, "train.max_steps=3", "train.epochs=5"), run)
    ckpt = load_checkpoint(run / "last.pt")
    assert ckpt["scaler"] == {**cpu_scaler("cpu").state_dict(), "_growth_tracker": 3}
    ckpt["config"]["train"]["max_steps"] = 5
    ckpt["scaler"] |= {"scale": 1024.0, "_growth_tracker": 7}
    state = {k: v for k, v in ckpt.items() if k != "format_version"}
    save_checkpoint(run / "last.pt", state)
    fit(None, run, resume=True)
    scaler = load_checkpoint(run / "last.pt")["scaler"]
    assert (scaler["scale"], scaler["_growth_tracker"]) == (1024.0, 9)  # 2 more steps
    # A checkpoint of an older ssrstf: no scaler entry. It resumes, from the initial scale.
    del state["scaler"]
    state["config"]["train"]["max_steps"] = 7
    save_checkpoint(run / "last.pt", state)
    with caplog.at_level(logging.WARNING, logger="ssrstf.training.trainer"):
        fit(None, run, resume=True)
    assert "holds no loss-scaler state" in caplog.text
    after = load_checkpoint(run / "last.pt")
    assert after["progress"]["global_step"] == 7
    assert (after["scaler"]["scale"], after["scaler"]["_growth_tracker"]) == (65536.0, 4)


def test_each_step_and_each_rank_draws_its_own_dropout_masks() -> None:
    """The torch RNG is seeded per (seed, rank, step): a step's draws repeat exactly (what an
    exact resume needs, with no generator state in the checkpoint), and differ between steps,
    seeds and DDP ranks (ranks seeded alike would drop the same units on different data)."""
    from ssrstf.training.trainer import step_seed

    def mask(seed: int, rank: int, step: int) -> torch.Tensor:
        torch.manual_seed(step_seed(seed, rank, step))
        return torch.nn.functional.dropout(torch.ones(256), p=0.5) > 0

    assert torch.equal(mask(0, 1, 7), mask(0, 1, 7))
    others = [mask(0, 0, 7), mask(0, 1, 8), mask(1, 1, 7)]
    assert all(not torch.equal(mask(0, 1, 7), other) for other in others)
    assert len({step_seed(0, rank, step) for rank in range(4) for step in range(1000)}) == 4000


def test_training_samples_ignore_the_global_numpy_and_python_rngs(synthetic_h36m: Path) -> None:
    """The checkpoint saves no numpy or Python RNG state: flips and augmentations must not draw
    from them, or a resumed run would see other samples."""
    from ssrstf.data.dataset import build_datasets

    cfg = tiny_cfg(synthetic_h36m, "data.augment.degrade_fraction=1.0",
                   "data.augment.detector_fraction=0.5")  # fmt: skip
    train, _ = build_datasets(cfg)
    train.set_epoch(1)
    saved = np.random.get_state(), random.getstate()
    try:
        samples = []
        for seed in (0, 1):
            np.random.seed(seed)
            random.seed(seed)
            samples.append(train.__getitems__(list(range(16))))
    finally:
        np.random.set_state(saved[0])
        random.setstate(saved[1])
    for (xa, ya), (xb, yb) in zip(*samples, strict=True):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_init_weights_starts_a_new_run_from_a_checkpoint(synthetic_h36m: Path, tmp_path) -> None:
    first = tmp_path / "first"
    fit(tiny_cfg(synthetic_h36m, "train.max_steps=3"), first)
    trained = load_checkpoint(first / "last.pt")["model"]
    # A fine-tuning start at a vanishing rate keeps the loaded weights; a random start does not.
    still = ("train.max_steps=1", "train.lr=1e-12", "train.warmup_steps=0", "train.schedule=cosine")
    tuned, scratch = tmp_path / "tuned", tmp_path / "scratch"
    fit(tiny_cfg(synthetic_h36m, *still, f"train.init_weights={first / 'last.pt'}"), tuned)
    fit(tiny_cfg(synthetic_h36m, *still), scratch)
    started = load_checkpoint(tuned / "last.pt")
    assert started["progress"]["global_step"] == 1  # optimiser and step start afresh
    for key, value in trained.items():
        torch.testing.assert_close(started["model"][key], value, rtol=0, atol=1e-6, msg=key)
    fresh = load_checkpoint(scratch / "last.pt")["model"]
    assert any(not torch.allclose(fresh[k], v) for k, v in trained.items() if v.is_floating_point())
    assert load_config(tuned / "config.yaml").train.init_weights == str(first / "last.pt")


def test_init_weights_refuses_another_architecture_before_reading_data(
    synthetic_h36m: Path, tmp_path: Path
) -> None:
    first = tmp_path / "first"
    fit(tiny_cfg(synthetic_h36m, "train.max_steps=1"), first)
    wider = tiny_cfg(
        tmp_path / "no-such-data.npz",
        "model.dim=24",
        f"train.init_weights={first / 'last.pt'}",
    )
    with pytest.raises(ValueError, match=r"different architecture \(model\.dim: 16 there, 24 here"):
        fit(wider, tmp_path / "second")
    with pytest.raises(FileNotFoundError, match="missing.pt"):
        missing = f"train.init_weights={tmp_path / 'missing.pt'}"
        fit(tiny_cfg(synthetic_h36m, missing), tmp_path / "x")


def test_model_differences_names_the_first_differing_keys() -> None:
    base = ModelConfig()
    other = replace(base, dim=base.dim + 8, depth=base.depth + 1)
    text = model_differences(base, other)
    assert f"model.dim: {base.dim} there, {base.dim + 8} here" in text
    assert f"model.depth: {base.depth} there, {base.depth + 1} here" in text
    assert model_differences(base, base) == ""
    many = replace(other, num_frames=base.num_frames + 2, local_stream="none")
    assert model_differences(base, many, limit=2).count(" here") == 2


def _torchrun(tmp_path: Path, *train_args: str) -> None:
    """``ssrstf train ARGS`` as two CPU processes under torchrun (gloo), one thread each."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    cmd = [*launcher, "-m", "ssrstf", "train", *train_args]
    # Its own process group: on a timeout the workers go too, not only the launcher.
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    try:
        _, stderr = proc.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"torchrun {' '.join(train_args)} did not end within 300 s")
    assert proc.returncode == 0, stderr[-3000:]


def test_two_process_gloo_run(synthetic_h36m: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    cfg = tiny_cfg(synthetic_h36m)
    from ssrstf.config import save_config

    save_config(cfg, tmp_path / "cfg.yaml")
    _torchrun(tmp_path, "--config", str(tmp_path / "cfg.yaml"), "--out", str(run))
    ckpt = load_checkpoint(run / "last.pt")
    single = load_checkpoint(_single(cfg, tmp_path) / "last.pt")
    # Two ranks of batch 4 see 8 clips per step: half the steps of one process.
    assert ckpt["progress"]["global_step"] * 2 in (
        single["progress"]["global_step"],
        single["progress"]["global_step"] - 1,
    )
    assert (run / "final.json").is_file()


def test_two_process_mid_epoch_resume_equals_uninterrupted(
    synthetic_h36m: Path, tmp_path: Path
) -> None:
    """A multi-session DDP run: interrupted mid-epoch and resumed under torchrun, it ends with
    the weights of the uninterrupted run, bit for bit (each rank skips its own seen clips)."""
    from ssrstf.config import save_config

    save_config(tiny_cfg(synthetic_h36m), tmp_path / "full.yaml")
    _torchrun(tmp_path, "--config", str(tmp_path / "full.yaml"), "--out", "full")
    steps = load_checkpoint(tmp_path / "full" / "last.pt")["progress"]["global_step"]
    assert steps >= 2
    save_config(tiny_cfg(synthetic_h36m, f"train.max_steps={steps // 2}"), tmp_path / "part.yaml")
    _torchrun(tmp_path, "--config", str(tmp_path / "part.yaml"), "--out", "part")
    ckpt = load_checkpoint(tmp_path / "part" / "last.pt")
    assert 0 < ckpt["progress"]["step_in_epoch"] < steps
    ckpt["config"]["train"]["max_steps"] = 0  # continue the same run to the end of its epoch
    save_checkpoint(
        tmp_path / "part" / "last.pt", {k: v for k, v in ckpt.items() if k != "format_version"}
    )
    _torchrun(tmp_path, "--resume", "part")
    a = load_checkpoint(tmp_path / "full" / "last.pt")
    b = load_checkpoint(tmp_path / "part" / "last.pt")
    assert a["progress"]["global_step"] == b["progress"]["global_step"] == steps
    for key, value in a["model"].items():
        torch.testing.assert_close(value, b["model"][key], rtol=0, atol=0, msg=key)


def _single(cfg: ExperimentConfig, tmp_path: Path) -> Path:
    run = tmp_path / "single"
    fit(cfg, run)
    return run


def test_evaluate_runs_a_model_at_another_frame_stride(
    synthetic_h36m: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--frame-stride`` / ``frame_stride=``: the same weights at another input stride, scored
    as a model trained at that stride would be (every frame once, every phase)."""
    from ssrstf.checkpoint import export_weights
    from ssrstf.cli import main
    from ssrstf.training.scoring import evaluate_checkpoint

    cfg = tiny_cfg(synthetic_h36m, "model.layer_scale_init=1.0")  # blocks that mix frames
    torch.manual_seed(0)
    model = build_model(cfg.model)
    plain = export_weights(tmp_path / "plain.safetensors", model, cfg)
    strided_cfg = replace(cfg, data=replace(cfg.data, frame_stride=2))
    strided = export_weights(tmp_path / "strided.safetensors", model, strided_cfg)
    at_one = evaluate_checkpoint(strided, synthetic_h36m, frame_stride=1)
    reference = evaluate_checkpoint(plain, synthetic_h36m)
    assert at_one.p1_mm == pytest.approx(reference.p1_mm, rel=1e-9)
    at_two = evaluate_checkpoint(strided, synthetic_h36m)
    assert abs(at_two.p1_mm - reference.p1_mm) > 1e-6  # other inputs (untrained: barely)
    capsys.readouterr()
    args = ["evaluate", "--checkpoint", str(plain), "--data", str(synthetic_h36m), "--json"]
    assert main([*args, "--frame-stride", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["p1_mm"] == pytest.approx(at_two.p1_mm, rel=1e-9)
    assert result["frames"] == at_two.to_dict()["frames"] == reference.to_dict()["frames"]
    with pytest.raises(SystemExit):
        main([*args, "--frame-stride", "0"])


@pytest.mark.parametrize("frame_stride", [1, 2])
def test_evaluate_with_overlap_scores_what_ssrstf_infer_lifts(
    synthetic_h36m: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], frame_stride: int
) -> None:
    """``--overlap K`` / ``overlap=``: the figure of `Lifter(overlap=K)`'s stitched poses of every
    test stream (the user's path), scored as stored predictions; refused where clips are fixed."""
    from ssrstf.checkpoint import export_weights
    from ssrstf.cli import main
    from ssrstf.data.dataset import stream_clips
    from ssrstf.data.h36m import load_streams
    from ssrstf.evaluation.protocol import VIDEOPOSE3D, evaluate_predictions
    from ssrstf.lifting.lifter import Lifter
    from ssrstf.training.scoring import evaluate_checkpoint

    cfg = tiny_cfg(synthetic_h36m, "model.layer_scale_init=1.0")  # blocks that mix frames
    torch.manual_seed(0)
    weights = export_weights(tmp_path / "model.safetensors", build_model(cfg.model), cfg)
    result = evaluate_checkpoint(weights, synthetic_h36m, overlap=3, frame_stride=frame_stride)
    streams = load_streams(synthetic_h36m, subjects=["S9", "S11"])
    assert min(streams.lengths) >= 9 * frame_stride  # no stream padded (infer) or resampled
    lifter = Lifter(weights, overlap=3, frame_stride=frame_stride)
    predictions = {
        key: lifter.lift(streams.poses_2d["gt"][streams.frames(i)], tuple(streams.image_size[i]))
        for i, key in enumerate(streams.keys)
    }
    test = stream_clips(streams, ground_truth="camera", clip_len=9, cover_all=True)
    reference = evaluate_predictions(VIDEOPOSE3D, test, predictions)
    assert result.p1_mm == pytest.approx(reference.p1_mm, rel=1e-5)
    assert result.p2_mm == pytest.approx(reference.p2_mm, rel=1e-5)
    assert result.frames == reference.frames and "overlapping by 3 frames" in result.label
    disjoint = evaluate_checkpoint(weights, synthetic_h36m, frame_stride=frame_stride)
    assert abs(result.p1_mm - disjoint.p1_mm) > 1e-6  # other windows (untrained: barely)
    capsys.readouterr()
    args = ["evaluate", "--checkpoint", str(weights), "--data", str(synthetic_h36m)]
    args += ["--frame-stride", str(frame_stride)]
    assert main([*args, "--overlap", "3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["p1_mm"] == pytest.approx(result.p1_mm, rel=1e-9)
    for bad, message in (
        (["--overlap", "9"], "eval.overlap (--overlap) must be < the clip length"),
        (["--overlap", "-1"], "eval.overlap (--overlap) must be >= 0"),
    ):
        assert main([*args, *bad]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1


def test_evaluate_checkpoint_cli_reproduces_the_final_training_figure(
    synthetic_h36m: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssrstf.cli import main

    run = tmp_path / "run"
    fit(tiny_cfg(synthetic_h36m), run)
    final = json.loads((run / "final.json").read_text())
    capsys.readouterr()
    args = ["evaluate", "--checkpoint", str(run / "last.pt"), "--data", str(synthetic_h36m)]
    assert main([*args, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["p1_mm"] == pytest.approx(final["p1_mm"], rel=1e-6)
    assert result["p2_mm"] == pytest.approx(final["p2_mm"], rel=1e-6)
    assert main([*args, "--json", "--no-flip"]) == 0
    assert json.loads(capsys.readouterr().out)["p1_mm"] != pytest.approx(final["p1_mm"])
    # Export to weights-only safetensors: same figure, and no silent overwrite.
    weights = tmp_path / "model.safetensors"
    assert main(["export", "--checkpoint", str(run / "last.pt"), "--out", str(weights)]) == 0
    capsys.readouterr()
    args[2] = str(weights)
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["p1_mm"] == pytest.approx(final["p1_mm"], rel=1e-6)
    assert main(["export", "--checkpoint", str(run / "last.pt"), "--out", str(weights)]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_evaluate_cli_errors_are_one_line(
    synthetic_h36m: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssrstf.cli import main

    (tmp_path / "bad.pt").write_bytes(b"\x00garbage")
    code = main(
        ["evaluate", "--checkpoint", str(tmp_path / "bad.pt"), "--data", str(synthetic_h36m)]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "not a readable ssrstf checkpoint" in err
    assert err.count("\n") == 1


def test_packaged_default_model_loads_and_runs() -> None:
    from safetensors import safe_open

    from ssrstf.checkpoint import DEFAULT_CHECKPOINT

    model, cfg = load_model("default")
    with safe_open(str(DEFAULT_CHECKPOINT), framework="pt") as f:
        assert "research use" in f.metadata()["note"]
    assert cfg.data.input_source == "gt" and cfg.model.num_frames == 27
    with torch.no_grad():
        out = model(torch.zeros(1, 5, 17, 3))
    assert out.shape == (1, 5, 17, 3) and torch.isfinite(out).all()


@pytest.mark.slow
@pytest.mark.dataset
def test_default_model_reproduces_the_documented_figure(tmp_path: Path) -> None:
    """docs/results.md: P1 36.13 mm / P2 27.26 mm (VideoPose3D protocol, GT 2D, flip TTA).

    Opt-in (``pytest -m slow``): prepares the shared data and evaluates every test frame (~15 min
    on 2 cores).
    """
    from ssrstf.data.h36m import save_streams
    from ssrstf.data.prepare import prepare_h36m
    from ssrstf.training.scoring import evaluate_checkpoint

    source = ROOT.parent / "shared" / "data" / "h36m"
    if not source.is_dir():
        pytest.skip(f"Human3.6M not found at {source}")
    data = save_streams(prepare_h36m(source, progress=False), tmp_path / "h36m.npz")
    result = evaluate_checkpoint("default", data, input_source="gt")
    assert result.p1_mm == pytest.approx(36.13, abs=0.01)
    assert result.p2_mm == pytest.approx(27.26, abs=0.01)
