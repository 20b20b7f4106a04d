"""The equal-budget ablation study: run the arms two at a time, one core each, and tabulate them.

Usage::

    python benchmarks/ablations.py --data /tmp/h36m.npz [--arms gt_ssrstf gt_global-only ...]
    python benchmarks/ablations.py --table-only runs/abl15-*       # tabulate finished runs
    python benchmarks/ablations.py --suite robust60 --data data/h36m.npz --no-pin \
        --arms mix_ssrstf-lite mix_global-only                     # the 60-minute robust pairs

Each arm of the ``budget`` suite is ``configs/ablation-budget_27f_h36m-<arm>.yaml`` (one training
thread, a wall-clock budget and a wall-clock cosine, a quick final evaluation), trained with
``ssrstf train`` into ``<runs>/abl15-<arm>``; the ``robust60`` suite is
``configs/ablation-robust60_27f_h36m-<arm>.yaml`` into ``<runs>/abl60-<arm>`` (60 CPU-minutes
each: ``train.clock: cpu``), the ``robust120`` suite ``configs/ablation-robust120_<arm>.yaml``
(the arm names its clip length, e.g. ``81f_h36m-mix_ssrstf-lite``) into ``<runs>/abl120-<arm>``
(120 CPU-minutes: context and the SSR-STF pair at long context), the ``robust240`` suite
``configs/ablation-robust240_27f_h36m-<arm>.yaml`` into ``<runs>/abl240-<arm>`` (240
CPU-minutes: width at a longer budget). Arms run in pairs side by
side, each pinned to its own core with ``taskset`` when it exists (``--no-pin``: left to the
scheduler, fairer when other work shares the machine), so both arms of a pair see the same
machine. With a wall-clock budget nothing else should run meanwhile: a busy core costs an arm
steps; a CPU-time budget is immune to that.
An interrupted pair continues with ``--resume``. The table gives P1/P2
(with the evaluation label: quick = 1 in N test clips), optimiser steps in the budget, minutes,
parameters and FLOPs per clip of the model's T frames, and with several evaluated inputs each
run's score (the mean of its P1 over them: the robust pairs' decision rule; docs/results.md).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ssrstf.config import from_dict
from ssrstf.models.complexity import describe_model

ROOT = Path(__file__).resolve().parents[1]
SUITES = {"budget": ("ablation-budget_27f_h36m-", "abl15-"),
          "robust60": ("ablation-robust60_27f_h36m-", "abl60-"),
          "robust120": ("ablation-robust120_", "abl120-"),
          "robust240": ("ablation-robust240_27f_h36m-", "abl240-")}  # fmt: skip
"""Suite → (config file prefix, run folder prefix)."""
ARMS = (
    "gt_ssrstf", "gt_global-only", "gt_local-mixer-only", "gt_gcn",
    "gt_no-order", "gt_no-selection", "gt_mean-fusion", "sh_ssrstf", "gt_gate-bias",
)  # fmt: skip
"""The arms in the order they are paired (an odd last arm runs alone: in docs/results.md the
gate-bias arm ran beside the one-thread MLP baseline)."""


def train_command(
    arm: str, data: str, runs: Path, core: int | None, suite: str = "budget", resume: bool = False
) -> list[str]:
    """The ``ssrstf train`` command line of one arm (pinned to ``core`` when given)."""
    config_prefix, run_prefix = SUITES[suite]
    config = ROOT / "configs" / f"{config_prefix}{arm}.yaml"
    if not config.is_file():
        raise SystemExit(f"no config for arm {arm!r}: {config} does not exist")
    run_dir = runs / f"{run_prefix}{arm}"
    if resume:
        cmd = [sys.executable, "-m", "ssrstf", "train", "--resume", str(run_dir)]
    else:
        cmd = [sys.executable, "-m", "ssrstf", "train", "--config", str(config),
               "--set", f"data.path={data}", "--out", str(run_dir)]  # fmt: skip
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    return cmd


def run_pairs(
    arms: list[str], data: str, runs: Path, suite: str = "budget", pin: bool = True,
    resume: bool = False,
) -> list[str]:  # fmt: skip
    """Train the arms two at a time; each writes its log beside its run directory.

    Returns:
        The arms whose training failed (their figures are left out of the table).
    """
    runs.mkdir(parents=True, exist_ok=True)
    run_prefix = SUITES[suite][1]
    held = [arm for arm in arms if (runs / f"{run_prefix}{arm}" / "last.pt").exists()]
    if held and not resume:  # refused before any arm starts or any log is truncated
        raise SystemExit(f"{', '.join(held)}: already trained in {runs}; pass --resume or "
                         "remove the run folders")  # fmt: skip
    failed: list[str] = []
    for start in range(0, len(arms), 2):
        procs = []
        for core, arm in enumerate(arms[start : start + 2]):
            log = (runs / f"{run_prefix}{arm}.log").open("a" if resume else "w")
            cmd = train_command(arm, data, runs, core if pin else None, suite, resume)
            procs.append((arm, subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)))
            print(f"started {arm} (log {log.name})", flush=True)
        for arm, proc in procs:
            if proc.wait() != 0:
                print(f"{arm} failed (exit {proc.returncode}); see its log", file=sys.stderr)
                failed.append(arm)
    return failed


def _last_progress(run_dir: Path) -> tuple[int, float]:
    """(optimiser steps, training minutes) of a run's last metrics record."""
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    last = max((r for r in records if "step" in r), key=lambda r: r["step"])
    return int(last["step"]), float(last["elapsed_min"])


def summarize(run_dir: Path) -> list[dict[str, object]]:
    """Table rows of a finished run, one per evaluated input (``final.json`` for the training
    input, ``final_<input>.json`` for each of ``eval.extra_inputs``), from what a run folder keeps
    in the repository (config.yaml, metrics.jsonl, the final files; no checkpoint needed)."""
    cfg = from_dict(yaml.safe_load((run_dir / "config.yaml").read_text()))
    size = describe_model(cfg.model, name=run_dir.name)
    steps, minutes = _last_progress(run_dir)
    finals = [(cfg.data.input_source, run_dir / "final.json")]
    finals += [(name, run_dir / f"final_{name}.json") for name in cfg.eval.extra_inputs]
    rows: list[dict[str, object]] = []
    for source, path in finals:
        if not path.is_file():
            continue
        final = json.loads(path.read_text())
        rows.append({
            "run": run_dir.name,
            "input": source,
            "p1_mm": final["p1_mm"],
            "p2_mm": final["p2_mm"],
            "eval": "full" if final["every"] == 1 else f"quick, 1 in {final['every']} test clips",
            "steps": steps,
            "minutes": minutes,
            "threads": cfg.train.num_threads,
            "params": size["params"],
            "gflops_per_clip": size["flops"] / 1e9,
        })  # fmt: skip
    return rows


def scores(rows: list[dict[str, object]]) -> dict[str, float]:
    """Run → its score, the mean of its P1 over the inputs it was evaluated on (the decision
    rule of the robust pairs: neither input decides alone; docs/results.md); empty when the
    runs were not evaluated on the same inputs."""
    by_run: dict[str, dict[str, float]] = {}
    for r in rows:
        by_run.setdefault(str(r["run"]), {})[str(r["input"])] = float(r["p1_mm"])  # type: ignore[arg-type]
    if len({frozenset(p1) for p1 in by_run.values()}) > 1:  # a mean over other inputs
        return {}  # is no comparison
    return {run: sum(p1.values()) / len(p1) for run, p1 in by_run.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="prepared Human3.6M file (ssrstf data prepare-h36m)")
    parser.add_argument("--arms", nargs="+", default=list(ARMS), help="arms, paired in order")
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="parent of run folders")
    parser.add_argument("--table-only", nargs="*", type=Path, metavar="RUN_DIR",
                        help="only tabulate these finished runs")  # fmt: skip
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    parser.add_argument("--suite", choices=sorted(SUITES), default="budget",
                        help="which ablation configs and run folders")  # fmt: skip
    parser.add_argument("--no-pin", action="store_true", help="do not pin arms to cores")
    parser.add_argument("--resume", action="store_true", help="continue interrupted arms")
    args = parser.parse_args()
    if args.table_only is None:
        if not args.data and not args.resume:
            parser.error("--data is needed to train the arms (or pass --table-only RUN_DIR ...)")
        failed = run_pairs(
            args.arms, args.data, args.runs, args.suite, not args.no_pin, args.resume
        )
        arms = [arm for arm in args.arms if arm not in failed]
        run_dirs = [args.runs / f"{SUITES[args.suite][1]}{arm}" for arm in arms]
    else:
        run_dirs = args.table_only
    rows = [row for d in run_dirs if (d / "final.json").is_file() for row in summarize(d)]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print("| run | input | P1 mm | P2 mm | eval | steps | min | threads | params | GFLOPs/clip |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['run']} | {r['input']} | {r['p1_mm']:.2f} | {r['p2_mm']:.2f} | {r['eval']} "
              f"| {r['steps']} | {r['minutes']:.1f} | {r['threads']} | {r['params'] / 1e6:.2f} M "
              f"| {r['gflops_per_clip']:.2f} |")  # fmt: skip
    by_score = scores(rows)
    if any(r["input"] != rows[0]["input"] for r in rows) and not by_score:
        print("\nno scores: the runs were not evaluated on the same inputs")
    elif any(r["input"] != rows[0]["input"] for r in rows):
        print("\n| run | score: mean P1 over its inputs, mm |\n|---|---|")
        for run, score in by_score.items():
            print(f"| {run} | {score:.2f} |")


if __name__ == "__main__":
    main()
