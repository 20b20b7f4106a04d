"""Live streams on Human3.6M: the P1 cost of each look-ahead against offline lifting, and latency.

Usage::

    python benchmarks/streaming.py --data data/h36m.npz [--checkpoint default]
        [--lookaheads 0 4 13] [--segment 200] [--stream-step 1] [--latency-frames 400]
        [--backend torch] [--json OUT]

Accuracy: for every ``--stream-step``-th S9/S11 test stream of the VideoPose3D protocol (every
camera; S11 Directions left out, ground-truth 2D as the packaged model's input), the first
``--segment`` frames are lifted as a live stream (`ssrstf.StreamingLifter`: the window ending
at each frame, triangle-weighted over the ``lookahead + 1`` windows that contain a frame) for
each look-ahead, and offline (`ssrstf.Lifter.lift`, the default overlap and flip TTA) on the same
frames; P1 (MPJPE) and P2 (P-MPJPE) against the ground truth, frame-weighted. The window outputs
are computed once in batches and shared by all look-aheads (the streaming result depends only on
them); the script checks that this equals `StreamingLifter` pushed frame by frame on the first
segment.

Latency: ``--latency-frames`` frames of one stream pushed one at a time, per look-ahead: the
compute time of each push (p50, p99; the look-ahead's delay of ``lookahead / fps`` comes on top),
in wall time and in this process's CPU time (which a shared machine inflates less).
Not a test: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from ssrstf.checkpoint import load_model
from ssrstf.data.clips import window_weights
from ssrstf.data.h36m import load_streams
from ssrstf.evaluation.metrics import mpjpe, p_mpjpe
from ssrstf.evaluation.protocol import VIDEOPOSE3D
from ssrstf.geometry import to_root_relative
from ssrstf.lifting.lifter import Lifter
from ssrstf.lifting.streaming import StreamingLifter
from ssrstf.pipeline.stream import latency_percentiles_ms


def window_outputs(lifter: Lifter, inputs: np.ndarray, batch: int = 64) -> np.ndarray:
    """(F, T, J, 3) model outputs of the window ending at each frame (first frame repeated)."""
    window = lifter.num_frames
    ends = np.arange(len(inputs))
    index = np.maximum(ends[:, None] - window + 1 + np.arange(window)[None], 0)
    return np.concatenate(
        [lifter.predict(inputs[index[i : i + batch]]) for i in range(0, len(inputs), batch)]
    ).astype(np.float64)


def stream_poses(outputs: np.ndarray, lookahead: int) -> np.ndarray:
    """What a stream with ``lookahead`` returns for every frame (flushed ones included), mm."""
    num_frames, window = outputs.shape[:2]
    weights = window_weights(window)
    total = np.zeros((num_frames, *outputs.shape[2:]))
    weight = np.zeros(num_frames)
    for k in range(lookahead + 1):  # frame i from the window ending at i + k, position T-1-k
        frames = np.arange(num_frames - k)
        total[frames] += weights[window - 1 - k] * outputs[frames + k, window - 1 - k]
        weight[frames] += weights[window - 1 - k]
    return to_root_relative(total / weight[:, None, None] * 1000.0)  # metres -> mm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/h36m.npz")
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--lookaheads", type=int, nargs="+", default=[0, 4, 13])
    parser.add_argument("--segment", type=int, default=200, help="frames per stream")
    parser.add_argument("--stream-step", type=int, default=1, help="every N-th test stream")
    parser.add_argument("--latency-frames", type=int, default=400)
    parser.add_argument("--backend", default=None, help="torch or onnxruntime")
    parser.add_argument("--json", default=None, help="also write the results here")
    args = parser.parse_args()
    _, cfg = load_model(args.checkpoint)
    source = f"poses_2d_{cfg.data.input_source}"
    streams = load_streams(args.data, subjects=("S9", "S11"), arrays=("poses_3d", source))
    lifter = Lifter(args.checkpoint, backend=args.backend)
    keys = [
        i
        for i in range(len(streams.keys))
        if f"{streams.subject[i]}/{streams.action[i]}" not in VIDEOPOSE3D.skip_sequences
    ][:: args.stream_step]
    errors: dict[str, list[np.ndarray]] = {"offline": []}
    errors.update({f"lookahead {n}": [] for n in args.lookaheads})
    p2: dict[str, list[np.ndarray]] = {k: [] for k in errors}
    start = time.perf_counter()
    checked = None
    for i in keys:
        frames = _first(streams.frames(i), args.segment)
        pixels = streams.poses_2d[cfg.data.input_source][frames]
        size = tuple(int(v) for v in streams.image_size[i])
        truth = to_root_relative(streams.poses_3d[frames].astype(np.float64))
        inputs = lifter.model_inputs(pixels, size)
        outputs = window_outputs(lifter, inputs)
        results = {"offline": lifter.lift_inputs(inputs)}
        results.update({f"lookahead {n}": stream_poses(outputs, n) for n in args.lookaheads})
        if checked is None:  # the shared-window shortcut equals a real stream, frame by frame
            stream = StreamingLifter(args.checkpoint, size, lookahead=max(args.lookaheads),
                                     backend=args.backend)  # fmt: skip
            pushed = [p for p in (stream.push(k) for k in pixels) if p is not None]
            real = np.stack(pushed + stream.flush())
            checked = float(np.abs(real - results[f"lookahead {max(args.lookaheads)}"]).max())
        for name, poses in results.items():
            errors[name].append(mpjpe(poses, truth))
            p2[name].append(p_mpjpe(poses, truth))
    accuracy = {
        name: {
            "p1_mm": round(float(np.concatenate(errors[name]).mean()), 2),
            "p2_mm": round(float(np.concatenate(p2[name]).mean()), 2),
        }
        for name in errors
    }
    frames_scored = int(sum(len(e) for e in errors["offline"]))
    seconds = time.perf_counter() - start
    print(f"{len(keys)} streams x {args.segment} frames ({frames_scored} frames), {seconds:.0f} s;"
          f" a real stream equals the shortcut to {checked:.2e} mm")  # fmt: skip
    base = accuracy["offline"]["p1_mm"]
    for name, row in accuracy.items():
        cost = "" if name == "offline" else f"  (+{row['p1_mm'] - base:.2f} mm P1)"
        print(f"{name:14s} P1 {row['p1_mm']:6.2f} mm  P2 {row['p2_mm']:6.2f} mm{cost}")
    latency = measure_latency(args, streams, keys[0], cfg.data.input_source)
    for name, row in latency.items():
        print(f"{name:14s} per-frame latency p50 {row['p50_ms']:.1f} ms, p99 "
              f"{row['p99_ms']:.1f} ms (CPU time p50 {row['cpu_p50_ms']:.1f} ms, p99 "
              f"{row['cpu_p99_ms']:.1f} ms)")  # fmt: skip
    if args.json:
        with open(args.json, "w") as handle:
            summary = {"accuracy": accuracy, "latency": latency, "frames": frames_scored,
                       "streams": len(keys), "segment": args.segment}  # fmt: skip
            json.dump(summary, handle, indent=2)


def _first(frames: slice, count: int) -> slice:
    """The first ``count`` frames of a stream's slice."""
    return slice(frames.start, min(frames.stop, frames.start + count))


def measure_latency(args, streams, index: int, source: str) -> dict[str, dict[str, float]]:
    """Per look-ahead: p50/p99 compute time of one push, over ``--latency-frames`` frames."""
    frames = _first(streams.frames(index), args.latency_frames)
    pixels = streams.poses_2d[source][frames]
    size = tuple(int(v) for v in streams.image_size[index])
    return push_latency(args.checkpoint, pixels, size, args.lookaheads, backend=args.backend)


def push_latency(
    checkpoint: str,
    pixels: np.ndarray,
    size: tuple[int, ...],
    lookaheads: list[int],
    backend: str | None = None,
) -> dict[str, dict[str, float]]:
    """Per look-ahead: p50/p99 wall and CPU time of one push, ``pixels`` pushed one at a time."""
    out = {}
    for lookahead in lookaheads:
        stream = StreamingLifter(checkpoint, size, lookahead=lookahead, backend=backend)
        for keypoints in pixels[:5]:  # warm-up
            stream.push(keypoints)
        stream.reset()
        latencies, cpu = [], []
        for keypoints in pixels:
            start = time.process_time()
            stream.push(keypoints)
            cpu.append(time.process_time() - start)
            latencies.append(stream.last_latency_s)
        p50, p99 = latency_percentiles_ms(latencies)
        c50, c99 = latency_percentiles_ms(cpu)
        out[f"lookahead {lookahead}"] = {
            "p50_ms": round(p50, 2), "p99_ms": round(p99, 2),
            "cpu_p50_ms": round(c50, 2), "cpu_p99_ms": round(c99, 2),
        }  # fmt: skip
    return out


if __name__ == "__main__":
    main()
