"""Training clips per CPU-second on the shipped model's config: plain path against tuned one.

Usage::

    python benchmarks/train_throughput.py                      # default config, 5 rounds x 8 steps
    python benchmarks/train_throughput.py --rounds 3 --steps 6 --json throughput.json
    python benchmarks/train_throughput.py --variants tuned --batch 16 32   # per-clip cost by batch

The two paths differ only in how a step runs, not in what it computes:

* ``plain``: glibc's default allocator thresholds and the fused SDPA kernel for every attention
  (``train.compile_attention: false``), i.e. the trainer before these optimisations;
* ``tuned``: what ``ssrstf train`` does on the CPU now: freed blocks kept for reuse
  (`ssrstf.training.allocator`) and attention over <= 32 tokens compiled by TorchInductor
  (`ssrstf.models.attention.broadcast_attention`);
* ``tuned-no-compile`` and ``keep-memory-only`` / ``compile-only`` split the gain.

The allocator setting is process-wide, so every measurement is a fresh subprocess; the variants
take turns, round after round, so load on a shared machine hits them alike. Each subprocess runs
``--warmup`` steps (compilation included), then times ``--steps`` training steps (forward, the
config's loss, backward, AdamW) on one thread by process CPU time, on a random batch of the
config's size. Reported: median CPU ms per step over all timed steps, clips per CPU-second, and
the ratio of clips per CPU-second to the first row's (``plain`` by default). ``--batch`` times
each variant at each of these batch sizes instead of the config's (e.g. what two DDP processes
of 16 clips cost per clip against one of 32). Not a test: figures depend on the machine and its
load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "robust-long_27f_h36m-mix_global-only.yaml"
VARIANTS = {  # name -> (keep freed memory, compiled attention)
    "plain": (False, False),
    "keep-memory-only": (True, False),
    "compile-only": (False, True),
    "tuned": (True, True),
}

_CHILD = """
import json, sys, time
import torch
from ssrstf.config import load_config
from ssrstf.models import create_model
from ssrstf.models.attention import set_compiled_training_attention
from ssrstf.skeleton import SKELETONS
from ssrstf.training.allocator import keep_freed_memory
from ssrstf.training.losses import LiftingLoss
from ssrstf.training.optim import build_optimizer

config, keep, compiled, warmup, steps, batch = sys.argv[1], *map(int, sys.argv[2:7])
if keep:
    assert keep_freed_memory()
torch.set_num_threads(1)
torch.manual_seed(0)
cfg = load_config(config)
model = create_model(cfg.model).train()
set_compiled_training_attention(model, bool(compiled))
optimizer = build_optimizer(model, cfg.train)
t = cfg.train
batch = batch or t.batch_size
loss_fn = LiftingLoss(mpjpe=t.loss_mpjpe, n_mpjpe=t.loss_n_mpjpe, velocity=t.loss_velocity)
joints = SKELETONS[cfg.model.skeleton].num_joints
x = torch.randn(batch, cfg.model.num_frames, joints, cfg.model.in_channels)
y = torch.randn(batch, cfg.model.num_frames, joints, 3) * 0.2
def step():
    optimizer.zero_grad(set_to_none=True)
    loss, _ = loss_fn(model(x), y)
    loss.backward()
    optimizer.step()
for _ in range(warmup):
    step()
times = []
for _ in range(steps):
    start = time.process_time()
    step()
    times.append(time.process_time() - start)
print(json.dumps({"cpu_s": times, "batch": batch}))
"""


def measure(
    config: str, keep: bool, compiled: bool, warmup: int, steps: int, batch: int = 0
) -> dict:
    """One fresh subprocess: CPU seconds of each timed step (``batch`` 0: the config's)."""
    args = [config, str(int(keep)), str(int(compiled)), str(warmup), str(steps), str(batch)]
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"measurement failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Alternate the variants round by round; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(DEFAULT_CONFIG))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8, help="timed steps per subprocess")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--batch", type=int, nargs="+", default=[0],
                        help="batch sizes to time (default: the config's)")  # fmt: skip
    parser.add_argument("--json", help="also write the results to this JSON file")
    args = parser.parse_args()
    runs = [(name, batch) for name in args.variants for batch in args.batch]
    cpu: dict[tuple[str, int], list[float]] = {run: [] for run in runs}
    clips: dict[tuple[str, int], int] = {}
    for round_ in range(args.rounds):
        for name, batch in runs:
            result = measure(args.config, *VARIANTS[name], args.warmup, args.steps, batch)
            cpu[name, batch] += result["cpu_s"]
            clips[name, batch] = result["batch"]
        print(f"round {round_ + 1}/{args.rounds} done", file=sys.stderr, flush=True)
    import torch  # only for the version in the heading

    print(f"\n{Path(args.config).name}: one thread, {args.rounds} rounds x "
          f"{args.steps} steps per variant, median process CPU time "
          f"(torch {torch.__version__})")  # fmt: skip
    first = f"{runs[0][0]}, batch {clips[runs[0]]}"
    print(f"{'variant':<18} {'batch':>6} {'CPU ms/step':>12} {'clips/CPU-s':>12} {'x first':>8}"
          f"   (first: {first})")  # fmt: skip
    rows = []
    base = clips[runs[0]] / statistics.median(cpu[runs[0]])
    for (name, asked), times in cpu.items():
        median = statistics.median(times)
        batch = clips[name, asked]
        row = {"variant": name, "batch": batch, "cpu_ms": median * 1e3,
               "clips_per_cpu_s": batch / median, "ratio": batch / median / base,
               "cpu_s_all": times}  # fmt: skip
        rows.append(row)
        print(f"{name:<18} {batch:>6} {row['cpu_ms']:>12.1f} {row['clips_per_cpu_s']:>12.2f} "
              f"{row['ratio']:>8.2f}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
