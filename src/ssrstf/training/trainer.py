"""The one training loop: every dataset, size and ablation; CPU or GPUs; resumable to the step.

``fit(cfg, run_dir)`` trains from scratch, ``fit(None, run_dir, resume=True)`` continues a run
from its ``last.pt``. Under ``torchrun`` (``WORLD_SIZE > 1``) it trains with PyTorch DDP (NCCL on
GPUs, gloo on CPU) and a ``DistributedSampler``; rank 0 alone logs, evaluates and writes files.

Exact resume: the shuffling order of an epoch is a function of ``(seed, epoch)``
(``DistributedSampler``), flips and augmentations of ``(seed, epoch, clip)`` (no global numpy or
Python RNG), the torch RNG (dropout, stochastic depth) is seeded at every step from ``(seed,
rank, step)`` (`step_seed`: each DDP rank draws its own masks), and the fp16 loss scaler on CUDA
is saved in the checkpoint, so an interrupted run continues bit-for-bit on CPU, including from a
mid-epoch checkpoint (the batches already seen are skipped without loading them). A time budget
(``train.max_minutes``, the ``cosine_time`` schedule) makes the stopping step and the learning
rate depend on measured time: such runs resume exactly where they stopped, but no two runs of
them are bit-identical.

``progress.elapsed_s`` (what ``train.max_minutes`` and the ``cosine_time`` schedule measure) is
training time: the quick evaluations during the run are not counted. It is wall-clock time, or
with ``train.clock: cpu`` the process's CPU time (all its threads), so a budget buys the same
compute however busy a shared machine is.

Run directory: ``config.yaml``, ``metrics.jsonl`` (one JSON object per evaluation), ``last.pt``,
``best.pt`` (lowest quick-evaluation P1, on the test subjects, as the reference code bases pick
their best epoch), ``final.json`` (full evaluation at the end) and, with
``train.use_tensorboard``, TensorBoard events.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Sampler
from tqdm import tqdm

from ssrstf.checkpoint import (
    check_device,
    load_checkpoint,
    load_weights,
    read_init_weights,
    save_checkpoint,
    stored_config,
)
from ssrstf.config import ExperimentConfig, TrainConfig, load_config, save_config, to_dict
from ssrstf.data.dataset import build_datasets
from ssrstf.data.h36m import Streams
from ssrstf.files import atomic_write, output_lock
from ssrstf.models import create_model
from ssrstf.models.attention import set_compiled_training_attention
from ssrstf.training.allocator import keep_freed_memory
from ssrstf.training.losses import LiftingLoss
from ssrstf.training.mesh_training import (
    build_mesh_loss,
    build_mesh_model,
    build_mesh_optimizer,
    check_resumed_body,
    mesh_checkpoint_entries,
    prepare_mesh_config,
)
from ssrstf.training.optim import build_optimizer, build_scheduler
from ssrstf.training.scoring import (
    build_eval_streams,
    evaluate_on_streams,
    load_experiment_streams,
    protocol_of,
)

logger = logging.getLogger(__name__)


@dataclass
class Progress:
    """Where a run stands; saved in every checkpoint."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    elapsed_s: float = 0.0
    best: dict[str, float] = field(default_factory=dict)


class _SkipSampler(Sampler[int]):
    """A ``DistributedSampler`` epoch with its first ``skip`` samples dropped (mid-epoch resume)."""

    def __init__(self, sampler: DistributedSampler, skip: int) -> None:
        self.sampler, self.skip = sampler, skip

    def __iter__(self):
        indices = list(self.sampler)
        return iter(indices[self.skip :])

    def __len__(self) -> int:
        return max(len(self.sampler) - self.skip, 0)


def resolve_device(spec: str) -> torch.device:
    """``auto`` → CUDA when available (this rank's GPU under torchrun), else CPU."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec == "cuda" and "LOCAL_RANK" in os.environ:
        spec = f"cuda:{os.environ['LOCAL_RANK']}"
    return check_device(spec, option="train.device")


DDP_TIMEOUT = timedelta(hours=3)
"""How long a rank waits in a collective for the others. Rank 0 evaluates and writes checkpoints
while the other ranks wait in their next gradient reduction; a quick evaluation of a long-context
model on a slow CPU can take many minutes, and PyTorch's default (30 minutes for gloo) would end
a multi-day run. A dead rank is noticed by ``torchrun`` at once, not by this timeout."""


def step_seed(seed: int, rank: int, step: int) -> int:
    """The seed of the torch RNG (dropout, stochastic depth) for training step ``step`` (0-based)
    on process ``rank``: a function of the three, as the data path's draws are of ``(seed, epoch,
    clip)``. Reseeding every step makes a resumed run draw exactly what an uninterrupted one
    would, with no generator state in the checkpoint, and under DDP gives each rank its own
    masks (ranks seeded alike would drop the same units on different data)."""
    state = np.random.SeedSequence((seed, rank, step)).generate_state(1, dtype=np.uint64)
    return int(state[0])


def _restore_scaler(
    scaler: torch.amp.GradScaler, state: dict[str, Any] | None, *, source: Path
) -> None:
    """Restore the fp16 loss scale and its growth count (nothing to do when ``scaler`` is
    disabled: fp32, bf16 or CPU). A checkpoint without them (an older ssrstf) starts the scale
    again from its initial value, with a warning."""
    if not scaler.is_enabled():
        return
    if not state:
        logger.warning(
            "%s holds no loss-scaler state (written by an older ssrstf or without fp16): the "
            "fp16 loss scale starts again from its initial value",
            source,
        )
        return
    scaler.load_state_dict(state)


def _distributed() -> bool:
    """True inside a multi-process (DDP) run."""
    return dist.is_available() and dist.is_initialized()


def _init_distributed(device: torch.device) -> tuple[int, int]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend, timeout=DDP_TIMEOUT)
    return (dist.get_rank(), world) if world > 1 else (0, 1)


class _Logger:
    """metrics.jsonl (+ optional TensorBoard) on rank 0."""

    def __init__(self, run_dir: Path, use_tensorboard: bool) -> None:
        self.path = run_dir / "metrics.jsonl"
        self.tb = None
        if use_tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # optional extra "logging"

            self.tb = SummaryWriter(str(run_dir / "tensorboard"))

    def log(self, record: dict[str, Any]) -> None:
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, int | float) and k != "step":
                    self.tb.add_scalar(k, v, record["step"])
            self.tb.flush()


def fit(
    cfg: ExperimentConfig | None,
    run_dir: str | Path,
    *,
    resume: bool = False,
    streams: Streams | None = None,
) -> Path:
    """Train (or resume) a run; returns the path of the best checkpoint.

    Args:
        cfg: The experiment; None when resuming (the run's saved config is used).
        run_dir: Run directory (created).
        resume: Continue from ``run_dir/last.pt``; a run killed before its first checkpoint
            (only ``config.yaml`` there) starts again from step 0 with that config; a finished
            run (its ``final.json`` written at its last step) is left as it is. Resume with as
            many processes as the run was trained with (checked for checkpoints that record it,
            written since this check exists; older ones only when the epoch position shows it).
        streams: Pre-loaded dataset (tests); default reads ``cfg.data.path``.

    Raises:
        ValueError: When starting a new run in a directory that already holds one, resuming
            where there is no checkpoint or with another number of processes, or when
            ``data.test_subjects`` are not the protocol's.
        OutputLockedError: When another run is writing into ``run_dir``.
    """
    run_dir = Path(run_dir)
    if resume and not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    # One run at a time writes into a folder (rank 0 holds the lock; the other ranks are its own).
    other_rank = int(os.environ.get("WORLD_SIZE", "1")) > 1 and os.environ.get("RANK", "0") != "0"
    lock = nullcontext() if other_rank else output_lock(run_dir)
    with lock:
        return _fit(cfg, run_dir, resume=resume, streams=streams)


def _final_step(run_dir: Path) -> int | None:
    """The step ``final.json`` scores; None for one written before it recorded its step; -1
    when there is no readable ``final.json``."""
    try:
        return json.loads((run_dir / "final.json").read_text()).get("step")
    except (OSError, ValueError, AttributeError):
        return -1


def _finished(train: TrainConfig, progress: Progress) -> bool:
    """Whether a run at ``progress`` has trained all it will (steps, epochs or time budget)."""
    return (
        (bool(train.max_steps) and progress.global_step >= train.max_steps)
        or progress.epoch >= train.epochs
        or (bool(train.max_minutes) and progress.elapsed_s >= train.max_minutes * 60)
    )


def _fit(
    cfg: ExperimentConfig | None, run_dir: Path, *, resume: bool, streams: Streams | None
) -> Path:
    ckpt = None
    if resume and (run_dir / "last.pt").exists():
        ckpt = load_checkpoint(run_dir / "last.pt")
        cfg = stored_config(ckpt.get("config"), source=run_dir / "last.pt")
        saved = Progress(**ckpt["progress"])
        if _finished(cfg.train, saved) and _final_step(run_dir) in (saved.global_step, None):
            logger.warning("%s has finished (final.json written): nothing to resume", run_dir)
            return run_dir / "best.pt"
    elif resume:
        cfg = _config_of_unstarted_run(run_dir)
    elif (run_dir / "last.pt").exists():
        raise ValueError(f"{run_dir} already holds a run; use --resume or another --out")
    assert cfg is not None
    if not resume:  # a mesh run records its backbone's model section (resumed: already there)
        cfg = prepare_mesh_config(cfg)
    both = sorted(set(cfg.data.train_subjects) & set(cfg.data.test_subjects))
    if both:
        raise ValueError(f"data.train_subjects include the test subjects {both}")
    protocol = protocol_of(cfg)
    if set(cfg.data.test_subjects) != set(protocol.test_subjects):
        raise ValueError(
            f"data.test_subjects {list(cfg.data.test_subjects)} are not the {protocol.name} "
            f"protocol's test subjects {list(protocol.test_subjects)}, which the evaluations score"
        )
    init = None  # a fine-tuning start, checked before any data is read
    if ckpt is None and cfg.train.init_weights:
        if cfg.mesh.use_mesh_head:
            raise ValueError(
                "train.init_weights does not apply to a mesh run (its backbone is mesh.backbone)"
            )
        init = read_init_weights(cfg.train.init_weights, cfg.model)
    if cfg.train.num_threads:
        torch.set_num_threads(cfg.train.num_threads)
    device = resolve_device(cfg.train.device)
    if device.type == "cpu":
        keep_freed_memory()  # no page faults on every step's activations (allocator module)
    rank, world = _init_distributed(device)
    trained_by = ckpt.get("world_size") if ckpt is not None else None
    if trained_by is not None and trained_by != world:
        how = f"with torchrun --nproc_per_node {trained_by}" if trained_by > 1 else "alone"
        raise ValueError(
            f"{run_dir / 'last.pt'} was trained by {trained_by} process(es), not {world}: resume "
            f"it {how} (the data order and the epoch length depend on the number)"
        )
    torch.manual_seed(cfg.seed)
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")

    if streams is None:
        streams = load_experiment_streams(cfg)
    train_set, _ = build_datasets(cfg, streams)
    eval_streams = {cfg.data.input_source: build_eval_streams(cfg, streams)}
    for source in cfg.eval.extra_inputs:
        eval_streams[source] = build_eval_streams(cfg, streams, input_source=source)
    is_mesh = cfg.mesh.use_mesh_head
    model = (build_mesh_model(cfg) if is_mesh else create_model(cfg.model)).to(device)
    if device.type == "cpu" and cfg.train.compile_attention:
        set_compiled_training_attention(model, True)
    optimizer = build_mesh_optimizer(model, cfg) if is_mesh else build_optimizer(model, cfg.train)
    sampler = DistributedSampler(
        train_set, num_replicas=world, rank=rank, shuffle=True, seed=cfg.seed, drop_last=True
    )
    steps_per_epoch = len(sampler) // cfg.train.batch_size
    if steps_per_epoch == 0:
        raise ValueError(
            f"{len(train_set)} training clips are fewer than one batch of {cfg.train.batch_size}"
        )
    total_steps = cfg.train.max_steps or cfg.train.epochs * steps_per_epoch
    progress = Progress()
    budget_s = cfg.train.max_minutes * 60
    scheduler = build_scheduler(
        optimizer,
        cfg.train,
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        # Late-bound: sees the resumed `progress` and its elapsed time as the run advances.
        time_fraction=lambda: progress.elapsed_s / budget_s if budget_s else 0.0,
    )
    if init is not None:
        init_path, init_state = init
        load_weights(model, init_state, source=str(init_path))
        logger.info("model weights initialised from %s", init_path)
    if ckpt is not None:
        if is_mesh:  # the body model it was trained with, before any weight is loaded
            check_resumed_body(ckpt, model, run_dir / "last.pt")
        load_weights(model, ckpt["model"], source=str(run_dir / "last.pt"))
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        progress = Progress(**ckpt["progress"])
        if progress.step_in_epoch >= steps_per_epoch:  # a checkpoint without world_size
            raise ValueError(
                f"{run_dir / 'last.pt'} stopped at step {progress.step_in_epoch} of an epoch of "
                f"{steps_per_epoch} steps: resumed with another number of processes than it "
                "was trained with?"
            )
    if resume and rank == 0:
        # A run that has ended evaluates its end again (killed while writing it): its old
        # final record goes; a run that trains on (a raised limit) keeps it.
        ended = _finished(cfg.train, progress)
        _drop_records_after(run_dir / "metrics.jsonl", progress.global_step, final_too=ended)
    train_model: nn.Module = model
    if world > 1:
        train_model = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
    loop = _Loop(cfg, model, train_model, optimizer, scheduler, device, rank, run_dir)
    if ckpt is not None:
        _restore_scaler(loop.scaler, ckpt.get("scaler"), source=run_dir / "last.pt")
    loop.run(train_set, sampler, eval_streams, progress, total_steps, steps_per_epoch)
    if world > 1:
        dist.destroy_process_group()
    return run_dir / "best.pt"


def _drop_records_after(path: Path, step: int, *, final_too: bool = False) -> None:
    """Forget the log records of steps a resumed run repeats: those logged after its checkpoint,
    and with ``final_too`` a final evaluation at its step (evaluated again)."""
    if not path.is_file():
        return
    lines = path.read_text().splitlines(keepends=True)
    kept = []
    for line in lines:
        try:
            record = json.loads(line)
            final = str(record.get("eval", "")).startswith("final")
            keep = record["step"] < step or (record["step"] == step and not (final and final_too))
        except (ValueError, KeyError, TypeError):
            keep = False  # a line cut short by the kill
        if keep:
            kept.append(line)
    if len(kept) != len(lines):
        atomic_write(path, lambda temp: temp.write_text("".join(kept)))


def _config_of_unstarted_run(run_dir: Path) -> ExperimentConfig:
    """The saved config of a run killed before its first checkpoint (it restarts from step 0)."""
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    if not (run_dir / "config.yaml").is_file():
        raise FileNotFoundError(f"{run_dir}: nothing to resume (no last.pt and no config.yaml)")
    cfg = load_config(run_dir / "config.yaml")
    logger.warning(
        "%s has no checkpoint yet (the run stopped before its first save): starting it from "
        "step 0 with its saved config.yaml",
        run_dir,
    )
    return cfg


class _Loop:
    """State and steps of one training run (kept out of `fit` to keep both readable)."""

    def __init__(self, cfg, model, train_model, optimizer, scheduler, device, rank, run_dir):
        self.cfg, self.model, self.train_model = cfg, model, train_model
        self.optimizer, self.scheduler = optimizer, scheduler
        self.device, self.rank, self.run_dir = device, rank, run_dir
        self.loss_fn = LiftingLoss(
            mpjpe=cfg.train.loss_mpjpe,
            n_mpjpe=cfg.train.loss_n_mpjpe,
            velocity=cfg.train.loss_velocity,
        )
        # What the evaluations score: the model, or a mesh model's joints (ssrstf.mesh).
        self.eval_model = model
        if cfg.mesh.use_mesh_head:
            self.loss_fn = build_mesh_loss(cfg, model)
            self.eval_model = model.joints_only()
        use_amp = device.type == "cuda" and cfg.train.precision != "fp32"
        dtype = torch.bfloat16 if cfg.train.precision == "bf16" else torch.float16
        self.autocast = (
            (lambda: torch.autocast("cuda", dtype=dtype)) if use_amp else (lambda: nullcontext())
        )
        self.scaler = torch.amp.GradScaler(
            "cuda", enabled=use_amp and cfg.train.precision == "fp16"
        )
        self.logger = _Logger(run_dir, cfg.train.use_tensorboard) if rank == 0 else None

    def step(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, dict[str, float]]:
        x, y = x.to(self.device, non_blocking=True), y.to(self.device, non_blocking=True)
        self.optimizer.zero_grad(set_to_none=True)
        with self.autocast():
            pred = self.train_model(x)
        loss, terms = self.loss_fn(pred.float(), y)
        if not math.isfinite(loss.item()):
            raise FloatingPointError(f"loss became {loss.item()}; lower train.lr or set grad_clip")
        self.scaler.scale(loss).backward()
        if self.cfg.train.grad_clip > 0:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.train.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        return loss.item(), terms

    def _rank0_value(self, value: float) -> float:
        """Rank 0's ``value`` on every rank (identity in a single process).

        Under DDP the elapsed time drives the budget stop and the ``cosine_time`` learning rate:
        every rank must see the same value, or ranks would stop at different steps (a hang) and
        step with different learning rates (diverging replicas).
        """
        if not _distributed():
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.broadcast(tensor, src=0)
        return float(tensor.item())

    def save(self, name: str, progress: Progress) -> None:
        state = {
            "config": to_dict(self.cfg),
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "progress": vars(progress).copy(),
            "world_size": dist.get_world_size() if _distributed() else 1,
        }
        if self.scaler.is_enabled():  # fp16 on CUDA: the loss scale and its growth count
            state["scaler"] = self.scaler.state_dict()
        if self.cfg.mesh.use_mesh_head:  # the body model it trains on
            state.update(mesh_checkpoint_entries(self.model))
        save_checkpoint(self.run_dir / name, state)

    def evaluate(self, streams: dict, progress: Progress, train_stats: dict, final: bool) -> None:
        """Score the model on every evaluated 2D source (``streams``: source → test streams).

        The first source is the training input's: it alone selects ``best.pt``; the others
        (``eval.extra_inputs``) are logged as ``p1_mm_<source>``, ``p2_mm_<source>``.
        """
        every = self.cfg.eval.final_every if final else self.cfg.eval.every
        main, *extra = streams
        # A bar for the final evaluation, which may take many minutes (the full protocol).
        label = (lambda source: f"final evaluation ({source} 2D)") if final else (lambda _: None)
        result = evaluate_on_streams(
            self.eval_model, self.cfg, streams[main], every=every, progress=label(main)
        )
        extra_metrics: dict[str, float] = {}
        for source in extra:
            other = evaluate_on_streams(
                self.eval_model, self.cfg, streams[source], every=every, progress=label(source)
            )
            extra_metrics |= {f"{k}_{source}": v for k, v in other.metrics().items()}
            logger.info("step %d, %s 2D: %s", progress.global_step, source, other.label)
            if final:
                text = json.dumps(other.to_dict(), indent=2)
                atomic_write(
                    self.run_dir / f"final_{source}.json",
                    lambda temp, text=text: temp.write_text(text),
                )
        record = {
            "step": progress.global_step,
            "epoch": progress.epoch,
            "lr": self.scheduler.get_last_lr()[0],
            "elapsed_min": progress.elapsed_s / 60,
            **train_stats,
            "p1_mm": result.p1_mm,
            **result.metrics(),
            **extra_metrics,
            "eval": ("final " if final else "")
            + ("full" if every == 1 else f"quick (every {every}-th test clip)"),
        }
        assert self.logger is not None
        self.logger.log(record)
        logger.info("step %d: %s", progress.global_step, result.label)
        if final:  # with the step it scores (a run resumed with a raised limit ends later)
            text = json.dumps({**result.to_dict(), "step": progress.global_step}, indent=2)
            atomic_write(self.run_dir / "final.json", lambda temp: temp.write_text(text))
        elif not progress.best or result.p1_mm < progress.best["p1_mm"]:
            progress.best = {"p1_mm": result.p1_mm, **result.metrics(),
                             "step": progress.global_step}  # fmt: skip
            self.save("best.pt", progress)

    def run(self, train_set, sampler, eval_streams, progress, total_steps, steps_per_epoch):
        cfg = self.cfg.train
        # The budget clock: wall time, or this process's CPU time (fair on a shared machine).
        clock = time.process_time if cfg.clock == "cpu" else time.monotonic
        start = clock() - progress.elapsed_s
        last_save = time.monotonic()
        eval_every = cfg.eval_every_steps or steps_per_epoch
        # A run resumed after it ended (killed during its final evaluation) trains no further
        # step: it only writes its end again (`total_steps` is max_steps or the epochs' steps).
        stop = _finished(cfg, progress)
        sums: dict[str, float] = {}
        while not stop and progress.epoch < cfg.epochs:
            sampler.set_epoch(progress.epoch)
            train_set.set_epoch(progress.epoch)
            skip = progress.step_in_epoch * cfg.batch_size
            loader = DataLoader(
                train_set,
                batch_size=cfg.batch_size,
                sampler=_SkipSampler(sampler, skip),
                drop_last=True,
                num_workers=self.cfg.data.num_workers,
                # Its own generator: the worker seeds (and the loader's draws) are a function
                # of (seed, epoch), never of the global RNG.
                generator=torch.Generator().manual_seed(self.cfg.seed + progress.epoch),
            )
            bar = tqdm(
                loader,
                desc=f"epoch {progress.epoch + 1}/{cfg.epochs}",
                disable=self.rank != 0,
                initial=progress.step_in_epoch,
                total=steps_per_epoch,
                dynamic_ncols=True,
            )
            self.train_model.train()
            for x, y in bar:
                torch.manual_seed(step_seed(self.cfg.seed, self.rank, progress.global_step))
                loss, terms = self.step(x, y)
                progress.step_in_epoch += 1
                progress.global_step += 1
                progress.elapsed_s = self._rank0_value(clock() - start)
                for k, v in {"loss": loss, **terms}.items():
                    sums[k] = sums.get(k, 0.0) + v
                sums["n"] = sums.get("n", 0.0) + 1
                bar.set_postfix(loss=f"{loss:.4f}", lr=f"{self.scheduler.get_last_lr()[0]:.2e}")
                over_time = cfg.max_minutes and progress.elapsed_s >= cfg.max_minutes * 60
                stop = bool(over_time) or progress.global_step >= total_steps
                end_of_epoch = progress.step_in_epoch >= steps_per_epoch
                if end_of_epoch:
                    progress.epoch += 1
                    progress.step_in_epoch = 0
                if self.rank == 0 and progress.global_step % eval_every == 0 and not stop:
                    n = sums.pop("n")
                    stats = {f"train_{k}": v / n for k, v in sums.items()}
                    sums.clear()
                    paused = clock()
                    self.evaluate(eval_streams, progress, stats, final=False)
                    self.save("last.pt", progress)
                    last_save = time.monotonic()
                    # Budgets and the time-based schedule count training time only.
                    start += clock() - paused
                elif self.rank == 0 and (
                    end_of_epoch or time.monotonic() - last_save > cfg.checkpoint_minutes * 60
                ):
                    self.save("last.pt", progress)
                    last_save = time.monotonic()
                if stop or end_of_epoch:
                    break
        if _distributed():
            # Every rank stops at the same step (the stop rule sees rank 0's clock). The others
            # leave now rather than wait, in a collective with a timeout, for the final
            # evaluation, which may take longer than any timeout (the full protocol: an hour).
            dist.barrier()
        if self.rank == 0:
            self.save("last.pt", progress)
            if not (self.run_dir / "best.pt").exists():
                self.save("best.pt", progress)
            self.evaluate(eval_streams, progress, {}, final=True)
