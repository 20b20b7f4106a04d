"""Lifting speed: frames per second of `ssrstf.inference.lifter.Lifter` on a long sequence.

Usage::

    python benchmarks/lifting.py [--checkpoint default] [--frames 20000] [--threads 2]
                                 [--batch-size 64] [--device cpu] [--json OUT]

Lifts a synthetic H36M-17 keypoint sequence (the built-in demo motion, repeated) once to warm up
and then ``--repeats`` times, for four settings: the default (flip test-time augmentation,
windows overlapping by T/3), no flip, disjoint windows, and neither. Reports the median frames
per second of each (keypoints in, millimetre poses out: normalisation, batching of windows,
stitching included; no detector). Not a test: numbers depend on the machine and its load.
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

from ssrstf.inference.lifter import Lifter
from ssrstf.inference.sample import IMAGE_SIZE, make_sample

SETTINGS = {
    "flip + overlap T/3 (default)": {"flip": True, "overlap": None},
    "no flip, overlap T/3": {"flip": False, "overlap": None},
    "flip, disjoint windows": {"flip": True, "overlap": 0},
    "no flip, disjoint windows": {"flip": False, "overlap": 0},
}


def keypoints(frames: int) -> np.ndarray:
    """(frames, 17, 3) pixels: the demo motion, repeated."""
    base = make_sample().keypoints.keypoints.copy()
    base[..., 2] = 1.0
    reps = -(-frames // len(base))
    return np.concatenate([base] * reps)[:frames]


def bench(lifter: Lifter, kp: np.ndarray, repeats: int) -> float:
    """Median frames per second of ``lifter.lift`` over ``repeats`` runs after a warm-up."""
    lifter.lift(kp[: 4 * lifter.num_frames], IMAGE_SIZE)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        lifter.lift(kp, IMAGE_SIZE)
        times.append(time.perf_counter() - start)
    return len(kp) / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--frames", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument("--batch-size", type=int, default=64, help="windows per forward pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", default=None, help="also write the JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    kp = keypoints(args.frames)
    results: dict[str, object] = {
        "checkpoint": args.checkpoint,
        "frames": args.frames,
        "batch_size": args.batch_size,
        "device": args.device,
        "threads": torch.get_num_threads(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    fps = {}
    for name, setting in SETTINGS.items():
        lifter = Lifter(args.checkpoint, device=args.device, batch_size=args.batch_size, **setting)
        fps[name] = round(bench(lifter, kp, args.repeats), 1)
        print(f"{name:32s} {fps[name]:10,.0f} frames/s", flush=True)
    results["frames_per_second"] = fps
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
