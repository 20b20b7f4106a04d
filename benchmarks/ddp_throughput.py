"""Both cores for one training run: DDP with one thread per process against one process.

Usage::

    python benchmarks/ddp_throughput.py --data data/h36m.npz                # ~6 minutes
    python benchmarks/ddp_throughput.py --data data/h36m.npz --modes ddp2x1 proc1x1 --steps 60

Runs real ``ssrstf train`` runs of a config (default: the shipped model's) for ``--steps``
optimiser steps in each mode, one after another, on the machine as it is (run it idle):

* ``ddp2x1``: ``torchrun --nproc_per_node 2``, one thread per process (gloo), so each step
  trains 2 x ``batch_size`` clips;
* ``proc1x2``: one process with two threads;
* ``proc1x1``: one process with one thread (the reference).

Each run evaluates (on very few clips) every ``--steps // 4`` steps, and the trainer's
``elapsed_min`` (wall clock, evaluations excluded) at those points times the steps between the
first and the last one, so start-up, data loading and the compilation of the first steps are
left out. Reported per mode: wall seconds per step, clips per wall-second and the ratio to
``proc1x1``. Not a test: the figures depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = ROOT / "configs" / "robust-long_27f_h36m-mix_global-only.yaml"
MODES = {  # name -> (processes, threads per process)
    "ddp2x1": (2, 1),
    "proc1x2": (1, 2),
    "proc1x1": (1, 1),
}


def train_command(mode: str, config: Path, data: str, out: Path, steps: int) -> list[str]:
    """The ``ssrstf train`` command line of one mode."""
    procs, threads = MODES[mode]
    launcher = [sys.executable, "-m", "ssrstf"]
    if procs > 1:
        torchrun = Path(sys.executable).with_name("torchrun")
        launcher = [str(torchrun), "--standalone", f"--nproc_per_node={procs}", "-m", "ssrstf"]
    sets = {
        "data.path": data,
        "train.num_threads": threads,
        "train.max_steps": steps,
        "train.max_minutes": 0,
        "train.clock": "wall",
        "train.schedule": "cosine",
        "train.eval_every_steps": max(1, steps // 4),
        "train.checkpoint_minutes": 1000,
        "eval.every": 500,
        "eval.final_every": 500,
        "eval.extra_inputs": "[]",
    }
    args = [a for k, v in sets.items() for a in ("--set", f"{k}={v}")]
    return [*launcher, "train", "--config", str(config), *args, "--out", str(out)]


def seconds_per_step(metrics: Path) -> tuple[float, int]:
    """Wall seconds per step between the first and the last logged evaluation."""
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    timed = [r for r in records if "elapsed_min" in r and "step" in r]
    if len(timed) < 2:
        raise SystemExit(f"{metrics}: fewer than two timed records; raise --steps")
    first, last = timed[0], timed[-1]
    steps = last["step"] - first["step"]
    return (last["elapsed_min"] - first["elapsed_min"]) * 60 / steps, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", default="data/h36m.npz")
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    from ssrstf.config import load_config

    batch = load_config(args.config).train.batch_size
    rows = {}
    for mode in args.modes:
        out = Path(tempfile.mkdtemp(prefix=f"ddp-{mode}-"))
        cmd = train_command(mode, args.config, args.data, out / "run", args.steps)
        env = {**os.environ, "TQDM_DISABLE": "1", "OMP_NUM_THREADS": str(MODES[mode][1])}
        with (out / "log.txt").open("w") as log:
            done = subprocess.run(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        if done.returncode:
            tail = (out / "log.txt").read_text()[-3000:]
            raise SystemExit(f"{mode}: ssrstf train failed ({done.returncode}):\n{tail}")
        per_step, steps = seconds_per_step(out / "run" / "metrics.jsonl")
        clips = batch * MODES[mode][0] / per_step
        rows[mode] = {"s_per_step": per_step, "timed_steps": steps, "clips_per_s": clips}
        print(f"{mode}: {per_step:.3f} s/step over {steps} steps, {clips:.1f} clips/s", flush=True)
        shutil.rmtree(out, ignore_errors=True)
    if "proc1x1" in rows:
        for row in rows.values():
            row["ratio_to_proc1x1"] = row["clips_per_s"] / rows["proc1x1"]["clips_per_s"]
    print(json.dumps(rows, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
