"""Batch throughput: ``ssrstf infer`` over many videos with 1, 2, ... worker processes.

Usage (in the project environment with the ``video`` extra; the machine otherwise idle)::

    python benchmarks/batch.py [--videos DIR] [--copies K] [--frames N] [--workers 1 2]
                               [--json OUT]

The batch is every video of ``--videos`` (default ``../shared/data/tfjs_pose_videos``), each
``--copies`` times (symbolic links, so the batch has enough inputs to keep every worker busy;
default 4, i.e. 8 inputs and 740 frames with the two clips there); ``--frames N`` first cuts
each clip to its first N frames (a quick check that the script works, not a measurement). For
each worker count the whole batch runs into a fresh output folder through `run_batch` with the
CLI's defaults (detection, lifting with the packaged model, npz/JSON/BVH/GLB/viewer files) and
is timed by the wall clock, worker start-up (spawn, importing torch and MediaPipe, loading the
model) included, since a user waits for it too. Prints one JSON object: per worker count the
wall time, inputs per minute, frames per second, the mean detector share of an input's time,
and the speed-up over the first worker count (the target: >= 1.7 with 2 workers on 2
cores). Not a test: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

from ssrstf.keypoints.video import is_video
from ssrstf.pipeline.batch import available_cpus, run_batch

VIDEOS = Path(__file__).resolve().parents[1].parent / "shared/data/tfjs_pose_videos"


def prepare_inputs(videos: list[Path], folder: Path, *, copies: int, frames: int | None) -> Path:
    """``folder/inputs`` with ``copies`` links to each video (or to its first ``frames``)."""
    inputs = folder / "inputs"
    inputs.mkdir()
    for video in videos:
        source = video
        if frames is not None:  # re-encode the first frames (the clip stays a real one)
            import imageio_ffmpeg

            source = folder / f"{video.stem}_first{frames}.mp4"
            subprocess.run(
                [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(video),
                 "-frames:v", str(frames), "-c:v", "libx264", "-pix_fmt", "yuv420p", str(source)],
                check=True,
            )  # fmt: skip
        for copy in range(copies):
            (inputs / f"{video.stem}_{copy}{video.suffix}").symlink_to(source.resolve())
    return inputs


def bench(inputs: Path, workers: int, out: Path) -> dict[str, float | int]:
    """Run the batch once with ``workers`` processes; its throughput."""
    start = time.perf_counter()
    result = run_batch([inputs], out, workers=workers, progress=False)
    wall = time.perf_counter() - start
    if not result.ok:
        raise RuntimeError(f"inputs failed: {[(r.input, r.error) for r in result.failed]}")
    frames = sum(r.frames or 0 for r in result.records)
    shares = [r.detection_share for r in result.records if r.detection_share is not None]
    busy = sum(r.seconds or 0.0 for r in result.records)
    return {
        "workers": result.workers,
        "inputs": len(result.records),
        "frames": frames,
        "wall_s": round(wall, 3),
        "inputs_per_minute": round(60 * len(result.records) / wall, 2),
        "frames_per_second": round(frames / wall, 2),
        "detector_share": round(sum(shares) / len(shares), 4) if shares else None,
        "worker_busy_share": round(busy / (wall * result.workers), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=VIDEOS, help="folder of videos")
    parser.add_argument("--copies", type=int, default=4, help="inputs per video (default 4)")
    parser.add_argument("--frames", type=int, default=None, help="cut clips to N frames (check)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()

    videos = sorted(p for p in args.videos.iterdir() if is_video(p))
    if not videos:
        raise SystemExit(f"no videos in {args.videos}")
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        inputs = prepare_inputs(videos, Path(folder), copies=args.copies, frames=args.frames)
        for workers in args.workers:
            runs.append(bench(inputs, workers, Path(folder) / f"out_{workers}"))
    base = runs[0]["inputs_per_minute"]
    for run in runs:
        run["speedup"] = round(run["inputs_per_minute"] / base, 3)
    result = {
        "videos": [str(v) for v in videos],
        "copies": args.copies,
        "frames_cut": args.frames,
        "runs": runs,
        "machine": {
            "cpus": os.cpu_count(),
            "available_cpus": available_cpus(),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "python": platform.python_version(),
        },
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
