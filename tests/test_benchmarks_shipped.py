"""benchmarks/shipped_speed.py: one run gives every row of README.md's inference table.

The script runs in ``--quick`` mode (a smoke run of every row, seconds) in a subprocess; its JSON
must hold each row with a positive number or an explicit "not measured (...)" reason, the
machine line's figures, and a Markdown table with the same rows, which is also the table that
README.md's speed section for the packaged model shows (its row names, so a pasted run fits).
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
README_SECTION = "### The packaged model: lifting, live streams, videos"
SCRIPT = ROOT / "benchmarks" / "shipped_speed.py"
ROWS = [
    "lifting_default",
    "lifting_onnxruntime",
    "lifting_no_flip_no_overlap",
    "stream_lookahead_0",
    "stream_lookahead_13",
    "video_end_to_end",
    "demo",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[dict, str]:
    """The JSON report and the printed output of one ``--quick`` run."""
    out = tmp_path_factory.mktemp("shipped") / "speed.json"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of a Markdown table's body rows (header and separator left out)."""
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    assert len(lines) >= 3 and set(lines[1]) <= set("|-: "), f"no table in:\n{markdown}"
    return [[cell.strip() for cell in line.strip("|").split(" | ")] for line in lines[2:]]


def check_report(report: dict) -> None:
    """Every row measured (a positive number) or saying why not; the table has the same rows."""
    rows = report["rows"]
    assert [r["key"] for r in rows] == ROWS
    for r in rows:
        if r["value"] is None:
            assert r.get("not_measured", "").startswith("not measured ("), r
            assert r["figure"] == r["not_measured"], r
        else:
            assert isinstance(r["value"], int | float) and r["value"] > 0, r
            assert "not_measured" not in r and "not measured" not in r["figure"], r
            assert "TBD" not in r["figure"], r
    machine = report["machine"]
    assert machine["cpu"] and machine["cores"] >= 1 and machine["threads"] == 1
    assert machine["torch"] == torch.__version__ and machine["clock"] == "cpu"
    assert machine["matmul_gflops_per_s"] > 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", machine["date"])
    for key in ("cpu", "torch", "date"):
        assert str(machine[key]) in report["markdown"], key
    cells = table_rows(report["markdown"])
    assert [c[:2] for c in cells] == [[r["label"], r["figure"]] for r in rows]
    assert [c[2] for c in cells] == [f"{r['clock'].replace('cpu', 'CPU')} time" for r in rows]


def test_quick_run_has_every_row(run) -> None:
    report, stdout = run
    check_report(report)
    assert report["quick"] is True
    assert report["markdown"] in stdout
    measured = {r["key"] for r in report["rows"] if r["value"] is not None}
    assert {"lifting_default", "lifting_no_flip_no_overlap", "demo"} <= measured
    assert {"stream_lookahead_0", "stream_lookahead_13"} <= measured
    default = report["rows"][0]
    assert default["matmul_share"] > 0 and default["gflops_per_s"] > 0


@pytest.mark.parametrize(
    "damage",
    ["zero value", "silent gap", "row dropped", "table row dropped", "figure changed"],
)
def test_check_report_catches_damage(run, damage: str) -> None:
    report = copy.deepcopy(run[0])
    rows = report["rows"]
    if damage == "zero value":
        rows[0]["value"] = 0.0
    elif damage == "silent gap":
        rows[1]["value"] = None
    elif damage == "row dropped":
        rows.pop()
    elif damage == "table row dropped":
        report["markdown"] = "\n".join(report["markdown"].splitlines()[:-1])
    else:
        rows[-1]["figure"] = "TBD s"
    with pytest.raises(AssertionError):
        check_report(report)


def test_readme_table_has_the_scripts_rows(run) -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split(f"{README_SECTION}\n", 1)[1].split("\n### ", 1)[0]
    assert "benchmarks/shipped_speed.py" in section
    cells = table_rows(section)
    assert [c[0] for c in cells] == [r["label"] for r in run[0]["rows"]]
    assert [c[2] for c in cells] == [c[2] for c in table_rows(run[0]["markdown"])]
