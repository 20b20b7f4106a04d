"""benchmarks/release_candidate.py: a finished run's full-protocol figures, the shipping rule and
the export, on a tiny run trained on the synthetic dataset."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest
import torch

from ssrstf.config import load_config
from ssrstf.training.scoring import evaluate_checkpoint
from ssrstf.training.trainer import fit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rc():
    """The script as a module; on sys.path so that its spawned workers import it too."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        yield importlib.import_module("release_candidate")
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
        sys.modules.pop("release_candidate", None)


@pytest.fixture
def finished_run(synthetic_h36m: Path, tmp_path: Path) -> Path:
    """A tiny run trained to its end (last.pt and final.json), evaluated on GT and SH."""
    cfg = load_config(
        ROOT / "configs" / "tiny_debug.yaml",
        [f"data.path={synthetic_h36m}", "data.train_subjects=[S1]", "train.max_steps=3",
         "train.num_threads=1", "eval.final_every=1", "eval.extra_inputs=[sh]"],
    )  # fmt: skip
    run = tmp_path / "run"
    fit(cfg, run)
    assert (run / "last.pt").is_file() and (run / "final.json").is_file()
    return run


def test_figures_rule_and_export(rc, finished_run: Path, synthetic_h36m: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str],
                                 monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    to = tmp_path / "packaged.safetensors"
    to.write_bytes(b"the packaged model")
    base = [str(finished_run), "--data", str(synthetic_h36m), "--overlaps", "0", "3",
            "--to", str(to), "--note", "tiny test model"]  # fmt: skip
    # Thresholds no model reaches: the packaged file is left untouched, exit status 1.
    assert rc.main([*base, "--beat", "gt=0.001", "sh=1e9", "--export"]) == 1
    assert to.read_bytes() == b"the packaged model"
    out = capsys.readouterr().out
    assert "KEEP the packaged model: P1 not lower on gt" in out
    full = finished_run / "full"
    names = sorted(p.name for p in full.iterdir())
    for stem in ("videopose3d_gt", "videopose3d_sh", "videopose3d_gt_overlap3",
                 "videopose3d_sh_overlap3"):  # fmt: skip
        assert {f"{stem}.json", f"{stem}.md", f"{stem}.csv", f"{stem}_joints.csv"} <= set(names)
    # Each figure is what `ssrstf evaluate --checkpoint RUN/last.pt --input I --overlap K` gives.
    for source, overlap in (("sh", 0), ("gt", 3)):
        stem = f"videopose3d_{source}" + (f"_overlap{overlap}" if overlap else "")
        stored = json.loads((full / f"{stem}.json").read_text())
        direct = evaluate_checkpoint(
            finished_run / "last.pt", synthetic_h36m, input_source=source, overlap=overlap
        )
        assert stored["p1_mm"] == pytest.approx(direct.p1_mm, rel=1e-6)
        assert stored["overlap"] == overlap and not stored["quick"]
    decision = json.loads((full / "decision.json").read_text())
    assert decision["ship"] is False and decision["beats"] == {"gt": False, "sh": True}

    # A second call reads the figures back (no evaluation runs) and can export.
    def no_evaluation(*args, **kwargs):
        raise AssertionError("evaluated again")

    monkeypatch.setattr(rc, "evaluate_job", no_evaluation)
    assert rc.main([*base, "--beat", "gt=1e9", "sh=1e9", "--export"]) == 0
    out = capsys.readouterr().out
    assert "read back" in out and "SHIP: lower P1 than the packaged model on gt, sh" in out
    from safetensors import safe_open

    with safe_open(str(to), "pt") as exported:
        assert exported.metadata()["note"] == "tiny test model"
        state = torch.load(finished_run / "last.pt", weights_only=True)["model"]
        assert set(exported.keys()) == set(state)
        for name, tensor in state.items():
            assert torch.equal(exported.get_tensor(name), tensor)


def test_refusals(rc, synthetic_h36m: Path, finished_run: Path, tmp_path: Path) -> None:
    (finished_run / "final.json").unlink()  # a run still going
    args = [str(finished_run), "--data", str(synthetic_h36m)]
    with pytest.raises(SystemExit, match="has not ended"):
        rc.main(args)
    with pytest.raises(SystemExit, match="not a training run's folder"):
        rc.main([str(tmp_path), "--data", str(synthetic_h36m)])
    with pytest.raises(SystemExit, match="--export needs --note"):
        rc.main([*args, "--unfinished", "--export"])
    with pytest.raises(SystemExit, match="not in --inputs: sh"):
        rc.main([*args, "--unfinished", "--inputs", "gt"])
    with pytest.raises(SystemExit):
        rc.main([*args, "--beat", "gt"])


def test_rule_on_stored_figures(rc) -> None:
    gt, sh, sh9 = rc.Job("gt", 0), rc.Job("sh", 0), rc.Job("sh", 9)
    record = {"p1_mm": 44.0, "p2_mm": 33.0, "frames": 10, "quick": False, "label": "H36M"}
    results = {gt: record, sh: {**record, "p1_mm": 68.92}, sh9: {**record, "p1_mm": 60.0}}
    beat = {"gt": 45.64, "sh": 68.92}
    decision = rc.decide(results, beat)  # equal is not lower; the overlap-9 figure never counts
    assert decision["ship"] is False and decision["reasons"] == ["P1 not lower on sh"]
    results[sh] = {**record, "p1_mm": 68.91}
    assert rc.decide(results, beat)["ship"] is True
    assert rc.decide(results, beat, finished=False)["reasons"] == ["the run has not ended"]
    quick = {job: {**r, "quick": True} for job, r in results.items()}
    assert rc.decide(quick, beat)["reasons"] == ["quick-mode figures never decide"]
    with pytest.raises(ValueError, match="overlap-0 figures on sh"):
        rc.decide({gt: record, sh9: record}, beat)
    report = rc.format_report(results, rc.decide(results, beat))
    assert "| sh | overlapping by 9, stitched | 60.00 | 33.00 | 68.92 | 10 |" in report
    assert "| gt | disjoint (rule) | 44.00 | 33.00 | 45.64 | 10 |" in report
