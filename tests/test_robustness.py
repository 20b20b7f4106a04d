"""Nothing lost, nothing confusing: paths that carry from one command to the next,
resuming any run, atomic writes under a full disk, output-folder locks, safe loading."""

from __future__ import annotations

import ast
import errno
import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from ssrstf.checkpoint import export_weights, load_checkpoint, load_model, save_checkpoint
from ssrstf.cli import main
from ssrstf.config import save_config
from ssrstf.data.h36m import load_streams, prepared_path, save_streams
from ssrstf.files import LOCK_NAME, OutputLockedError, atomic_write, output_lock
from ssrstf.skeleton import H36M_17

SRC = Path(__file__).resolve().parents[1] / "src" / "ssrstf"


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    return err


# ------------------------------------------------------------- one suffix rule for prepared files


def test_prepared_path_rule() -> None:
    assert prepared_path("data/h36m") == Path("data/h36m.npz")
    assert prepared_path("data/h36m.npz") == Path("data/h36m.npz")
    assert prepared_path("data/h36m.v2") == Path("data/h36m.v2.npz")


def _ground_truth_predictions(prepared: Path, subjects, out: Path) -> Path:
    streams = load_streams(prepared, subjects=subjects, arrays=("poses_3d",))
    np.savez(out, **{k: streams.poses_3d[streams.frames(i)] for i, k in enumerate(streams.keys)})
    return out


def test_prepare_h36m_out_without_suffix_works_in_the_next_commands(
    synthetic_h36m_raw: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Once: `prepare-h36m --out data/h36m` then `evaluate --data data/h36m` said "not found".
    given = tmp_path / "data" / "h36m"
    cmd = ["data", "prepare-h36m", "--source", str(synthetic_h36m_raw), "--out", str(given)]
    assert main([*cmd, "--quiet"]) == 0
    assert f"wrote {given}.npz" in capsys.readouterr().out
    assert main(["data", "info", str(given), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["streams"] == 24
    predictions = _ground_truth_predictions(given, ["S9", "S11"], tmp_path / "gt.npz")
    cmd = ["evaluate", "--data", str(given), "--predictions", str(predictions), "--frames", "9"]
    assert main([*cmd, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["p1_mm"] == pytest.approx(0.0, abs=1e-3)


def test_prepare_3dhp_out_without_suffix_works_in_the_next_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_mpi_inf_3dhp import make_sequences, write_official

    sequences = make_sequences()
    source = write_official(tmp_path / "official", sequences)
    given = tmp_path / "mpi"
    assert main(["data", "prepare-3dhp", "--source", str(source), "--out", str(given)]) == 0
    capsys.readouterr()
    predictions = tmp_path / "preds.npz"
    np.savez(predictions, **{name: seq["3d"] for name, seq in sequences["test"].items()})
    cmd = ["evaluate", "--dataset", "mpi-inf-3dhp", "--data", str(given)]
    assert main([*cmd, "--predictions", str(predictions), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mpjpe_mm"] == pytest.approx(0.0, abs=1e-3)


# ------------------------------------------------------------------------------------- resume


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_it_from_step_0(
    synthetic_h36m: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from test_training import tiny_cfg

    from ssrstf.training.trainer import fit

    cfg = tiny_cfg(synthetic_h36m, "train.max_steps=3")
    reference = fit(cfg, tmp_path / "reference").parent
    # What a kill before the first save leaves: config.yaml and perhaps a log line.
    run = tmp_path / "killed"
    run.mkdir()
    save_config(cfg, run / "config.yaml")
    (run / "metrics.jsonl").write_text('{"step": 7, "p1_mm": 1.0}\n{"step": 8, "p1')
    with caplog.at_level(logging.WARNING):
        assert main(["train", "--resume", str(run)]) == 0
    assert "starting it from step 0 with its saved config.yaml" in caplog.text
    a, b = load_checkpoint(reference / "last.pt"), load_checkpoint(run / "last.pt")
    assert a["config"] == b["config"] and b["progress"]["global_step"] == 3
    for key, value in a["model"].items():
        torch.testing.assert_close(value, b["model"][key], rtol=0, atol=0, msg=key)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [3], "the killed run's records must not survive its restart"


def test_resume_drops_log_records_after_the_checkpoint(synthetic_h36m: Path, tmp_path: Path):
    from test_training import tiny_cfg

    from ssrstf.training.trainer import fit

    run = tmp_path / "run"
    fit(tiny_cfg(synthetic_h36m, "train.max_steps=2", "train.eval_every_steps=1"), run)
    ckpt = load_checkpoint(run / "last.pt")
    ckpt["config"]["train"]["max_steps"] = 3
    save_checkpoint(run / "last.pt", {k: v for k, v in ckpt.items() if k != "format_version"})
    with (run / "metrics.jsonl").open("a") as log:  # logged after the checkpoint, then killed
        log.write('{"step": 5, "p1_mm": 1.0}\n{"step": 6, "p1')
    fit(None, run, resume=True)
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]  # quick evaluation at 1, final at 2 (kept), final at 3


def test_resume_without_anything_to_resume_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    assert "run directory not found" in _error_line(capsys)
    assert main(["train", "--resume", str(tmp_path)]) == 2
    assert "nothing to resume" in _error_line(capsys)


# ---------------------------------------------------------------------- full disk (ENOSPC)


def _disk_full(real):
    """A writer that writes part of the file, then fails as a full disk does."""

    def write(*args, **kwargs):
        target = next(a for a in (*args, *kwargs.values()) if isinstance(a, str | Path) or
                      hasattr(a, "write"))  # fmt: skip
        if hasattr(target, "write"):
            target.write(b"partial")
        else:
            Path(target).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    return write


def _writers(tmp_path: Path, synthetic_h36m: Path):
    from ssrstf.config import load_config
    from ssrstf.outputs import npz_json as ex

    model, cfg = load_model("default")
    poses = np.random.default_rng(0).normal(size=(5, 17, 3)) * 100
    valid, names = np.ones(5, bool), H36M_17.joint_names
    streams = load_streams(synthetic_h36m)
    return {
        "checkpoint": (lambda p: save_checkpoint(p, {"model": model.state_dict()}), "torch.save"),
        "safetensors": (lambda p: export_weights(p, model, cfg), "ssrstf.checkpoint.save_file"),
        "prepared npz": (lambda p: save_streams(streams, p), "numpy.savez"),
        "poses npz": (
            lambda p: ex.write_npz(p, poses, None, valid, 50.0, names, overwrite=True),
            "numpy.savez",
        ),
        "config yaml": (lambda p: save_config(load_config(), p), "pathlib.Path.write_text"),
    }


@pytest.mark.parametrize(
    "kind", ["checkpoint", "safetensors", "prepared npz", "poses npz", "config yaml"]
)
def test_a_full_disk_leaves_the_previous_file_intact(
    kind: str, synthetic_h36m: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write, target = _writers(tmp_path, synthetic_h36m)[kind]
    path = tmp_path / "out" / ("file.npz" if "npz" in kind else f"file.{kind.split()[0]}")
    write(path)
    before = path.read_bytes()
    module, _, name = target.rpartition(".")
    owner = __import__("importlib").import_module(module) if module != "pathlib.Path" else Path
    monkeypatch.setattr(owner, name, _disk_full(getattr(owner, name)))
    with pytest.raises(OSError) as exc:
        write(path)
    assert exc.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name], "temporary file left"


def test_the_cli_reports_a_full_disk_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "model.safetensors"
    assert main(["export", "--checkpoint", "default", "--out", str(out)]) == 0
    before = out.read_bytes()
    monkeypatch.setattr("ssrstf.checkpoint.save_file", _disk_full(None))
    assert main(["export", "--checkpoint", "default", "--out", str(out), "--overwrite"]) == 2
    assert "No space left on device" in _error_line(capsys)
    assert out.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_atomic_write_without_overwrite_never_replaces(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    atomic_write(path, lambda p: p.write_text("first"))

    def late(p: Path) -> None:  # another process creates the file while we write
        p.write_text("second")

    path.unlink()
    atomic_write(path, late, overwrite=False)
    with pytest.raises(FileExistsError, match="--overwrite"):
        atomic_write(path, lambda p: p.write_text("third"), overwrite=False)
    assert path.read_text() == "second" and len(list(tmp_path.iterdir())) == 1


def test_atomic_write_on_a_file_system_without_hard_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No hard links (EPERM, e.g. some network and FAT file systems): the move falls back to a
    rename that still never replaces an existing file; any other link error is raised."""
    import errno
    import os

    def no_links(source, target):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = tmp_path / "a.txt"
    atomic_write(path, lambda p: p.write_text("first"), overwrite=False)
    assert path.read_text() == "first"
    path.unlink()

    def racing(temp: Path) -> None:  # another process creates the file while we write
        temp.write_text("ours")
        path.write_text("theirs")

    with pytest.raises(FileExistsError, match="already exists; pass --overwrite"):
        atomic_write(path, racing, overwrite=False)
    assert path.read_text() == "theirs" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]

    def broken_disk(source, target):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "link", broken_disk)
    with pytest.raises(OSError, match="Input/output error"):
        atomic_write(tmp_path / "b.txt", lambda p: p.write_text("x"), overwrite=False)
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]  # no temporary file left


# ------------------------------------------------------------------------ output-folder locks


def test_a_second_run_into_a_locked_folder_stops_without_writing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ssrstf.keypoints.sample import make_sample

    keypoints = tmp_path / "kp.npy"
    np.save(keypoints, make_sample().keypoints.keypoints)
    out = tmp_path / "out"
    cmd = ["infer", str(keypoints), "--image-size", "1000x1000", "--skeleton", "h36m"]
    cmd += ["--out", str(out), "--quiet"]
    with output_lock(out):  # a first run is writing into `out`
        assert main(cmd) == 2
        err = _error_line(capsys)
        assert str(out) in err and "another ssrstf run" in err
        assert [p.name for p in out.iterdir()] == [LOCK_NAME]
    assert main(cmd) == 0  # once it is done, the folder is free again
    assert LOCK_NAME not in {p.name for p in out.iterdir()}


def test_a_lock_left_by_a_killed_run_does_not_block(tmp_path: Path) -> None:
    (tmp_path / LOCK_NAME).write_text("12345")  # the file stays, but its flock died with it
    with output_lock(tmp_path):
        second = output_lock(tmp_path)  # a second holder at the same time
        with pytest.raises(OutputLockedError, match=r"pid \d+"):
            second.__enter__()
    assert not (tmp_path / LOCK_NAME).exists()


# ------------------------------------------------------------------------------ safe loading
# The policy (docs/design.md): numpy loads pass allow_pickle=False, torch loads weights_only=True;
# unpickling happens only in a function that takes the documented ``allow_pickle`` opt-in
# (--allow-pickle), or through an Unpickler subclass that overrides ``find_class`` with a
# whitelist (it cannot construct anything else, so it cannot run code).


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ""


def _keyword_is(call: ast.Call, key: str, value: object) -> bool:
    return any(
        k.arg == key and isinstance(k.value, ast.Constant) and k.value.value is value
        for k in call.keywords
    )


def unsafe_loads(source: str) -> list[str]:
    """Loading calls in ``source`` that break the policy, as ``"line: call"``."""
    tree = ast.parse(source)
    found = []

    def visit(node: ast.AST, opt_in: bool) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names = {a.arg for a in (*node.args.args, *node.args.kwonlyargs)}
            opt_in = "allow_pickle" in names
        if isinstance(node, ast.ClassDef) and any(
            _name(b).endswith("Unpickler") for b in node.bases
        ):
            methods = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
            if "find_class" not in methods:
                found.append(f"{node.lineno}: class {node.name} (Unpickler without find_class)")
        if isinstance(node, ast.Call):
            name = _name(node.func)
            bad = (
                (name in ("np.load", "numpy.load") and not _keyword_is(node, "allow_pickle", False))
                or (name == "torch.load" and not _keyword_is(node, "weights_only", True))
                or name in ("pickle.load", "pickle.loads", "pickle.Unpickler")
            )
            if bad and not opt_in:
                found.append(f"{node.lineno}: {ast.unparse(node)[:80]}")
        for child in ast.iter_child_nodes(node):
            visit(child, opt_in)

    visit(tree, False)
    return found


def test_every_load_is_safe_or_behind_the_opt_in() -> None:
    unsafe = [
        f"{path.relative_to(SRC)}:{finding}"
        for path in sorted(SRC.rglob("*.py"))
        for finding in unsafe_loads(path.read_text())
    ]
    assert not unsafe, "unsafe loading (see the policy above):\n" + "\n".join(unsafe)


def test_the_scan_catches_unsafe_loads() -> None:
    assert unsafe_loads("x = np.load(path)\n") == ["1: np.load(path)"]
    assert unsafe_loads("np.load(p, allow_pickle=True)")
    assert unsafe_loads("torch.load(f)") and unsafe_loads("torch.load(f, weights_only=False)")
    assert not unsafe_loads("torch.load(\n    f,\n    weights_only=True,\n)\n")
    assert unsafe_loads("import pickle\npickle.loads(b)")
    assert not unsafe_loads("def read(p, *, allow_pickle=False):\n    return pickle.load(p)\n")
    assert unsafe_loads("class U(pickle.Unpickler):\n    pass\n")
    assert not unsafe_loads("class U(pickle.Unpickler):\n    def find_class(self, m, n): ...\n")


def test_a_checkpoint_config_is_validated_before_any_tensor_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import ssrstf.checkpoint as ckpt_module

    model, cfg = load_model("default")
    path = tmp_path / "bad.pt"
    from ssrstf.config import to_dict

    config = to_dict(cfg)
    config["model"]["dim"] = -3
    save_checkpoint(path, {"config": config, "model": model.state_dict()})
    built = []
    monkeypatch.setattr(ckpt_module, "create_model", lambda c: built.append(c))
    with pytest.raises(ValueError, match=r"bad\.pt.*model\.dim"):
        load_model(path)
    assert built == [], "a model was built from an invalid stored config"
    config["model"] = "not a mapping"
    save_checkpoint(path, {"config": config, "model": model.state_dict()})
    with pytest.raises(ValueError, match=r"bad\.pt"):
        load_model(path)


def test_a_stored_config_with_zero_heads_is_a_value_error_naming_the_key() -> None:
    from ssrstf.checkpoint import stored_config
    from ssrstf.config import to_dict

    _, cfg = load_model("default")
    config = to_dict(cfg)
    config["model"]["num_heads"] = 0
    with pytest.raises(ValueError, match=r"bad\.pt: invalid stored config.*num_heads must be >= 1"):
        stored_config(config, source="bad.pt")


def test_safetensors_metadata_is_checked_before_any_tensor_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors.torch import save_file

    import ssrstf.checkpoint as ckpt_module
    from ssrstf.config import to_dict

    model, cfg = load_model("default")
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    foreign = tmp_path / "foreign.safetensors"
    save_file(tensors, str(foreign), metadata={"format": "other"})
    config = to_dict(cfg)
    config["model"]["dim"] = -3
    invalid = tmp_path / "invalid.safetensors"
    save_file(tensors, str(invalid), metadata={"format": "ssrstf", "config": json.dumps(config)})
    loaded = []
    monkeypatch.setattr(ckpt_module, "load_file", lambda p: loaded.append(p))
    with pytest.raises(ValueError, match=r"foreign\.safetensors: not an ssrstf checkpoint"):
        load_model(foreign)
    with pytest.raises(ValueError, match=r"invalid\.safetensors.*model\.dim"):
        load_model(invalid)
    assert loaded == [], "tensors were read from a file whose metadata fails the checks"
