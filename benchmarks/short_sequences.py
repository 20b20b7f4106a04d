"""Sequences shorter than the model's clip length T: pad them or resample them?

Usage::

    python benchmarks/short_sequences.py --data data/h36m.npz [--checkpoint default]
        [--inputs gt sh] [--lengths 1 2 4 8 13 20 26] [--clips 300] [--json OUT]

A model sees clips of exactly T frames, so a sequence of F < T frames has to be made T frames
long. Three ways, each scored here on the same F-frame pieces of the Human3.6M test streams
(S9, S11; ``--clips`` pieces per length, start frames drawn with a fixed seed):

* ``pad-end``: the F frames, then the last one repeated; the first F outputs are kept;
* ``centred``: the first frame repeated before, the last after, the sequence centred in the
  clip (`ssrstf.data.clips.centred_padding`, what ``ssrstf infer`` does since this
  measurement; VideoPose3D pads both ends of a sequence too); the F outputs of the centre kept;
* ``resample``: T indices spread evenly over the F frames (`ssrstf.data.clips.resample_indices`,
  as MotionBERT and this package's evaluation clip a short test stream), a frame's outputs at
  its repeated positions averaged (`stitch_clips`). The motion reaches the model slowed by T/F.

Every piece is lifted with flip TTA (`Lifter.predict`) and scored on its F frames against the
ground truth: root-relative MPJPE / P-MPJPE in mm, mean over frames. Prints one line per
length and input and one JSON object. Not a test; Human3.6M is research-only and nothing of it
is written.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from ssrstf.data.clips import centred_padding, resample_indices, stitch_clips
from ssrstf.data.h36m import load_streams
from ssrstf.data.transforms import CAMERA_TARGET_MM
from ssrstf.evaluation.metrics import mpjpe, p_mpjpe
from ssrstf.geometry import to_root_relative
from ssrstf.lifting.lifter import Lifter

METHODS = ("pad-end", "centred", "resample")


def clip_indices(method: str, num_frames: int, clip_len: int) -> np.ndarray:
    """(T,) indices into the F frames that make the model's clip, by ``method``."""
    if not 1 <= num_frames <= clip_len:
        raise ValueError(f"need 1 <= F <= T, got F={num_frames}, T={clip_len}")
    frames = np.arange(num_frames)
    if method == "pad-end":
        return np.concatenate([frames, np.full(clip_len - num_frames, num_frames - 1)])
    if method == "centred":
        return centred_padding(num_frames, clip_len)[0]
    if method == "resample":
        return resample_indices(num_frames, clip_len)
    raise ValueError(f"unknown method {method!r}; one of {METHODS}")


def per_frame_outputs(method: str, outputs: np.ndarray, num_frames: int) -> np.ndarray:
    """(F, J, 3) per-frame outputs of one clip's (T, J, 3) outputs, by ``method``."""
    clip_len = len(outputs)
    if method == "pad-end":
        return outputs[:num_frames]
    if method == "centred":
        first = centred_padding(num_frames, clip_len)[1]
        return outputs[first : first + num_frames]
    indices = clip_indices(method, num_frames, clip_len)
    return stitch_clips(outputs[None], indices[None], num_frames)


def main() -> None:
    parser = argparse.ArgumentParser(description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("--data", default="data/h36m.npz")
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--inputs", nargs="+", default=["gt", "sh"])
    parser.add_argument("--lengths", type=int, nargs="+", default=[1, 2, 4, 8, 13, 20, 26])
    parser.add_argument("--clips", type=int, default=300, help="pieces per length and input")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lifter = Lifter(args.checkpoint, flip=True)
    clip_len, root = lifter.num_frames, lifter.skeleton.root
    if lifter.frame_stride != 1:
        raise SystemExit(f"{args.checkpoint}: a model on consecutive frames is needed")
    lengths = [n for n in args.lengths if 1 <= n < clip_len]
    arrays = ["poses_3d"] + [f"poses_2d_{name}" for name in args.inputs]
    streams = load_streams(args.data, subjects=["S9", "S11"], arrays=arrays)
    report: dict[str, object] = {
        "checkpoint": args.checkpoint, "clip_len": clip_len, "clips": args.clips, "rows": []
    }  # fmt: skip
    for name in args.inputs:
        usable = [i for i in range(len(streams.keys)) if streams.has_2d[name][i]]
        for num_frames in lengths:
            rng = np.random.default_rng([args.seed, num_frames])
            pieces = []  # (inputs (F, J, C), truth (F, J, 3))
            for i in rng.choice(usable, size=args.clips):
                span = streams.frames(i)
                frames = np.arange(span.start, span.stop)
                start = int(rng.integers(0, len(frames) - num_frames + 1))
                chosen = frames[start : start + num_frames]
                size = tuple(int(v) for v in streams.image_size[i])
                inputs = lifter.model_inputs(streams.poses_2d[name][chosen], size)
                truth = to_root_relative(streams.poses_3d[chosen].astype(np.float64), root)
                pieces.append((inputs, truth))
            truth = np.concatenate([t for _, t in pieces])
            row: dict[str, object] = {"input": name, "frames": num_frames}
            started = time.perf_counter()
            for method in METHODS:
                indices = clip_indices(method, num_frames, clip_len)
                outputs = lifter.predict(np.stack([x[indices] for x, _ in pieces]))
                outputs = outputs.astype(np.float64) * CAMERA_TARGET_MM
                pred = np.concatenate(
                    [per_frame_outputs(method, out, num_frames) for out in outputs]
                )
                pred = to_root_relative(pred, root)
                row[method] = {
                    "p1_mm": float(mpjpe(pred, truth).mean()),
                    "p2_mm": float(p_mpjpe(pred, truth).mean()),
                }
            row["seconds"] = time.perf_counter() - started
            report["rows"].append(row)  # type: ignore[union-attr]
            cells = "  ".join(
                f"{m} {row[m]['p1_mm']:.2f} / {row[m]['p2_mm']:.2f}"  # type: ignore[index]
                for m in METHODS
            )
            print(f"{name} F={num_frames:3d}: {cells}  (P1 / P2 mm)", flush=True)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
