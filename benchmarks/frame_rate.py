"""Videos at other frame rates than Human3.6M's 50 fps: what it costs, and whether running the
model on every s-th frame (`Lifter(frame_stride=s)`, ``ssrstf evaluate --frame-stride``) wins
it back.

Usage::

    python benchmarks/frame_rate.py --data data/h36m.npz [--checkpoint default] [--input gt]
        [--subjects S9 S11] [--sequence-stride 16] [--fps 30 50 100 120] [--json OUT]

Every selected test stream (every ``--sequence-stride``-th stream of ``--subjects`` that has the
2D input) is resampled in time, 2D and 3D alike, by linear interpolation from 50 fps to each
``--fps`` (a slow-motion or phone video of the same motion), lifted as ``ssrstf infer`` lifts it
(`Lifter.lift`: flip, overlap T/6) at frame stride 1 and at the stride ``ssrstf infer`` picks
(`auto_frame_stride`), and scored on every frame against the resampled ground truth
(root-relative MPJPE and P-MPJPE, mm, mean over frames). Prints one line per setting and one
JSON object. Not a test: interpolated frames are smoother than a real high-speed camera's;
Human3.6M is research-only and nothing of it is written.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from ssrstf.data.h36m import load_streams
from ssrstf.evaluation.metrics import mpjpe, p_mpjpe
from ssrstf.lifting.lifter import Lifter, auto_frame_stride

SOURCE_FPS = 50.0  # Human3.6M


def resample(x: np.ndarray, factor: float) -> np.ndarray:
    """(F, ...) frames at rate r to rate ``factor`` x r: linear interpolation at times
    0, 1/factor, 2/factor, ... up to the last frame (the first frame is kept as it is)."""
    if factor <= 0:
        raise ValueError(f"factor must be > 0, got {factor}")
    times = np.arange(0.0, len(x) - 1 + 1e-9, 1.0 / factor)
    lower = np.floor(times).astype(int)
    upper = np.minimum(lower + 1, len(x) - 1)
    weight = (times - lower).reshape((-1,) + (1,) * (x.ndim - 1))
    return x[lower] * (1.0 - weight) + x[upper] * weight


def strides_for(fps: float) -> list[int]:
    """Stride 1 and the stride ``ssrstf infer`` picks for ``fps`` (`auto_frame_stride` of a
    Human3.6M model: fps / 50 rounded half up), if it is not 1."""
    h36m = SimpleNamespace(data=SimpleNamespace(dataset="h36m", frame_stride=1))
    return sorted({1, auto_frame_stride(fps, h36m)})


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--data", default="data/h36m.npz")
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--input", default="gt", help="2D input (poses_2d_<input>)")
    parser.add_argument("--subjects", nargs="+", default=["S9", "S11"])
    parser.add_argument("--sequence-stride", type=int, default=16, help="every N-th stream")
    parser.add_argument("--fps", type=float, nargs="+", default=[30.0, 50.0, 100.0, 120.0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    streams = load_streams(
        args.data, subjects=args.subjects, arrays=["poses_3d", f"poses_2d_{args.input}"]
    )
    chosen = [i for i in range(len(streams.keys)) if streams.has_2d[args.input][i]]
    chosen = chosen[:: args.sequence_stride]
    report: dict[str, object] = {
        "checkpoint": args.checkpoint, "input": args.input, "streams": len(chosen), "rows": []
    }  # fmt: skip
    for fps in args.fps:
        factor = fps / SOURCE_FPS
        for stride in strides_for(fps):
            lifter = Lifter(args.checkpoint, frame_stride=stride)
            p1, p2, start = [], [], time.perf_counter()
            root = lifter.skeleton.root
            for i in chosen:
                frames = streams.frames(i)
                keypoints = streams.poses_2d[args.input][frames].astype(np.float64)
                keypoints = resample(keypoints, factor)
                truth = resample(streams.poses_3d[frames].astype(np.float64), factor)
                truth = truth - truth[:, root : root + 1]
                pred = lifter.lift(keypoints, tuple(int(v) for v in streams.image_size[i]))
                p1.append(mpjpe(pred, truth))
                p2.append(p_mpjpe(pred, truth))
            row = {
                "fps": fps, "frame_stride": stride,
                "p1_mm": float(np.concatenate(p1).mean()),
                "p2_mm": float(np.concatenate(p2).mean()),
                "frames": int(sum(len(e) for e in p1)),
                "seconds": time.perf_counter() - start,
            }  # fmt: skip
            report["rows"].append(row)  # type: ignore[union-attr]
            print(
                f"{fps:5.0f} fps, stride {stride}: P1 {row['p1_mm']:.2f} mm, "
                f"P2 {row['p2_mm']:.2f} mm ({row['frames']} frames)",
                flush=True,
            )
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
