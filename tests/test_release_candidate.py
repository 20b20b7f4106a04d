"""benchmarks/release_candidate.py: a finished run's full-protocol figures, the shipping rule and
the export, on a tiny run trained on the synthetic dataset."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ssrstf.config import load_config
from ssrstf.training.scoring import evaluate_checkpoint
from ssrstf.training.trainer import fit

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rc(benchmark_script):
    return benchmark_script("release_candidate")


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
    with pytest.raises(SystemExit, match="--baseline nowhere.pt: no such checkpoint file"):
        rc.main([*args, "--unfinished", "--baseline", "nowhere.pt"])


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


def test_comparison_with_a_baseline(rc, finished_run: Path, synthetic_h36m: Path,
                                    capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    # The candidate itself as the "packaged" baseline: every difference is 0, and the rule's
    # packaged figures (which no tiny model has) are found stale, so nothing may ship.
    monkeypatch.setattr(rc, "PACKAGED", finished_run / "last.pt")
    monkeypatch.setattr(rc, "PACKAGED_P1", {"gt": 45.64, "sh": 68.92})
    args = [str(finished_run), "--data", str(synthetic_h36m), "--baseline", "default"]
    assert rc.main(args) == 0
    captured = capsys.readouterr()
    assert "the rule's packaged figures are stale" in captured.out
    assert "gt: baseline" in captured.err and "against 45.64" in captured.err
    decision = json.loads((finished_run / "full" / "decision.json").read_text())
    assert decision["ship"] is False
    text = (finished_run / "full" / "vs_baseline.md").read_text()
    candidate = json.loads((finished_run / "full" / "videopose3d_sh.json").read_text())
    baseline = json.loads((finished_run / "full" / "baseline" / "videopose3d_sh.json").read_text())
    assert baseline["p1_mm"] == pytest.approx(candidate["p1_mm"], rel=1e-9)
    lines = text.splitlines()
    first = lines.index("|---|" + "---:|" * 6) + 1  # the joints' table: gt, then sh
    joints = lines[first : first + 18]  # 17 joints, then the average
    assert joints[0].startswith("| pelvis |") and joints[-1].startswith("| Average |")
    assert all(line.count("| +0.00 |") + line.count("| -0.00 |") == 2 for line in joints)
    # Figures that match the rule's: nothing stale.
    gt = json.loads((finished_run / "full" / "videopose3d_gt.json").read_text())["p1_mm"]
    beat = {"gt": round(gt, 2), "sh": round(candidate["p1_mm"], 2)}
    monkeypatch.setattr(rc, "PACKAGED_P1", beat)
    assert rc.main(args) == 0
    assert "stale" not in capsys.readouterr().out
    # Stale figures block an export that the rule alone would allow.
    monkeypatch.setattr(rc, "PACKAGED_P1", {"gt": 1e9, "sh": 1e9})
    (finished_run / "full" / "decision.json").unlink()  # one taken against other figures stays
    to = finished_run / "packaged.safetensors"
    assert rc.main([*args, "--export", "--note", "x", "--to", str(to)]) == 1
    assert not to.exists()
    decision = json.loads((finished_run / "full" / "decision.json").read_text())
    assert decision["beats"] == {"gt": True, "sh": True}
    assert decision["reasons"] == ["the rule's packaged figures are stale"]


def test_comparison_tables(rc) -> None:
    def record(p1: float, joints: dict[str, float], actions: dict[str, float]) -> dict:
        return {
            "p1_mm": p1,
            "per_joint": {k: {"p1_mm": v, "p2_mm": 0.0} for k, v in joints.items()},
            "per_action": {k: {"p1_mm": v, "p2_mm": 0.0, "frames": 5} for k, v in actions.items()},
        }

    gt, sh, sh9 = rc.Job("gt", 0), rc.Job("sh", 0), rc.Job("sh", 9)
    candidate = {
        gt: record(40.0, {"hip": 0.0, "wrist": 80.0}, {"Walk": 40.0}),
        sh: record(55.0, {"hip": 0.0, "wrist": 110.0}, {"Walk": 55.0}),
        sh9: record(1.0, {"hip": 0.0, "wrist": 2.0}, {"Walk": 1.0}),  # never compared
    }
    baseline = {
        gt: record(45.0, {"hip": 0.0, "wrist": 90.0}, {"Walk": 45.0}),
        sh: record(68.0, {"hip": 0.0, "wrist": 136.0}, {"Walk": 68.0}),
    }
    table = rc.compare(candidate, baseline, "per_joint")
    assert table == {
        "gt": {"hip": (0.0, 0.0), "wrist": (80.0, 90.0), "Average": (40.0, 45.0)},
        "sh": {"hip": (0.0, 0.0), "wrist": (110.0, 136.0), "Average": (55.0, 68.0)},
    }
    text = rc.format_comparison(candidate, baseline)
    assert "| wrist | 80.00 | 90.00 | -10.00 | 110.00 | 136.00 | -26.00 |" in text
    assert "| Walk | 40.00 | 45.00 | -5.00 | 55.00 | 68.00 | -13.00 |" in text
    assert rc.stale_beat(baseline, {"gt": 45.0, "sh": 68.0}) == []
    assert rc.stale_beat(baseline, {"gt": 45.01}) == ["gt: baseline 45.00 against 45.01"]


def test_figures_and_export_come_from_one_snapshot_of_last_pt(
    rc, synthetic_h36m: Path, finished_run: Path, monkeypatch
) -> None:
    """The run's last.pt is copied once: evaluation and export read the copy, so a run resumed
    meanwhile cannot put other weights under the figures."""
    original = (finished_run / "last.pt").read_bytes()
    seen = []

    def fake_run_jobs(checkpoint, data, jobs, out_dir, *, every, workers):
        seen.append(Path(checkpoint))
        out_dir.mkdir(parents=True, exist_ok=True)
        (finished_run / "last.pt").write_bytes(b"a later checkpoint")  # the run moves on
        record = {"p1_mm": 1.0, "p2_mm": 1.0, "frames": 1, "quick": False, "label": "H36M"}
        return {job: record for job in jobs}

    monkeypatch.setattr(rc, "run_jobs", fake_run_jobs)
    exported = []
    monkeypatch.setattr(rc, "export", lambda path, to, note: exported.append(path.read_bytes()))
    args = [str(finished_run), "--data", str(synthetic_h36m), "--export", "--note", "n"]
    assert rc.main([*args, "--to", str(finished_run / "x.safetensors")]) == 0
    assert seen[0] != finished_run / "last.pt" and seen[0].name == "last.pt"
    assert exported == [original] and not seen[0].exists()  # the snapshot is gone afterwards


def test_a_recorded_decision_is_kept_against_other_figures(rc, tmp_path: Path, capsys) -> None:
    """Read back after it shipped (the packaged figures are then its own), a run's decision
    stays the one taken against the figures of its day."""
    path = tmp_path / "decision.json"
    shipped = {"beat_p1_mm": {"gt": 45.64}, "ship": True, "reasons": []}
    assert rc.record_decision(path, shipped)
    later = {"beat_p1_mm": {"gt": 36.13}, "ship": False, "reasons": ["P1 not lower on gt"]}
    assert not rc.record_decision(path, later)
    assert json.loads(path.read_text()) == shipped
    assert "holds the decision taken against {'gt': 45.64} (ship: True); kept" in (
        capsys.readouterr().err
    )
    again = {**shipped, "reasons": []}  # the same figures: written again
    assert rc.record_decision(path, again) and json.loads(path.read_text()) == again
