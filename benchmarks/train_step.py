"""Training-step speed of SSR-STF against its global-only ablation at equal width and depth.

Usage::

    nice -n 10 python benchmarks/train_step.py                 # the budget model, 1 and 2 threads
    python benchmarks/train_step.py --reference                # + the direct (pre-fold) SSRA
    python benchmarks/train_step.py --bf16 --threads 1         # CPU bf16 autocast instead of fp32

One training step is what ``ssrstf train`` does per batch: forward, the training loss
(`LiftingLoss` with the config's weights), backward and an AdamW step (`build_optimizer`), on a
random batch of ``--batch`` clips of the config's ``model.num_frames`` frames. The variants are
the config's model (``ssrstf``), the same model without its local stream (``global-only``,
``model.local_stream: none``) and with a mixer-only local stream (``mixer-only``,
``model.local_mlp_ratio: 0``); ``--reference`` adds each local-stream variant built with the
direct SSRA implementation kept in tests/ssra_reference.py (``…/direct``). The variants take
their steps in turn, round-robin, so load on a shared machine hits them alike; the figures are
the median wall time of a step and its median process CPU time (on a busy machine the CPU time
of a one-thread run is the steadier figure: it leaves out the time the process waits for a
core). FLOPs per clip are forward FLOPs as ``ssrstf info`` counts them (2 x MACs,
torch's FLOP counter, batch 1), for the implementation that runs. Not a test: the numbers depend
on the machine and its load.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch

import ssrstf.models.ssrstf as ssrstf_module
from ssrstf.config import ModelConfig, load_config
from ssrstf.models import build_model
from ssrstf.models.complexity import count_flops
from ssrstf.skeleton import SKELETONS
from ssrstf.training.losses import LiftingLoss
from ssrstf.training.optim import build_optimizer

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "ssrstf-budget_27f_h36m-gt.yaml"
REFERENCE = ROOT / "tests" / "ssra_reference.py"


def _reference_ssra() -> type:
    if not REFERENCE.is_file():
        raise SystemExit(f"--reference needs {REFERENCE} (the direct SSRA implementation)")
    spec = importlib.util.spec_from_file_location("ssra_reference", REFERENCE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SSRA


@contextlib.contextmanager
def _ssra_class(cls: type | None):
    """Build models with ``cls`` as the SSRA mixer (None: the package's own)."""
    original = ssrstf_module.SSRA
    ssrstf_module.SSRA = cls or original
    try:
        yield
    finally:
        ssrstf_module.SSRA = original


def make_step(model_cfg: ModelConfig, cfg, *, batch: int, bf16: bool) -> Callable[[], None]:
    """A closure running one training step of a fresh model on a fixed random batch."""
    torch.manual_seed(0)
    model = build_model(model_cfg).train()
    optimizer = build_optimizer(model, cfg.train)
    loss_fn = LiftingLoss(mpjpe=cfg.train.loss_mpjpe, n_mpjpe=cfg.train.loss_n_mpjpe,
                          velocity=cfg.train.loss_velocity)  # fmt: skip
    joints = SKELETONS[model_cfg.skeleton].num_joints
    x = torch.randn(batch, model_cfg.num_frames, joints, model_cfg.in_channels)
    y = torch.randn(batch, model_cfg.num_frames, joints, 3) * 200.0

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            pred = model(x)
        loss, _ = loss_fn(pred.float(), y)
        loss.backward()
        optimizer.step()

    return step


def variants(model_cfg: ModelConfig, reference: bool) -> dict[str, tuple[ModelConfig, type | None]]:
    """Name → (model config, SSRA class or None for the package's)."""
    local = {"ssrstf": model_cfg, "mixer-only": replace(model_cfg, local_mlp_ratio=0.0)}
    table: dict[str, tuple[ModelConfig, type | None]] = {
        "global-only": (replace(model_cfg, local_stream="none"), None),
        **{name: (c, None) for name, c in local.items()},
    }
    if reference:
        direct = _reference_ssra()
        table |= {f"{name}/direct": (c, direct) for name, c in local.items()}
    return table


def run(args: argparse.Namespace) -> list[dict]:
    """Time every variant at every thread count; print one table per thread count."""
    cfg = load_config(args.config)
    model_cfg = cfg.model
    if model_cfg.local_stream != "ssra":
        raise SystemExit(f"{args.config}: model.local_stream must be ssra for this comparison")
    table = variants(model_cfg, args.reference)
    flops = {}
    for name, (c, cls) in table.items():
        with _ssra_class(cls):
            flops[name] = count_flops(c, num_frames=c.num_frames)
    steps = {}
    for name, (c, cls) in table.items():
        with _ssra_class(cls):
            steps[name] = make_step(c, cfg, batch=args.batch, bf16=args.bf16)
    results = []
    precision = "bf16 autocast" if args.bf16 else "fp32"
    for threads in args.threads:
        torch.set_num_threads(threads)
        for step in steps.values():
            for _ in range(args.warmup):
                step()
        wall: dict[str, list[float]] = {name: [] for name in steps}
        cpu: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(args.steps):
            for name, step in steps.items():  # round-robin: load hits every variant alike
                start, start_cpu = time.perf_counter(), time.process_time()
                step()
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
        medians = {name: statistics.median(t) for name, t in wall.items()}
        cpu_medians = {name: statistics.median(t) for name, t in cpu.items()}
        base_s, base_cpu = medians["global-only"], cpu_medians["global-only"]
        base_flops = flops["global-only"]
        print(f"\n{Path(args.config).name}: dim {model_cfg.dim}, depth {model_cfg.depth}, "
              f"batch {args.batch} x {model_cfg.num_frames} frames, {threads} thread(s), "
              f"{precision}, median of {args.steps} steps (torch {torch.__version__})")  # fmt: skip
        print(f"{'variant':<18} {'wall ms':>9} {'x global':>9} {'CPU ms':>9} {'x global':>9} "
              f"{'GFLOP/clip':>11} {'x global':>9}")  # fmt: skip
        for name, seconds in medians.items():
            row = {
                "variant": name, "threads": threads, "batch": args.batch,
                "frames": model_cfg.num_frames, "precision": precision,
                "step_s": seconds, "step_ratio": seconds / base_s,
                "cpu_s": cpu_medians[name], "cpu_ratio": cpu_medians[name] / base_cpu,
                "flops_per_clip": flops[name], "flop_ratio": flops[name] / base_flops,
                "step_s_all": wall[name], "cpu_s_all": cpu[name],
            }  # fmt: skip
            results.append(row)
            print(f"{name:<18} {seconds * 1e3:>9.1f} {row['step_ratio']:>9.2f} "
                  f"{row['cpu_s'] * 1e3:>9.1f} {row['cpu_ratio']:>9.2f} "
                  f"{flops[name] / 1e9:>11.3f} {row['flop_ratio']:>9.2f}", flush=True)  # fmt: skip
    return results


def main() -> None:
    """Parse arguments, run, optionally write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=9, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument(
        "--reference",
        action="store_true",
        help="also time the direct SSRA implementation (tests/ssra_reference.py)",
    )
    parser.add_argument("--bf16", action="store_true", help="CPU bf16 autocast for the forward")
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    results = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
