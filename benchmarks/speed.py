"""Speed benchmark of the SSR-STF variants: forward latency, one training step, matmul roofline.

Usage::

    python benchmarks/speed.py                       # all variants, CPU (+ CUDA when present)
    python benchmarks/speed.py --variants base --train-batch 4 --json out.json

For each variant and device it reports the forward latency of one clip (batch 1, the variant's
own clip length) and per frame, the achieved GFLOP/s (FLOPs from ``ssrstf info``'s counter,
FLOPs = 2 x MACs) as a fraction of this machine's measured fp32 matrix-multiply rate, and the
time of one training step (forward, backward, AdamW) at ``--train-batch``. Medians of
``--repeats`` runs after warm-up. Not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable

import torch
import yaml

from ssrstf.config import VARIANTS, model_config_from_name
from ssrstf.models import build_model
from ssrstf.models.complexity import count_flops


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def median_seconds(
    fn: Callable[[], object], *, device: str, repeats: int, warmup: int = 2
) -> float:
    """Median wall time of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def matmul_rate(device: str, size: int = 2048, repeats: int = 10) -> float:
    """Measured fp32 matrix-multiply rate in FLOP/s (2 n^3 per product)."""
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    seconds = median_seconds(lambda: a @ b, device=device, repeats=repeats)
    return 2 * size**3 / seconds


def bench_variant(
    name: str, *, device: str, repeats: int, train_batch: int, overrides: dict
) -> dict:
    """Forward and training-step timings of one variant (with `ModelConfig` overrides)."""
    cfg = model_config_from_name(name, **overrides)
    frames = cfg.num_frames
    model = build_model(cfg).to(device)
    x = torch.randn(1, frames, model.num_joints, cfg.in_channels, device=device)
    model.eval()
    with torch.inference_mode():
        forward_s = median_seconds(lambda: model(x), device=device, repeats=repeats)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    xb = torch.randn(train_batch, frames, model.num_joints, cfg.in_channels, device=device)
    yb = torch.randn(train_batch, frames, model.num_joints, 3, device=device)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        (model(xb) - yb).norm(dim=-1).mean().backward()
        optimizer.step()

    train_s = median_seconds(step, device=device, repeats=max(repeats // 2, 2), warmup=1)
    flops = count_flops(cfg, num_frames=frames)
    return {
        "variant": name,
        "overrides": overrides,
        "device": device,
        "frames": frames,
        "flops": flops,
        "forward_s": forward_s,
        "forward_ms_per_frame": forward_s / frames * 1e3,
        "forward_gflops_per_s": flops / forward_s / 1e9,
        "train_batch": train_batch,
        "train_step_s": train_s,
    }


def main() -> None:
    """Run the benchmark and print a table (and optionally JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu (+ cuda)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--train-batch", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE",
        help="ModelConfig override, e.g. local_stream=gcn (the MotionAGFormer-style stream)",
    )  # fmt: skip
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {k: yaml.safe_load(v) for k, v in (item.split("=", 1) for item in args.set)}
    devices = args.devices or ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    results = []
    for device in devices:
        rate = matmul_rate(device)
        print(f"[{device}] fp32 matmul rate: {rate / 1e9:.1f} GFLOP/s "
              f"(torch {torch.__version__}, {torch.get_num_threads()} threads)")  # fmt: skip
        print(f"{'variant':<8} {'T':>4} {'GFLOP':>7} {'fwd s/clip':>10} {'ms/frame':>9} "
              f"{'GFLOP/s':>8} {'of matmul':>9} {'train step s':>12}")  # fmt: skip
        for name in args.variants:
            r = bench_variant(name, device=device, repeats=args.repeats,
                              train_batch=args.train_batch, overrides=overrides)  # fmt: skip
            r["matmul_gflops_per_s"] = rate / 1e9
            r["fraction_of_matmul"] = r["forward_gflops_per_s"] * 1e9 / rate
            results.append(r)
            print(f"{name:<8} {r['frames']:>4} {r['flops'] / 1e9:>7.1f} {r['forward_s']:>10.3f} "
                  f"{r['forward_ms_per_frame']:>9.2f} {r['forward_gflops_per_s']:>8.1f} "
                  f"{r['fraction_of_matmul']:>9.0%} {r['train_step_s']:>12.2f}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
