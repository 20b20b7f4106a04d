"""How fast the shipped model runs: every figure of README.md's inference table, in one run.

Usage::

    python benchmarks/shipped_speed.py [--threads 1] [--clock cpu|wall] [--video CLIP]
                                       [--checkpoint default] [--quick] [--json OUT]

Measures the packaged default model on this machine as it is, now, and prints each figure, then
the Markdown block (machine line and table) that README.md's "### The packaged model: lifting,
live streams, videos" shows; with ``--json`` it also writes them. The rows:

* lifting (`benchmarks/lifting.py`'s settings ``default``, ``onnxruntime`` and ``no flip,
  disjoint windows``): frames per second of `Lifter.lift` on the built-in sample's motion,
  repeated (keypoints in, mm poses out; the median of 3 runs, 1 with ``--quick``); for the
  defaults also the model's GFLOP/s and its share of the fp32 matrix-multiply rate. The ONNX
  Runtime row says "not measured" without the ``onnx`` extra;
* a live stream (`benchmarks/streaming.py`'s latency part, on the same synthetic keypoints, no
  dataset): the p50 compute time of one `StreamingLifter.push` at look-ahead 0 and at the
  default look-ahead;
* video end to end (`benchmarks/video.py`): decoding, the MediaPipe detector and lifting, frames
  per second of one real clip (``--video``, or the first clip of
  ``../shared/data/tfjs_pose_videos``); "not measured" without a clip or the ``video`` extra;
* the demo end to end: the wall time of ``ssrstf demo`` (the built-in sample; files, and
  render.mp4 when the ``viz`` extra is installed: the demo has no switch to leave it out) into a
  temporary folder, start-up of the process included;
* the machine: CPU model, cores, torch version and threads, the fp32 matrix-multiply rate
  (measured after each lifting setting, the median) and the date.

``--threads`` sets torch's threads (here and the demo's ``--threads``). ``--clock cpu`` (the
default) times lifting and pushes in this process's CPU seconds, which on a machine shared with
other jobs approximate an idle core's seconds with one thread (with more threads they add up
every thread's seconds: use ``--clock wall`` on an idle machine); the video and the demo rows
are wall time. About two minutes on an idle 2-core CPU. ``--quick``: tiny sizes, a smoke test
of every row in seconds, not a measurement. Not a test: the numbers depend on the machine and
its load.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the sibling benchmark scripts

import lifting  # noqa: E402
import streaming  # noqa: E402
import video  # noqa: E402
from batch import VIDEOS  # noqa: E402

from ssrstf.extras import MissingExtraError  # noqa: E402
from ssrstf.keypoints.sample import IMAGE_SIZE, make_sample  # noqa: E402
from ssrstf.keypoints.video import is_video  # noqa: E402
from ssrstf.lifting.streaming import StreamingLifter  # noqa: E402

SIZES = {  # lifted frames, repeats, pushed frames, video frames (None: the whole clip)
    "full": {"frames": 5000, "repeats": 3, "pushes": 300, "video_frames": None},
    "quick": {"frames": 120, "repeats": 1, "pushes": 12, "video_frames": 6},
}
LIFTING_ROWS = {  # row key → (setting of benchmarks/lifting.py, label)
    "lifting_default": ("default", "lifting, defaults (flip TTA, default overlap)"),
    "lifting_onnxruntime": ("onnxruntime", "lifting, `--backend onnxruntime`"),
    "lifting_no_flip_no_overlap": ("no flip, disjoint windows", "lifting, `--no-flip --overlap 0`"),
}
VIDEO_LABEL = "video end to end (decode + detect + lift)"
DEMO_LABEL = "the demo end to end (`ssrstf demo`)"


def row(key: str, label: str, clock: str, value: float | None, unit: str, figure: str, **extra):
    """One table row; ``value`` None: ``figure`` says why it was not measured."""
    out = {"key": key, "label": label, "clock": clock, "value": value, "unit": unit}
    if value is None:
        out["not_measured"] = figure
    return {**out, "figure": figure, **extra}


def lifting_rows(args, sizes: dict, matmul: list[float]) -> list[dict]:
    """The lifting rows; appends the matmul rate measured after each setting to ``matmul``."""
    clock = lifting.CLOCKS[args.clock]
    kp = lifting.keypoints(sizes["frames"])
    options = argparse.Namespace(checkpoint=args.checkpoint, device="cpu", batch_size=64)
    rows = []
    for key, (setting, label) in LIFTING_ROWS.items():
        try:
            lifter = lifting.make_lifter(options, lifting.SETTINGS[setting])
            fps = lifting.bench(lifter, kp, sizes["repeats"], clock)
        except MissingExtraError:
            reason = "not measured (no onnx extra: pip install 'ssrstf[onnx]')"
            rows.append(row(key, label, args.clock, None, "frames/s", reason))
        else:
            gflops = lifting.lifted_flops(lifter, len(kp)) * fps / len(kp) / 1e9
            extra = {"gflops_per_s": round(gflops, 1), "windows": lifter.num_frames,
                     "overlap": lifter.overlap, "flip": lifter.flip}  # fmt: skip
            rows.append(row(key, label, args.clock, round(fps, 1), "frames/s",
                            f"{fps:,.0f} frames/s", **extra))  # fmt: skip
        matmul.append(lifting.matmul_gflops(clock))
        print(f"{label}: {rows[-1]['figure']}", flush=True)
    rate = statistics.median(matmul)
    default = rows[0]
    default["matmul_share"] = round(default["gflops_per_s"] / rate, 3)
    default["figure"] += (f" ({default['gflops_per_s']:.1f} GFLOP/s, "
                          f"{100 * default['matmul_share']:.0f} % of the matmul rate)")  # fmt: skip
    return rows


def stream_rows(args, sizes: dict) -> list[dict]:
    """p50 compute time of one push at look-ahead 0 and the default look-ahead."""
    default = StreamingLifter(args.checkpoint, IMAGE_SIZE).lookahead
    pixels = lifting.keypoints(sizes["pushes"])
    latency = streaming.push_latency(args.checkpoint, pixels, IMAGE_SIZE, [0, default])
    rows = []
    for lookahead in (0, default):
        times = latency[f"lookahead {lookahead}"]
        p50 = times["cpu_p50_ms" if args.clock == "cpu" else "p50_ms"]
        which = " (the default)" if lookahead == default else ""
        label = f"live stream, one `push`, look-ahead {lookahead}{which}"
        rows.append(row(f"stream_lookahead_{lookahead}", label, args.clock, p50, "ms",
                        f"{p50:.1f} ms p50", **times))  # fmt: skip
        print(f"{label}: {rows[-1]['figure']}", flush=True)
    return rows


def video_row(args, sizes: dict) -> dict:
    """Frames per second of decode + detect + lift on one real clip, wall time."""
    clip = args.video
    if clip is None and VIDEOS.is_dir():
        clip = next((p for p in sorted(VIDEOS.iterdir()) if is_video(p)), None)
    if clip is None or not clip.is_file():
        reason = f"not measured (no clip: {clip or VIDEOS} missing; --video PATH)"
        return row("video_end_to_end", VIDEO_LABEL, "wall", None, "frames/s", reason)
    try:
        keypoints, detection = video.detect(clip, sizes["video_frames"])
    except MissingExtraError:
        reason = "not measured (no video extra: pip install 'ssrstf[video]')"
        return row("video_end_to_end", VIDEO_LABEL, "wall", None, "frames/s", reason)
    result = {**detection, **video.end_to_end(keypoints, detection, args.checkpoint)}
    fps = result["end_to_end_fps"]
    figure = (f"{fps:.1f} frames/s ({clip.name}, {result['width']} × {result['height']}, "
              f"{result['frames']} frames; detector "
              f"{100 * result['detector_share_end_to_end']:.0f} % of the time)")  # fmt: skip
    out = row("video_end_to_end", VIDEO_LABEL, "wall", round(fps, 2), "frames/s", figure,
              **{k: v for k, v in result.items() if k != "lift"}, lift=result["lift"])  # fmt: skip
    print(f"{VIDEO_LABEL}: {figure}", flush=True)
    return out


def demo_row(args) -> dict:
    """Wall time of ``ssrstf demo`` into a temporary folder (a fresh process)."""
    frames = make_sample().keypoints.num_frames
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "demo"
        command = [sys.executable, "-m", "ssrstf", "demo", "--out", str(out), "--quiet",
                   "--checkpoint", args.checkpoint, "--threads", str(args.threads)]  # fmt: skip
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr}")
        rendered = (out / "render.mp4").is_file()
        files = sorted(p.name for p in out.iterdir())
    what = "files and render.mp4" if rendered else "files, no render.mp4 (no viz extra)"
    figure = f"{seconds:.1f} s ({frames} frames in; {what})"
    print(f"{DEMO_LABEL}: {figure}", flush=True)
    return row("demo", DEMO_LABEL, "wall", round(seconds, 2), "s", figure,
               frames=frames, rendered=rendered, files=files)  # fmt: skip


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), or what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def markdown(machine: dict, rows: list[dict], quick: bool = False) -> str:
    """The machine line and the table, as README.md shows them."""
    clocks = {"cpu": "CPU time", "wall": "wall time"}
    threads = f"{machine['threads']} thread{'s' * (machine['threads'] != 1)}"
    lines = [
        f"Measured {machine['date']} with `python benchmarks/shipped_speed.py --threads "
        f"{machine['threads']} --clock {machine['clock']}`: {machine['cpu']}, "
        f"{machine['cores']} cores, torch {machine['torch']}, {threads}, fp32 matmul "
        f"{machine['matmul_gflops_per_s']:.1f} GFLOP/s."
        + (" `--quick`: a smoke run, not a measurement." if quick else ""),
        "",
        "| | figure | clock |",
        "|---|---|---|",
    ]
    lines += [f"| {r['label']} | {r['figure']} | {clocks[r['clock']]} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument(
        "--clock", choices=list(lifting.CLOCKS), default="cpu",
        help="lifting and pushes in this process's CPU seconds (default) or wall seconds",
    )  # fmt: skip
    parser.add_argument("--video", type=Path, default=None, help=f"the clip (default: {VIDEOS})")
    parser.add_argument("--quick", action="store_true", help="seconds-long smoke run")
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = SIZES["quick" if args.quick else "full"]
    matmul: list[float] = []
    rows = lifting_rows(args, sizes, matmul)
    rows += stream_rows(args, sizes)
    rows.append(video_row(args, sizes))
    rows.append(demo_row(args))
    machine = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "clock": args.clock,
        "matmul_gflops_per_s": round(statistics.median(matmul), 1),
        "matmul_gflops_per_s_all": [round(m, 1) for m in matmul],
        "date": datetime.date.today().isoformat(),
    }
    table = markdown(machine, rows, args.quick)
    print("\n" + table)
    if args.json:
        report = {"checkpoint": args.checkpoint, "quick": args.quick, "sizes": sizes,
                  "machine": machine, "rows": rows, "markdown": table}  # fmt: skip
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
