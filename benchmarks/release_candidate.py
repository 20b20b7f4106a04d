"""Is a finished training run the next packaged model? Full protocol, the declared rule, the export.

Usage::

    python benchmarks/release_candidate.py runs/long24h-27f_global-only --data data/h36m.npz \
        --overlaps 0 9 --baseline default
    python benchmarks/release_candidate.py runs/long24h-27f_global-only --data data/h36m.npz \
        --export --note "trained on Human3.6M, research use; ..."

Four steps; each evaluation already written is read back instead of run again, so an
interrupted call continues where it stopped:

1. **The full VideoPose3D protocol** (every test frame, flip TTA) of ``RUN/last.pt`` on every
   2D input of ``--inputs`` (default ``gt sh``) at every ``--overlaps`` value (default 0: disjoint
   27-frame clips; K > 0: windows overlapping by K frames, stitched as ``ssrstf infer`` does),
   ``--workers`` evaluations at a time, one torch thread each (the two cores of this machine:
   ~13 minutes for both inputs at overlap 0). Each is what ``ssrstf evaluate --checkpoint
   RUN/last.pt --data DATA --input I --overlap K`` prints, written to
   ``RUN/full/videopose3d_<input>[_overlap<K>].{json,md,csv}`` (the per-joint table beside it,
   ``..._joints.{md,csv}``).
2. **The rule** declared before the run started (docs/results.md, "Decision rules", 4): the last
   checkpoint replaces the packaged model only if its P1 at overlap 0 is lower than the packaged
   model's on every input of ``--beat`` (default: the packaged model's own full-protocol figures,
   `PACKAGED_P1`). Figures at other overlaps are reported, never used by the rule. Printed as a
   Markdown table and written to ``RUN/full/decision.json`` (a decision taken there against
   other figures is kept: read back after it shipped, a run is compared with itself).
3. ``--baseline CHECKPOINT`` (``default``: the packaged model): the same overlap-0 evaluations of
   another model (under ``RUN/full/baseline/``, also read back), then where the candidate gains
   or loses against it, per joint and per action, on every input (``RUN/full/vs_baseline.md``).
   With the packaged model as baseline, its P1 is also checked against the figures the rule uses
   (`PACKAGED_P1`): a mismatch means those figures are stale, and the run stops before any export.
4. ``--export`` (with ``--note``, the model card's line): when the rule says so, the weights are
   written to ``--to`` (default: the packaged ``src/ssrstf/checkpoints/default.safetensors``),
   atomically; when it does not, nothing is written. What to do before committing an export
   (the packaged mesh head, which runs on one backbone only; the figures) is printed.

A run that has not ended (no ``final.json``: its cosine has not reached 0) is refused, since the
rule is about the end of the schedule; ``--unfinished`` evaluates it anyway (figures for a look,
never exported). ``--every N`` scores 1 in N test clips (quick mode, labelled; never exported).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGED = ROOT / "src" / "ssrstf" / "checkpoints" / "default.safetensors"
PACKAGED_P1 = {"gt": 36.13, "sh": 61.24}
"""Full-protocol P1 (mm, VideoPose3D protocol, flip TTA) of the packaged model on each 2D input:
docs/results.md, "The models that ship" (GT checked by
``tests/test_training.py::test_default_model_reproduces_the_documented_figure``)."""
RULE = (
    "the last checkpoint replaces the packaged model if its full-protocol P1 (VideoPose3D, flip "
    "TTA, disjoint clips) is lower on every input (docs/results.md, Decision rules 4)"
)


@dataclass(frozen=True)
class Job:
    """One full-protocol evaluation of the candidate."""

    input_source: str
    overlap: int

    @property
    def stem(self) -> str:
        """File name without suffix, under ``RUN/full``."""
        return f"videopose3d_{self.input_source}" + (
            f"_overlap{self.overlap}" if self.overlap else ""
        )


def _one_thread() -> None:
    import torch

    torch.set_num_threads(1)


def evaluate_job(
    checkpoint: str, data: str, job: Job, out_dir: str, every: int, digest: str
) -> dict[str, object]:
    """Run one evaluation (in a worker process) and write its JSON and tables atomically;
    ``digest`` is the SHA-256 of ``checkpoint``, recorded with the figures."""
    from ssrstf.evaluation.results import write_result_tables
    from ssrstf.files import atomic_write
    from ssrstf.training.scoring import evaluate_checkpoint

    result = evaluate_checkpoint(
        checkpoint, data, protocol="videopose3d", input_source=job.input_source,
        flip_test=True, every=every, overlap=job.overlap,
    )  # fmt: skip
    stem = Path(out_dir) / job.stem
    write_result_tables(result, stem)
    record = {**result.to_dict(), "checkpoint_sha256": digest}
    text = json.dumps(record, indent=2)
    atomic_write(stem.with_suffix(".json"), lambda temp: temp.write_text(text))
    return record


def run_jobs(
    checkpoint: str | Path, data: str, jobs: Sequence[Job], out_dir: Path, *, every: int,
    workers: int,
) -> dict[Job, dict]:  # fmt: skip
    """Every job's result: read back when its JSON exists for the same checkpoint file and quick
    setting (a figure of an earlier ``last.pt`` is never reused), else evaluated, ``workers`` at
    a time. ``checkpoint`` must not change meanwhile (`main` passes a snapshot of a run's)."""
    from ssrstf.files import file_sha256

    digest = file_sha256(checkpoint)
    results: dict[Job, dict] = {}
    todo = []
    for job in jobs:
        path = out_dir / f"{job.stem}.json"
        if path.is_file():
            record = json.loads(path.read_text())
            same = record.get("every") == every and record.get("checkpoint_sha256") == digest
            if same and "per_joint" in record:  # older records lack the per-joint tables
                results[job] = record
                print(f"{job.stem}: read back from {path}", flush=True)
                continue
        todo.append(job)
    if not todo:
        return results
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(todo)), mp_context=get_context("spawn"),
        initializer=_one_thread,
    )  # fmt: skip
    with pool:
        futures = {
            pool.submit(evaluate_job, str(checkpoint), data, job, str(out_dir), every, digest): job
            for job in todo
        }
        for future in as_completed(futures):
            job = futures[future]
            results[job] = future.result()
            minutes = (time.monotonic() - start) / 60
            print(f"{job.stem}: P1 {results[job]['p1_mm']:.2f} mm ({minutes:.1f} min)", flush=True)
    return results


def decide(
    results: Mapping[Job, dict], beat: Mapping[str, float], *, finished: bool = True
) -> dict[str, object]:
    """The rule on the overlap-0 figures: ship only if P1 is lower than ``beat`` on every input,
    on full-protocol figures of a run that has ended (``reasons``: why not, else empty).

    Raises:
        ValueError: If an input of ``beat`` has no overlap-0 result.
    """
    p1 = {job.input_source: r["p1_mm"] for job, r in results.items() if job.overlap == 0}
    missing = sorted(set(beat) - set(p1))
    if missing:
        raise ValueError(f"the rule needs overlap-0 figures on {', '.join(missing)}")
    beats = {source: p1[source] < limit for source, limit in beat.items()}
    reasons = [f"P1 not lower on {source}" for source, ok in beats.items() if not ok]
    if any(r.get("quick") for r in results.values()):
        reasons.append("quick-mode figures never decide")
    if not finished:
        reasons.append("the run has not ended")
    return {
        "rule": RULE,
        "beat_p1_mm": dict(beat),
        "p1_mm": {source: p1[source] for source in beat},
        "beats": beats,
        "reasons": reasons,
        "ship": not reasons,
    }


def record_decision(path: Path, decision: Mapping[str, object]) -> bool:
    """Write ``decision`` to ``path`` unless it holds one taken against other figures.

    The rule is applied once, against the packaged figures of its day: a later call (the run
    read back for other overlaps after it shipped, when ``PACKAGED_P1`` are its own figures)
    must not turn a recorded ``ship`` into ``keep``. Returns whether ``path`` was written.
    """
    from ssrstf.files import atomic_write

    if path.is_file():
        with contextlib.suppress(ValueError, AttributeError):
            earlier = json.loads(path.read_text())
            if earlier.get("beat_p1_mm") != decision["beat_p1_mm"]:
                print(
                    f"{path} holds the decision taken against {earlier.get('beat_p1_mm')} "
                    f"(ship: {earlier.get('ship')}); kept. Against {decision['beat_p1_mm']}: "
                    "printed below only",
                    file=sys.stderr,
                )  # fmt: skip
                return False
    atomic_write(path, lambda temp: temp.write_text(json.dumps(decision, indent=2) + "\n"))
    return True


def format_report(results: Mapping[Job, dict], decision: Mapping[str, object]) -> str:
    """The figures as a Markdown table, then the decision."""
    beat = decision["beat_p1_mm"]
    lines = [
        "| 2D input | test windows | P1 (mm) | P2 (mm) | packaged P1 (mm) | frames |",
        "|---|---|---|---|---|---|",
    ]
    for job in sorted(results, key=lambda j: (j.input_source, j.overlap)):
        r = results[job]
        windows = f"overlapping by {job.overlap}, stitched" if job.overlap else "disjoint (rule)"
        packaged = f"{beat[job.input_source]:.2f}" if job.input_source in beat else "—"
        lines.append(
            f"| {job.input_source} | {windows} | {r['p1_mm']:.2f} | {r['p2_mm']:.2f} | "
            f"{packaged} | {r['frames']:,} |"
        )
    label = next(iter(results.values()))["label"]
    if decision["ship"]:
        verdict = f"SHIP: lower P1 than the packaged model on {', '.join(beat)}"
    else:
        verdict = f"KEEP the packaged model: {'; '.join(decision['reasons'])}"
    return "\n".join([label, "", *lines, "", f"Rule: {RULE}.", verdict])


def compare(
    candidate: Mapping[Job, dict], baseline: Mapping[Job, dict], key: str
) -> dict[str, dict[str, tuple[float, float]]]:
    """Input → row (joint or action) → (candidate P1, baseline P1), on the overlap-0 figures of
    the inputs both have; ``key`` is ``"per_joint"`` or ``"per_action"``; the last row,
    ``Average``, holds the headline figures."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for job, mine in candidate.items():
        theirs = baseline.get(job)
        if job.overlap or theirs is None:
            continue
        rows = {
            name: (value["p1_mm"], theirs[key][name]["p1_mm"])
            for name, value in mine[key].items()
            if name in theirs[key]
        }
        out[job.input_source] = rows | {"Average": (mine["p1_mm"], theirs["p1_mm"])}
    return out


def format_comparison(candidate: Mapping[Job, dict], baseline: Mapping[Job, dict]) -> str:
    """Per joint, then per action: each input's candidate P1, baseline P1 and their difference
    (mm; negative: the candidate is better), as Markdown."""
    sections = []
    for key, what in (("per_joint", "joint"), ("per_action", "action")):
        table = compare(candidate, baseline, key)
        if not table:
            continue
        inputs = sorted(table)
        header = " | ".join(f"{s} P1 | {s} baseline | {s} Δ" for s in inputs)
        lines = [f"| {what} | {header} |", "|---|" + "---:|" * (3 * len(inputs))]
        for name in table[inputs[0]]:
            cells = []
            for source in inputs:
                mine, theirs = table[source].get(name, (float("nan"), float("nan")))
                cells.append(f"{mine:.2f} | {theirs:.2f} | {mine - theirs:+.2f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        sections.append("\n".join([f"P1 (mm) {key.replace('_', ' ')}:", "", *lines]))
    return "\n\n".join(sections)


def stale_beat(baseline: Mapping[Job, dict], beat: Mapping[str, float]) -> list[str]:
    """Inputs whose baseline P1 (overlap 0) is not the figure the rule compares against, to the
    hundredth it is documented with (±0.005 mm: a last digit may flip with the thread count)."""
    p1 = {job.input_source: r["p1_mm"] for job, r in baseline.items() if job.overlap == 0}
    return [
        f"{source}: baseline {p1[source]:.2f} against {limit:.2f}"
        for source, limit in beat.items()
        if source in p1 and abs(p1[source] - limit) > 0.005 + 1e-9
    ]


def export(checkpoint: Path, to: Path, note: str) -> Path:
    """Write the candidate's weights (safetensors, config and note), replacing ``to``."""
    from ssrstf.checkpoint import export_weights, load_model

    model, cfg = load_model(checkpoint)
    return export_weights(to, model, cfg, source=checkpoint.name, note=note)


def _beat(text: str) -> tuple[str, float]:
    source, sep, value = text.partition("=")
    try:
        if not sep or not source:
            raise ValueError
        return source, float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected INPUT=P1_MM (e.g. gt=45.64), got {text!r}"
        ) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a training run's folder (last.pt, final.json)")
    parser.add_argument("--data", required=True, help="prepared Human3.6M .npz")
    parser.add_argument("--inputs", nargs="+", default=list(PACKAGED_P1), metavar="SOURCE")
    parser.add_argument("--overlaps", nargs="+", type=int, default=[0], metavar="K")
    parser.add_argument(
        "--beat", nargs="+", type=_beat, metavar="INPUT=P1",
        help="the P1 to beat per input (default: the packaged model's, "
        + " ".join(f"{k}={v}" for k, v in PACKAGED_P1.items()) + ")",
    )  # fmt: skip
    parser.add_argument(
        "--baseline", metavar="CHECKPOINT",
        help="also evaluate this model ('default': the packaged one) and compare per joint and "
        "per action (no comparison without the option)",
    )  # fmt: skip
    parser.add_argument("--workers", type=int, default=2, help="evaluations at a time")
    parser.add_argument("--every", type=int, default=1, help="quick mode: 1 in N test clips")
    parser.add_argument("--unfinished", action="store_true", help="evaluate a run still going")
    parser.add_argument("--export", action="store_true", help="export when the rule says ship")
    parser.add_argument("--to", type=Path, default=PACKAGED, help="where --export writes")
    parser.add_argument("--note", default="", help="--export: the model card's line")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    checkpoint = args.run / "last.pt"
    if not checkpoint.is_file():
        raise SystemExit(f"{checkpoint} not found: not a training run's folder")
    finished = (args.run / "final.json").is_file()
    if not finished and not args.unfinished:
        raise SystemExit(
            f"{args.run} has not ended (no final.json: its schedule has not reached 0); the rule "
            "is about its last checkpoint (--unfinished: evaluate it anyway, never exported)"
        )
    if args.export and not args.note:
        raise SystemExit("--export needs --note: the model card's line (data, licence, training)")
    if args.workers < 1 or args.every < 1 or min(args.overlaps) < 0:
        raise SystemExit("--workers and --every must be >= 1, --overlaps >= 0")
    beat = dict(args.beat) if args.beat else dict(PACKAGED_P1)
    unknown = sorted(set(beat) - set(args.inputs))
    if unknown:
        raise SystemExit(f"--beat names inputs not in --inputs: {', '.join(unknown)}")
    baseline_path = PACKAGED if args.baseline == "default" else Path(args.baseline or "")
    if args.baseline and not baseline_path.is_file():
        raise SystemExit(f"--baseline {args.baseline}: no such checkpoint file")
    jobs = [Job(source, k) for k in dict.fromkeys([0, *args.overlaps]) for source in args.inputs]
    out_dir = args.run / "full"
    with tempfile.TemporaryDirectory(prefix="ssrstf-candidate-") as temp:
        # One copy of last.pt, hashed, evaluated and exported: a run still going (--unfinished)
        # or resumed meanwhile cannot put another checkpoint's weights under these figures.
        candidate = Path(shutil.copyfile(checkpoint, Path(temp) / checkpoint.name))
        return _decide_and_export(args, checkpoint, candidate, jobs, out_dir, beat, finished,
                                  baseline_path)  # fmt: skip


def _decide_and_export(
    args: argparse.Namespace, checkpoint: Path, candidate: Path, jobs: list[Job], out_dir: Path,
    beat: dict[str, float], finished: bool, baseline_path: Path,
) -> int:  # fmt: skip
    """Steps 1-4 on ``candidate``, the snapshot of the run's ``checkpoint``."""
    results = run_jobs(candidate, args.data, jobs, out_dir, every=args.every, workers=args.workers)
    decision = decide(results, beat, finished=finished) | {"checkpoint": str(checkpoint)}
    stale: list[str] = []
    if args.baseline:
        base_jobs = [Job(source, 0) for source in args.inputs]
        baseline = run_jobs(
            baseline_path, args.data, base_jobs, out_dir / "baseline", every=args.every,
            workers=args.workers,
        )  # fmt: skip
        comparison = format_comparison(results, baseline)
        text = f"Candidate {checkpoint} against baseline {baseline_path}\n\n{comparison}\n"
        (out_dir / "vs_baseline.md").write_text(text)
        print(f"\n{text}")
        if baseline_path.resolve() == PACKAGED.resolve() and not args.beat and args.every == 1:
            stale = stale_beat(baseline, beat)
            if stale:
                decision["reasons"].append("the rule's packaged figures are stale")
                decision["ship"] = False
    record_decision(out_dir / "decision.json", decision)
    print()
    print(format_report(results, decision))
    if stale:
        print(
            "The packaged model's own figures are not the rule's (PACKAGED_P1): "
            + "; ".join(stale), file=sys.stderr,
        )  # fmt: skip
    if not args.export:
        return 0
    if not decision["ship"]:
        print("--export: nothing written (the packaged model stays)", file=sys.stderr)
        return 1
    path = export(candidate, args.to, args.note)
    print(
        f"\nwrote {path}. Before committing it: retrain the packaged mesh head on it (a head "
        "records its backbone's SHA-256 and refuses any other: configs/mesh-anny_27f_h36m-mix.yaml)"
        " and update the packaged figures: PACKAGED_P1 here, "
        "tests/test_training.py::test_default_model_reproduces_the_documented_figure, the "
        "README and docs/results.md (The models that ship)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
