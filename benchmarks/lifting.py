"""Lifting speed: frames per second of `ssrstf.lifting.lifter.Lifter` on a long sequence.

Usage::

    python benchmarks/lifting.py [--checkpoint default] [--frames 20000] [--threads 2]
                                 [--batch-size 64] [--device cpu] [--settings NAME ...]
                                 [--clock wall|cpu] [--json OUT]

Lifts a synthetic H36M-17 keypoint sequence (the built-in demo motion, repeated) once to warm up
and then ``--repeats`` times, for each setting of `SETTINGS`: the defaults (flip test-time
augmentation, the default overlap, torch), then one change each (ONNX Runtime, the previous T/3
overlap, one large batch per forward pass as the earlier predictor did, bfloat16, no flip, disjoint
windows). Reports the median frames per second of each (keypoints in, millimetre poses out:
normalisation, batching of windows, stitching included; no detector), and for each the model's
arithmetic rate ``gflops_per_s`` (FLOPs counted as in ``ssrstf info``, 2 x MACs, times the
windows actually lifted, both flip halves) next to the fp32 matrix-multiply rate
``matmul_gflops_per_s`` measured in the same run (2048 x 2048, after each setting; the median is
reported), and the targets for the defaults: >= 2,000 frames/s and >= 60 % of the
matmul rate. ``--clock cpu`` times everything in this process's CPU seconds instead of wall
seconds (for a machine shared with other jobs, with ``--threads 1``). Not a test: numbers depend
on the machine and its load; compare settings within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time

import numpy as np
import torch

from ssrstf.data.clips import plan_windows
from ssrstf.keypoints.sample import IMAGE_SIZE, make_sample
from ssrstf.lifting.lifter import Lifter
from ssrstf.models.complexity import count_flops
from ssrstf.models.tta import make_predictor

SETTINGS: dict[str, dict] = {
    "default": {},
    "onnxruntime": {"backend": "onnxruntime"},
    "overlap T/3 (before)": {"overlap": "T/3"},
    "one batch per forward (before)": {"max_tokens": 10**12},
    "bfloat16": {"dtype": torch.bfloat16},
    "no flip": {"flip": False},
    "no flip, disjoint windows": {"flip": False, "overlap": 0},
}
"""Name → changes from the defaults. ``max_tokens`` and ``dtype`` go to the torch predictor
(`ssrstf.models.tta.make_predictor`); the others to `Lifter`."""

TARGET_FRAMES_PER_S = 2000.0
TARGET_MATMUL_SHARE = 0.60


def keypoints(frames: int) -> np.ndarray:
    """(frames, 17, 3) pixels: the demo motion, repeated."""
    base = make_sample().keypoints.keypoints.copy()
    base[..., 2] = 1.0
    reps = -(-frames // len(base))
    return np.concatenate([base] * reps)[:frames]


def make_lifter(args: argparse.Namespace, setting: dict) -> Lifter:
    """The `Lifter` of one setting."""
    setting = dict(setting)
    predictor = {k: setting.pop(k) for k in ("max_tokens", "dtype") if k in setting}
    if setting.get("overlap") == "T/3":
        setting["overlap"] = Lifter(args.checkpoint).num_frames // 3
    lifter = Lifter(args.checkpoint, device=args.device, batch_size=args.batch_size, **setting)
    if predictor:  # a variant of the torch predictor (benchmark only: replaces the default one)
        lifter._predict = make_predictor(
            lifter.model, lifter.skeleton, flip_test=lifter.flip, device=args.device, **predictor
        )
    return lifter


def lifted_flops(lifter: Lifter, num_frames: int) -> float:
    """Model FLOPs of lifting ``num_frames`` frames: windows x (2 with flip) x FLOPs per clip."""
    window = lifter.num_frames
    windows = len(plan_windows(max(num_frames, window), window, window - lifter.overlap))
    per_clip = count_flops(lifter.cfg.model, num_frames=window)
    return windows * (2 if lifter.flip else 1) * per_clip


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
"""``--clock``: wall time, or this process's CPU time (all threads): on a machine shared with
other jobs, CPU seconds of a 1-thread run approximate the seconds of an idle core."""


def matmul_gflops(clock, size: int = 2048, repeats: int = 5) -> float:
    """This machine's fp32 matrix-multiply rate now (median of ``repeats``), GFLOP/s."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    times = []
    for _ in range(repeats):
        start = clock()
        a @ b
        times.append(clock() - start)
    return 2 * size**3 / statistics.median(times) / 1e9


def bench(lifter: Lifter, kp: np.ndarray, repeats: int, clock) -> float:
    """Median frames per second of ``lifter.lift`` over ``repeats`` runs after a warm-up."""
    lifter.lift(kp[: 4 * lifter.num_frames], IMAGE_SIZE)
    times = []
    for _ in range(repeats):
        start = clock()
        lifter.lift(kp, IMAGE_SIZE)
        times.append(clock() - start)
    return len(kp) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--batch-size", type=int, default=64, help="windows per forward pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS),
        help="which settings to run (default: all)",
    )  # fmt: skip
    parser.add_argument(
        "--clock", choices=list(CLOCKS), default="wall",
        help="seconds of wall time or of this process's CPU time (shared machines, 1 thread)",
    )  # fmt: skip
    parser.add_argument("--json", default=None, help="also write the JSON here")
    args = parser.parse_args()
    clock = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    kp = keypoints(args.frames)
    results: dict[str, object] = {
        "checkpoint": args.checkpoint,
        "frames": args.frames,
        "batch_size": args.batch_size,
        "device": args.device,
        "clock": args.clock,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    fps, gflops, matmul = {}, {}, []
    for name in args.settings:
        lifter = make_lifter(args, SETTINGS[name])
        seconds = len(kp) / bench(lifter, kp, args.repeats, clock)
        fps[name] = round(len(kp) / seconds, 1)
        gflops[name] = round(lifted_flops(lifter, len(kp)) / seconds / 1e9, 1)
        matmul.append(matmul_gflops(clock))
        print(f"{name:32s} {fps[name]:8,.0f} frames/s {gflops[name]:7.1f} GFLOP/s "
              f"(matmul now {matmul[-1]:.0f} GFLOP/s)", flush=True)  # fmt: skip
    rate = round(statistics.median(matmul), 1)
    results.update(
        frames_per_second=fps,
        gflops_per_s_by_setting=gflops,
        matmul_gflops_per_s=rate,
        matmul_gflops_per_s_all=[round(m, 1) for m in matmul],
    )
    if "default" in fps:
        share = gflops["default"] / rate
        results.update(gflops_per_s=gflops["default"], matmul_share=round(share, 3))
        print(f"defaults: {fps['default']:,.0f} frames/s (target {TARGET_FRAMES_PER_S:,.0f}: "
              f"{_verdict(fps['default'] / TARGET_FRAMES_PER_S)}); {gflops['default']:.1f} of "
              f"{rate:.1f} GFLOP/s matmul = {share:.0%} (target {TARGET_MATMUL_SHARE:.0%}: "
              f"{_verdict(share / TARGET_MATMUL_SHARE)})")  # fmt: skip
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as handle:
            handle.write(text + "\n")


def _verdict(ratio: float) -> str:
    return "met" if ratio >= 1 else f"missed by {1 - ratio:.0%}"


if __name__ == "__main__":
    main()
