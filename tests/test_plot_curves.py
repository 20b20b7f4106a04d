"""benchmarks/plot_curves.py: the quick-evaluation curves of runs, as a picture or a table."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "plot_curves.py"


def _run_dir(parent: Path, name: str, records: list[dict], source: str = "gt") -> Path:
    run = parent / name
    run.mkdir()
    (run / "config.yaml").write_text(f"data:\n  input_source: {source}\n")
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def _table(*args: str | Path) -> tuple[list[list[str]], str]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args), "--table"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in done.stdout.splitlines()]
    return rows, done.stderr


def test_table_aligns_runs_by_step_and_leaves_out_final_figures(tmp_path: Path) -> None:
    a = _run_dir(tmp_path, "a", [
        {"step": 250, "elapsed_min": 4.5, "p1_mm": 135.84, "p1_mm_sh": 141.76},
        {"step": 500, "elapsed_min": 9.1, "p1_mm": 104.9, "p1_mm_sh": 116.5},
        {"step": 612, "elapsed_min": 11.0, "p1_mm": 90.0, "p1_mm_sh": 99.0, "eval": "final quick"},
    ])  # fmt: skip
    b = _run_dir(tmp_path, "b", [
        {"step": 250, "elapsed_min": 17.1, "p1_mm": 142.3, "p1_mm_gt": 149.2},
    ], source="sh")  # fmt: skip
    empty = tmp_path / "c"
    empty.mkdir()
    rows, stderr = _table(a, b, empty)
    assert rows[0] == ["step", "a: min", "a: P1 gt / sh", "b: min", "b: P1 sh / gt"]
    assert rows[2] == ["250", "4.5", "135.8 / 141.8", "17.1", "142.3 / 149.2"]
    assert rows[3] == ["500", "9.1", "104.9 / 116.5", "—", "—"]
    assert len(rows) == 4  # the final evaluation (another test subset) is not a curve point
    assert "c: no evaluation yet" in stderr


def test_p2_table_reads_the_p2_figures(tmp_path: Path) -> None:
    a = _run_dir(tmp_path, "a", [
        {"step": 250, "elapsed_min": 4.5, "p1_mm": 135.84, "p1_mm_sh": 141.76, "p2_mm": 90.04,
         "p2_mm_sh": 99.96},
    ])  # fmt: skip
    rows, _ = _table(a, "--metric", "p2")
    assert rows[0] == ["step", "a: min", "a: P2 gt / sh"]
    assert rows[2] == ["250", "4.5", "90.0 / 100.0"]
