"""Plot quick-evaluation curves of training runs: P1 (or P2) against steps and training time.

Usage::

    python benchmarks/plot_curves.py runs/abl60-mix_ssrstf-lite runs/abl60-mix_global-only \\
        --out docs/ablation-robust60.png
    python benchmarks/plot_curves.py runs/abl120-* --table     # the same curves as a Markdown table
    python benchmarks/plot_curves.py runs/long24h-27f_global-only --table --metric p2

The table has a row per evaluated step and, per run, its training minutes and P1 (P2) on every
evaluated 2D source at that step (``GT / SH`` for the robust recipe), so runs compare at equal
steps along a row and at equal training time by the minutes.

Reads each run's ``metrics.jsonl`` (`ssrstf.training.trainer`): ``p1_mm`` (the training input,
ground-truth 2D for the robust recipe) and every ``p1_mm_<source>`` of ``eval.extra_inputs``
(e.g. Stacked-Hourglass 2D), at each quick evaluation; with ``--metric p2`` the same of P2
(Procrustes-aligned, which leaves out the global scale and rotation that make P1 swing between
evaluations at a high learning rate). Final evaluations are left out of the curves (they may
score another subset). Needs matplotlib (the ``viz`` or ``dev`` extra).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml


def read_curves(run_dir: Path, metric: str = "p1") -> dict[str, list[tuple[int, float, float]]]:
    """Metric name → [(step, training minutes, value)] of the quick evaluations of one run:
    ``<metric>_mm`` and every ``<metric>_mm_<source>`` (``metric``: "p1" or "p2")."""
    name = f"{metric}_mm"
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        raise SystemExit(f"{run_dir}: no metrics.jsonl")
    curves: dict[str, list[tuple[int, float, float]]] = {}
    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record.get("eval", "").startswith("final"):
            continue
        for key, value in record.items():
            if key == name or key.startswith(f"{name}_"):
                curves.setdefault(key, []).append(
                    (record["step"], record["elapsed_min"], float(value))
                )
    return curves


def _metric_order(metric: str) -> tuple[bool, str]:
    """The training input's ``p1_mm`` (``p2_mm``) first, then the extra sources by name."""
    return ("_mm_" in metric, metric)


def _source(metric: str) -> str:
    """``p1_mm_sh`` → "sh"; "" for the training input's ``p1_mm`` / ``p2_mm``."""
    return metric.partition("_mm")[2].removeprefix("_")


def input_source(run_dir: Path) -> str:
    """The 2D source a run trains on and ``p1_mm`` scores (``data.input_source``; "input" when
    the run folder has no readable config)."""
    try:
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        return str(config["data"]["input_source"])
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return "input"


def curve_table(
    runs: dict[str, dict[str, list[tuple[int, float, float]]]],
    inputs: dict[str, str] | None = None,
    metric: str = "p1",
) -> str:
    """A Markdown table of the quick-evaluation curves: a row per step evaluated in any run.

    ``inputs``: run name → the name of its ``p1_mm`` source (default "input"); ``metric``
    names the figure in the header ("p1" → P1)."""
    order = {name: sorted(curves, key=_metric_order) for name, curves in runs.items()}
    by_step: dict[str, dict[int, tuple[float, dict[str, float]]]] = {name: {} for name in runs}
    for name, curves in runs.items():
        for key, points in curves.items():
            for step, minutes, value in points:
                by_step[name].setdefault(step, (minutes, {}))[1][key] = value
    header = ["step"]
    for name in runs:
        own = (inputs or {}).get(name, "input")
        sources = [_source(m) or own for m in order[name]]
        header += [f"{name}: min", f"{name}: {metric.upper()} {' / '.join(sources)}"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for step in sorted({step for rows in by_step.values() for step in rows}):
        cells = [f"{step:,}"]
        for name in runs:
            if step not in by_step[name]:
                cells += ["—", "—"]
                continue
            minutes, values = by_step[name][step]
            text = " / ".join(f"{values[m]:.1f}" if m in values else "—" for m in order[name])
            cells += [f"{minutes:.1f}", text]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders")
    parser.add_argument("--out", type=Path, help="PNG to write")
    parser.add_argument("--table", action="store_true", help="print a Markdown table instead")
    parser.add_argument("--title", default="quick evaluations (1 in 50 test clips)")
    parser.add_argument(
        "--metric", choices=("p1", "p2"), default="p1", help="P1 (MPJPE) or P2 (P-MPJPE)"
    )
    args = parser.parse_args()
    if args.table:
        runs = {}
        for run in args.runs:
            if (run / "metrics.jsonl").is_file():
                runs[run.name] = read_curves(run, args.metric)
            else:
                print(f"{run}: no evaluation yet, left out", file=sys.stderr)
        inputs = {run.name: input_source(run) for run in args.runs}
        print(curve_table(runs, inputs, args.metric))
        return
    if args.out is None:
        parser.error("give --out PNG (or --table)")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("plotting needs matplotlib: pip install -e '.[viz]'") from None
    runs = {run.name: read_curves(run, args.metric) for run in args.runs}
    metrics = sorted({m for curves in runs.values() for m in curves})
    fig, axes = plt.subplots(len(metrics), 2, figsize=(11, 3.6 * len(metrics)), squeeze=False)
    for row, metric in enumerate(metrics):
        source = _source(metric) or "training input"
        for col, (xi, xlabel) in enumerate(((0, "optimiser step"), (1, "training minutes"))):
            ax = axes[row][col]
            for name, curves in runs.items():
                points = curves.get(metric, [])
                if points:
                    ax.plot([p[xi] for p in points], [p[2] for p in points], "o-", ms=3,
                            label=name)  # fmt: skip
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{args.metric.upper()} mm ({source} 2D)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.suptitle(args.title)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
