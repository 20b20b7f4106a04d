"""Wall time and figures of a Human3.6M evaluation with each way of running the model.

Usage::

    python benchmarks/evaluation.py --data data/h36m.npz [--checkpoint default] [--every 1]
        [--settings default onnxruntime ...] [--json OUT]

Runs ``ssrstf evaluate --checkpoint CHECKPOINT --data DATA --input gt`` (VideoPose3D protocol,
flip TTA, every S9/S11 frame; ``--every N`` scores one test clip in N, quick mode) once per
setting, in the same process, and prints the seconds (data loading included) and P1/P2 of each,
with the differences from the first setting (``--clock cpu``: this process's CPU seconds,
for a shared machine with one thread). Settings (`SETTINGS`): ``default`` (torch, the
predictor's CPU chunks of `ssrstf.models.tta.CPU_TOKENS_PER_FORWARD` tokens), ``before`` (torch,
one forward pass per batch of ``eval.batch_size`` clips, the earlier predictor), ``onnxruntime``,
``bfloat16`` (a bfloat16 copy of the model). The target: the full evaluation (``--every 1``) in
<= 300 s with every figure unchanged to 0.01 mm. Not a test: times depend on the load.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from ssrstf.lifting.backends import make_backend_predictor
from ssrstf.models.tta import make_predictor
from ssrstf.skeleton import SKELETONS
from ssrstf.training.scoring import evaluate_checkpoint


def _torch(**options):
    def factory(model, cfg):
        skeleton = SKELETONS[cfg.model.skeleton]
        return make_predictor(model, skeleton, flip_test=cfg.eval.flip_test, **options)

    return factory


def _onnxruntime(model, cfg):
    return make_backend_predictor(model, cfg, backend="onnxruntime", flip_test=cfg.eval.flip_test)


SETTINGS = {
    "default": None,
    "before": _torch(max_tokens=10**12),
    "onnxruntime": _onnxruntime,
    "bfloat16": _torch(dtype=torch.bfloat16),
}
"""Name → predictor factory for `evaluate_checkpoint` (None: its default, torch)."""

TARGET_SECONDS = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/h36m.npz")
    parser.add_argument("--checkpoint", default="default")
    parser.add_argument("--every", type=int, default=1, help="quick mode: 1 test clip in N")
    parser.add_argument("--settings", nargs="+", choices=list(SETTINGS), default=list(SETTINGS))
    parser.add_argument(
        "--clock", choices=("wall", "cpu"), default="wall",
        help="seconds of wall time or of this process's CPU time (shared machines, 1 thread)",
    )  # fmt: skip
    parser.add_argument("--json", default=None, help="also write the rows here")
    args = parser.parse_args()
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    rows = []
    for name in args.settings:
        start = clock()
        result = evaluate_checkpoint(
            args.checkpoint, args.data, input_source="gt", every=args.every,
            predictor=SETTINGS[name],
        )  # fmt: skip
        seconds = clock() - start
        row = {"setting": name, "seconds": round(seconds, 1), "clock": args.clock,
               "p1_mm": result.p1_mm, "p2_mm": result.p2_mm, "frames": result.frames,
               "every": args.every, "per_action": result.per_action}  # fmt: skip
        first = rows[0] if rows else row
        rows.append(row)
        d1, d2 = result.p1_mm - first["p1_mm"], result.p2_mm - first["p2_mm"]
        worst = max(
            abs(v[k] - first["per_action"][a][k])
            for a, v in result.per_action.items()
            for k in ("p1_mm", "p2_mm")
        )
        print(f"{name:12s} {seconds:7.1f} s  P1 {result.p1_mm:.3f} mm  P2 {result.p2_mm:.3f} mm  "
              f"(vs {first['setting']}: {d1:+.3f} / {d2:+.3f} mm, per action at most {worst:.3f}"
              f" mm; {result.frames} frames)", flush=True)  # fmt: skip
    if args.every == 1 and rows[0]["setting"] == "default":
        verdict = "met" if rows[0]["seconds"] <= TARGET_SECONDS else "missed"
        print(f"full evaluation, defaults: {rows[0]['seconds']:.0f} s "
              f"(target <= {TARGET_SECONDS:.0f} s: {verdict})")  # fmt: skip
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)


if __name__ == "__main__":
    main()
