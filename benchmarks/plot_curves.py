"""Plot quick-evaluation curves of training runs: P1 against steps and against training time.

Usage::

    python benchmarks/plot_curves.py runs/abl60-mix_ssrstf-lite runs/abl60-mix_global-only \\
        --out docs/ablation-robust60.png

Reads each run's ``metrics.jsonl`` (`ssrstf.training.trainer`): ``p1_mm`` (the training input,
ground-truth 2D for the robust recipe) and every ``p1_mm_<source>`` of ``eval.extra_inputs``
(e.g. Stacked-Hourglass 2D), at each quick evaluation. Final evaluations are left out of the
curves (they may score another subset). Needs matplotlib (the ``viz`` or ``dev`` extra).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def read_curves(run_dir: Path) -> dict[str, list[tuple[int, float, float]]]:
    """Metric name → [(step, training minutes, value)] of the quick evaluations of one run."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise SystemExit(f"{run_dir}: no metrics.jsonl")
    curves: dict[str, list[tuple[int, float, float]]] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record.get("eval", "").startswith("final"):
            continue
        for key, value in record.items():
            if key == "p1_mm" or key.startswith("p1_mm_"):
                curves.setdefault(key, []).append(
                    (record["step"], record["elapsed_min"], float(value))
                )
    return curves


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--title", default="quick evaluations (1 in 50 test clips)")
    args = parser.parse_args()
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("plotting needs matplotlib: pip install -e '.[viz]'") from None
    runs = {run.name: read_curves(run) for run in args.runs}
    metrics = sorted({m for curves in runs.values() for m in curves})
    fig, axes = plt.subplots(len(metrics), 2, figsize=(11, 3.6 * len(metrics)), squeeze=False)
    for row, metric in enumerate(metrics):
        source = metric.removeprefix("p1_mm").removeprefix("_") or "training input"
        for col, (xi, xlabel) in enumerate(((0, "optimiser step"), (1, "training minutes"))):
            ax = axes[row][col]
            for name, curves in runs.items():
                points = curves.get(metric, [])
                if points:
                    ax.plot([p[xi] for p in points], [p[2] for p in points], "o-", ms=3,
                            label=name)  # fmt: skip
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"P1 mm ({source} 2D)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(args.title)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
