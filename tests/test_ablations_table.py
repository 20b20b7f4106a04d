"""benchmarks/ablations.py --table-only: the table of finished arms, from what a run folder keeps
in the repository (config.yaml, metrics.jsonl, final*.json; no checkpoint)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "ablations.py"
CONFIG = """model: {variant: xsmall, dim: 16, depth: 2, num_heads: 2, rep_dim: 32, num_frames: 9}
data: {input_source: gt}
eval: {extra_inputs: [sh]}
"""


def _run(parent: Path, name: str, p1: dict[str, float], step: int) -> Path:
    run = parent / name
    run.mkdir()
    (run / "config.yaml").write_text(CONFIG)
    records = [{"step": step // 2, "elapsed_min": 30.0}, {"step": step, "elapsed_min": 60.02}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    for source, value in p1.items():
        name = "final.json" if source == "gt" else f"final_{source}.json"
        (run / name).write_text(json.dumps({"p1_mm": value, "p2_mm": value - 10, "every": 10}))
    return run


def _tables(*runs: Path) -> list[list[list[str]]]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--table-only", *map(str, runs)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    tables: list[list[list[str]]] = [[]]
    for line in done.stdout.splitlines():
        if not line.strip():
            tables.append([])
        elif not line.startswith("|---"):
            tables[-1].append([c.strip() for c in line.strip("|").split("|")])
    return tables


def test_one_row_per_input_and_the_score_is_the_mean_p1(tmp_path: Path) -> None:
    a = _run(tmp_path, "abl60-a", {"gt": 60.0, "sh": 80.0}, step=3000)
    b = _run(tmp_path, "abl60-b", {"gt": 58.0, "sh": 83.0}, step=1500)
    rows, score = _tables(a, b)
    assert rows[0][:6] == ["run", "input", "P1 mm", "P2 mm", "eval", "steps"]
    assert [r[:4] for r in rows[1:]] == [
        ["abl60-a", "gt", "60.00", "50.00"], ["abl60-a", "sh", "80.00", "70.00"],
        ["abl60-b", "gt", "58.00", "48.00"], ["abl60-b", "sh", "83.00", "73.00"],
    ]  # fmt: skip
    assert {r[4] for r in rows[1:]} == {"quick, 1 in 10 test clips"}
    assert [r[5:7] for r in rows[1:3]] == [["3000", "60.0"]] * 2  # the last record's step
    assert score[1:] == [["abl60-a", "70.00"], ["abl60-b", "70.50"]]


def test_unfinished_runs_are_left_out_and_one_input_needs_no_score(tmp_path: Path) -> None:
    done = _run(tmp_path, "abl60-done", {"gt": 61.5}, step=100)
    running = _run(tmp_path, "abl60-running", {}, step=50)
    tables = _tables(done, running)
    assert len(tables) == 1
    assert [r[:3] for r in tables[0][1:]] == [["abl60-done", "gt", "61.50"]]


def test_runs_evaluated_on_other_inputs_get_no_score(tmp_path: Path) -> None:
    both = _run(tmp_path, "abl60-both", {"gt": 60.0, "sh": 80.0}, step=100)
    gt_only = _run(tmp_path, "abl60-gt", {"gt": 50.0}, step=100)
    tables = _tables(both, gt_only)
    # A mean of GT and SH against a GT figure is no comparison.
    assert tables[1:] == [[["no scores: the runs were not evaluated on the same inputs"]]]


def test_arms_already_trained_are_refused_before_any_starts(tmp_path: Path) -> None:
    held = tmp_path / "abl60-mix_tsa"
    held.mkdir()
    (held / "last.pt").write_bytes(b"")
    log = tmp_path / "abl60-mix_tsa.log"
    log.write_text("the earlier run's log\n")
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--suite", "robust60", "--data", "x.npz", "--runs",
         str(tmp_path), "--arms", "mix_tsa", "mix_tsa-det60"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0 and "mix_tsa: already trained" in done.stderr
    assert log.read_text() == "the earlier run's log\n"  # not truncated
