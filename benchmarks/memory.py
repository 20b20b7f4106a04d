"""Long inputs in bounded memory: ``ssrstf infer`` on a 100,000-frame keypoint file.

Writes a (100000, 17, 3) H36M keypoint ``.npy`` (the built-in sample person, tiled), runs
``python -m ssrstf infer FILE --out DIR`` in a child process (default model, flip on, all
outputs: npz, JSON, BVH) and reports its wall time and peak resident memory (the child's
``ru_maxrss``). Target: peak RSS <= 1.5 GB. Exit code 1 when the target is missed.

    python benchmarks/memory.py [--frames 100000] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_GB = 1.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from ssrstf.keypoints.sample import make_sample

    sample = make_sample().keypoints
    reps = -(-args.frames // sample.num_frames)
    keypoints = np.concatenate([sample.keypoints] * reps)[: args.frames].astype(np.float32)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "long.npy"
        np.save(path, keypoints)
        width, height = sample.image_size
        command = [
            sys.executable, "-m", "ssrstf", "infer", str(path), "--skeleton", "h36m",
            "--image-size", f"{width}x{height}", "--out", str(Path(folder) / "out"), "--quiet",
            "--threads", str(args.threads),
        ]  # fmt: skip
        start = time.monotonic()
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        seconds = time.monotonic() - start
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 2
        sizes = {p.name: p.stat().st_size for p in (Path(folder) / "out").iterdir()}
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9  # kB on Linux
    print(f"frames: {args.frames:,}; input {keypoints.nbytes / 1e6:.1f} MB")
    print(f"outputs: {', '.join(f'{k} {v / 1e6:.1f} MB' for k, v in sorted(sizes.items()))}")
    print(done.stdout.strip())
    print(f"wall time (process, incl. start-up and writing): {seconds:.1f} s")
    print(f"peak RSS: {peak_gb:.2f} GB (target <= {TARGET_GB} GB)")
    return 0 if peak_gb <= TARGET_GB else 1


if __name__ == "__main__":
    raise SystemExit(main())
