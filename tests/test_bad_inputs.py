"""The bad-input catalogue: every command × every kind of bad input.

Each row of `CASES` builds one bad input in a fresh folder and runs the command in-process. The
command must exit with code 2 and print exactly one line, ``error: ...``, that names the bad
file (or argument) and matches the row's problem; no traceback (an exception escaping `main`
fails the test), and no partial output: the output paths of the row do not exist afterwards
(or are unchanged when they existed before) and no temporary file is left anywhere.

The table is also docs/bad-inputs.md; after editing `CASES`, regenerate it with
``python tests/test_bad_inputs.py`` (a test checks that the two agree).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from ssrstf.cli import main

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "bad-inputs.md"
TINY = ROOT / "configs" / "tiny_debug.yaml"


# --------------------------------------------------------------------------- valid inputs


@dataclass
class World:
    """Valid inputs, built once per module; rows copy and spoil them."""

    root: Path
    raw: Path = field(init=False)  # prepare-h36m source folder
    prepared: Path = field(init=False)  # prepared dataset
    vp3d: dict = field(init=False)  # VideoPose3D files
    mpi: Path = field(init=False)  # MPI-INF-3DHP official layout
    keypoints: np.ndarray = field(init=False)  # (F, 17, 3) H36M pixels, 1000x1000 image
    checkpoint: Path = field(init=False)  # a tiny training checkpoint (.pt)
    weights: Path = field(init=False)  # the same as .safetensors

    def build(self) -> World:
        from conftest import write_synthetic_raw
        from test_mpi_inf_3dhp import make_sequences, write_official
        from test_prepare import _write_videopose3d

        from ssrstf.checkpoint import export_weights, save_checkpoint
        from ssrstf.config import load_config, to_dict
        from ssrstf.data.h36m import save_streams
        from ssrstf.data.prepare import prepare_h36m
        from ssrstf.keypoints.sample import make_sample
        from ssrstf.models import create_model

        self.raw = write_synthetic_raw(self.root / "raw")
        self.prepared = save_streams(prepare_h36m(self.raw, progress=False), self.root / "p.npz")
        (self.root / "vp3d").mkdir()
        self.vp3d = _write_videopose3d(self.raw, self.root / "vp3d")
        self.mpi = write_official(self.root / "mpi", make_sequences())
        self.keypoints = make_sample().keypoints.keypoints
        cfg = load_config(TINY, ["model.num_frames=9", f"data.path={self.prepared}"])
        model = create_model(cfg.model)
        self.checkpoint = save_checkpoint(
            self.root / "tiny.pt", {"config": to_dict(cfg), "model": model.state_dict()}
        )
        self.weights = export_weights(self.root / "tiny.safetensors", model, cfg)
        return self


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return World(tmp_path_factory.mktemp("world")).build()


# ---------------------------------------------------------------------- bad-file factories


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def missing(d: Path, name: str) -> Path:
    return d / "absent" / name


def folder(d: Path, name: str) -> Path:
    (d / name).mkdir(parents=True)
    return d / name


def empty(d: Path, name: str) -> Path:
    return _write(d / name, b"")


def garbage(d: Path, name: str) -> Path:
    return _write(d / name, np.random.default_rng(0).bytes(300))


def truncated(source: Path, d: Path, name: str) -> Path:
    data = source.read_bytes()
    return _write(d / name, data[: len(data) // 2])


def not_utf8(d: Path, name: str) -> Path:
    return _write(d / name, b'{"frames": "\xff\xfe\xfa"}')


def as_json(d: Path, name: str, value: object) -> Path:
    return _write(d / name, json.dumps(value))


def as_npz(d: Path, name: str, **arrays: np.ndarray) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    np.savez(d / name, **arrays)
    return d / name


def as_npy(d: Path, name: str, array: np.ndarray) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    np.save(d / name, array)
    return d / name


def unwritable(d: Path) -> Path:
    """A path in a folder that cannot be written (see `_deny_locked`: root ignores modes)."""
    out = d / "locked"
    out.mkdir()
    out.chmod(0o500)
    return out / "sub"


def _deny_locked(monkeypatch: pytest.MonkeyPatch) -> None:
    """Writes below a folder named ``locked`` fail as without write permission, also as root."""
    import errno
    import tempfile

    real_mkstemp, real_mkdir, real_open = tempfile.mkstemp, os.mkdir, os.open

    def denied(path: object) -> bool:
        return path is not None and "locked" in Path(str(path)).parts

    def fail(path: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    def mkstemp(*args, dir=None, **kwargs):  # noqa: A002 - tempfile's own name
        if denied(dir):
            fail(dir)
        return real_mkstemp(*args, dir=dir, **kwargs)

    def mkdir(path, *args, **kwargs):
        if denied(Path(str(path)).parent) or denied(path):
            fail(path)
        return real_mkdir(path, *args, **kwargs)

    def open_(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and denied(path):
            fail(path)
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)


def existing(d: Path, name: str) -> Path:
    return _write(d / name, b"previous content")


def _raw_with(w: World, d: Path, name: str, spoil: Callable[[Path], object]) -> Path:
    """A copy of the raw H36M folder with file ``name`` spoiled in place."""
    raw = d / "raw"
    shutil.copytree(w.raw, raw)
    spoil(raw / name)
    return raw


def _npz_edit(path: Path, edit: Callable[[dict], dict]) -> None:
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    path.unlink()
    np.savez(path, **edit(arrays))


def _nan_first(arrays: dict) -> dict:
    key = next(iter(arrays))
    arrays[key] = arrays[key].astype(np.float32)
    arrays[key][0, 0, 0] = np.nan
    return arrays


def _prepared_with(w: World, d: Path, edit: Callable[[dict], dict]) -> Path:
    path = d / "prepared.npz"
    shutil.copy(w.prepared, path)
    _npz_edit(path, edit)
    return path


def _ckpt_with(w: World, d: Path, edit: Callable[[dict], dict]) -> Path:
    import torch

    ckpt = torch.load(w.checkpoint, weights_only=True)
    d.mkdir(parents=True, exist_ok=True)
    torch.save(edit(ckpt), d / "edited.pt")
    return d / "edited.pt"


def _bad_dim(ckpt: dict) -> dict:
    ckpt["config"]["model"]["dim"] = 24  # the weights are for dim 16
    return ckpt


def _pickle(d: Path, value: object) -> Path:
    return _write(d / "data.pkl", pickle.dumps(value))


def _kp(w: World, frames: int | None = None, *, joints: int = 17) -> np.ndarray:
    kp = w.keypoints if frames is None else w.keypoints[:frames]
    return kp[:, :joints] if joints <= 17 else np.concatenate([kp, kp[:, : joints - 17]], 1)


def _nan_kp(w: World) -> np.ndarray:
    kp = _kp(w).copy()
    kp[..., :2] = np.nan
    return kp


def _inf_kp(w: World) -> np.ndarray:
    kp = _kp(w).copy()
    kp[3:9, 4, 0] = np.inf
    return kp


def _config(d: Path, text: str) -> Path:
    return _write(d / "config.yaml", text)


def _tiny_with(d: Path, *lines: str) -> Path:
    return _write(d / "config.yaml", TINY.read_text() + "\n" + "\n".join(lines) + "\n")


# ----------------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    """One row: ``command``, the bad ``argument``, the ``kind`` of bad input, ``problem`` (a
    lowercase fragment the message must contain) and ``build(world, folder)`` → (argv, name
    the message must contain, output paths that must stay absent or unchanged)."""

    command: str
    argument: str
    kind: str
    problem: str
    build: Callable[[World, Path], tuple[list[str], str, list[Path]]]

    @property
    def id(self) -> str:
        return f"{self.command}|{self.argument}|{self.kind}".replace(" ", "_")


def _infer(make: Callable[[World, Path], Path], *extra: str, out: str = "out"):
    def build(w: World, d: Path):
        path = make(w, d)
        argv = ["infer", str(path), "--out", str(d / out), "--quiet", *extra]
        return argv, path.name, [d / out]

    return build


def _infer_npy(array: Callable[[World], np.ndarray], *extra: str, name: str = "kp.npy"):
    return _infer(lambda w, d: as_npy(d, name, array(w)), "--image-size", "1000x1000", *extra)


def _infer_out(make_out: Callable[[Path], Path], *extra: str):
    def build(w: World, d: Path):
        kp = as_npy(d, "kp.npy", _kp(w))
        out = make_out(d)
        argv = ["infer", str(kp), "--image-size", "1000x1000", "--out", str(out), "--quiet"]
        return [*argv, *extra], out.name, [out / "poses_3d.npz"]

    return build


def _with_skeleton(*extra: str) -> tuple[str, ...]:
    return ("--skeleton", "h36m", *extra)


def _arg(command: list[str], flag: str, make: Callable[[World, Path], Path], *rest: str):
    """``command`` with ``flag`` set to a bad file (and ``rest`` after it)."""

    def build(w: World, d: Path):
        path = make(w, d)
        return [*command, flag, str(path), *rest], path.name, []

    return build


def _evaluate(flag: str, make: Callable[[World, Path], Path], valid: str = "predictions"):
    def build(w: World, d: Path):
        path = make(w, d)
        args = {"--data": str(w.prepared)}
        if valid == "predictions":
            args["--predictions"] = str(_gt_predictions(w, d, name="valid.npz"))
        else:
            args["--checkpoint"] = str(w.checkpoint)
        args[flag] = str(path)
        argv = ["evaluate", *[x for kv in args.items() for x in kv], "--frames", "9"]
        return argv, path.name, []

    return build


def _gt_predictions(
    w: World, d: Path, edit: Callable[[dict], dict] | None = None, name: str = "preds.npz"
) -> Path:
    from ssrstf.data.h36m import load_streams

    streams = load_streams(w.prepared, subjects=["S9", "S11"], arrays=("poses_3d",))
    preds = {k: streams.poses_3d[streams.frames(i)] for i, k in enumerate(streams.keys)}
    return as_npz(d, name, **(edit(preds) if edit else preds))


def _named(out: Path) -> str:
    """What a message about output ``out`` must name: the folder that cannot be written."""
    return "locked" if "locked" in out.parts else out.name


def _prepare_out(make_out: Callable[[Path], Path]):
    def build(w: World, d: Path):
        out = make_out(d)
        argv = ["data", "prepare-h36m", "--source", str(w.raw), "--out", str(out), "--quiet"]
        return argv, _named(out), [out]

    return build


def _export_out(make_out: Callable[[Path], Path]):
    def build(w: World, d: Path):
        out = make_out(d)
        return ["export", "--checkpoint", str(w.checkpoint), "--out", str(out)], _named(out), [out]

    return build


def _train(make_config: Callable[[World, Path], Path], name: str | None = None):
    def build(w: World, d: Path):
        config = make_config(w, d)
        argv = ["train", "--config", str(config), "--out", str(d / "run")]
        return argv, name or config.name, [d / "run" / "last.pt"]

    return build


def _train_data(make_data: Callable[[World, Path], Path]):
    def build(w: World, d: Path):
        data = make_data(w, d)
        config = _tiny_with(d, "data:", f"  path: {data}")
        argv = ["train", "--config", str(config), "--out", str(d / "run")]
        return argv, data.name, [d / "run" / "last.pt"]

    return build


def _resume(make_ckpt: Callable[[World, Path], Path | None]):
    def build(w: World, d: Path):
        run = d / "run"
        run.mkdir()
        ckpt = make_ckpt(w, run)
        if ckpt is not None and ckpt != run / "last.pt":
            shutil.move(ckpt, run / "last.pt")
        return ["train", "--resume", str(run)], "last.pt" if ckpt else "run", []

    return build


def _vp3d(flag: str, make: Callable[[World, Path], Path]):
    def build(w: World, d: Path):
        args = {
            "--positions-3d": str(w.vp3d["3d"]),
            "--keypoints-2d": str(w.vp3d["cpn"]),
            "--cameras": str(w.raw / "h36m_cameras.json"),
        }
        path = make(w, d)
        args[flag] = str(path)
        argv = ["data", "convert-videopose3d", *[x for kv in args.items() for x in kv]]
        return [*argv, "--out", str(d / "o.npz"), "--quiet"], path.name, [d / "o.npz"]

    return build


def _motionbert(make: Callable[[World, Path], Path], *extra: str):
    def build(w: World, d: Path):
        path = make(w, d)
        argv = ["data", "convert-motionbert", "--pickle", str(path), "--out", str(d / "o.npz")]
        return [*argv, *extra], path.name, [d / "o.npz"]

    return build


def _prepare(command: str, make: Callable[[World, Path], Path], *extra: str):
    def build(w: World, d: Path):
        path = make(w, d)
        argv = ["data", command, "--source", str(path), "--out", str(d / "o.npz"), *extra]
        return argv, path.name, [d / "o.npz"]

    return build


def _mpi_with(w: World, d: Path, spoil: Callable[[Path], object]) -> Path:
    mpi = d / "mpi"
    shutil.copytree(w.mpi, mpi)
    spoil(mpi / "mpi_inf_3dhp_test_set" / "TS2" / "annot_data.mat")
    return mpi


def _demo(make_out: Callable[[Path], Path], *extra: str):
    def build(w: World, d: Path):
        out = make_out(d)
        return ["demo", "--out", str(out), "--quiet", *extra], out.name, [out / "poses_3d.npz"]

    return build


def _export(make: Callable[[World, Path], Path]):
    def build(w: World, d: Path):
        path = make(w, d)
        out = d / "o.safetensors"
        return ["export", "--checkpoint", str(path), "--out", str(out)], path.name, [out]

    return build


_INFO = ["info"]
_SH = "h36m_2d_stackedhourglass_16j.npz"
_3D = "h36m_3d_17j_world_50fps.npz"
_CAM = "h36m_cameras.json"

# fmt: off
CASES: list[Case] = [
    # ------------------------------------------------------------------ info
    Case("info", "--config", "missing path", "not found",
         _arg(_INFO, "--config", lambda w, d: missing(d, "c.yaml"))),
    Case("info", "--config", "a folder", "folder",
         _arg(_INFO, "--config", lambda w, d: folder(d, "c"))),
    Case("info", "--config", "empty file", "empty",
         _arg(_INFO, "--config", lambda w, d: empty(d, "c.yaml"))),
    Case("info", "--config", "not UTF-8", "utf-8",
         _arg(_INFO, "--config", lambda w, d: not_utf8(d, "c.yaml"))),
    Case("info", "--config", "valid YAML, wrong format", "mapping",
         _arg(_INFO, "--config", lambda w, d: _config(d, "- a\n- b\n"))),
    Case("info", "--config", "wrong key", "model.dimension",
         _arg(_INFO, "--config", lambda w, d: _config(d, "model:\n  dimension: 3\n"))),
    Case("info", "--config", "wrong type", "model.dim",
         _arg(_INFO, "--config", lambda w, d: _config(d, "model:\n  dim: sixteen\n"))),
    Case("info", "--config", "corrupt YAML", "yaml",
         _arg(_INFO, "--config", lambda w, d: _config(d, "model: [dim: 3\n"))),
    Case("info", "--frames", "0 frames", "--frames",
         lambda w, d: (["info", "--variant", "xsmall", "--frames", "0"], "--frames", [])),
    # ----------------------------------------------------------- data prepare-h36m
    Case("data prepare-h36m", "--source", "missing path", "not found",
         _prepare("prepare-h36m", lambda w, d: missing(d, "raw"), "--quiet")),
    Case("data prepare-h36m", "--source", "a file, not a folder", "not a folder",
         _prepare("prepare-h36m", lambda w, d: existing(d, "raw"), "--quiet")),
    Case("data prepare-h36m", "--source", "empty folder", "not found",
         _prepare("prepare-h36m", lambda w, d: folder(d, "raw"), "--quiet")),
    Case("data prepare-h36m", _3D, "empty file", "empty file",
         _prepare("prepare-h36m", lambda w, d: _raw_with(w, d, _3D,
         lambda p: p.write_bytes(b"")), "--quiet")),
    Case("data prepare-h36m", _3D, "truncated npz", "not a readable",
         _prepare("prepare-h36m", lambda w, d: _raw_with(
             w, d, _3D, lambda p: p.write_bytes(p.read_bytes()[:500])), "--quiet")),
    Case("data prepare-h36m", _3D, "NaN values", "nan",
         _prepare("prepare-h36m", lambda w, d: _raw_with(w, d, _3D, lambda p: _npz_edit(p,
         _nan_first)), "--quiet")),
    Case("data prepare-h36m", _3D, "wrong joint count", "joints",
         _prepare("prepare-h36m", lambda w, d: _raw_with(w, d, _3D, lambda p: _npz_edit(
             p, lambda a: {k: v[:, :16] for k, v in a.items()})), "--quiet")),
    Case("data prepare-h36m", _SH, "wrong shape", "expected (frames, 16, 2)",
         _prepare("prepare-h36m", lambda w, d: _raw_with(w, d, _SH, lambda p: _npz_edit(
             p, lambda a: {k: v[..., :1] for k, v in a.items()})), "--quiet")),
    Case("data prepare-h36m", _CAM, "not UTF-8", "not UTF-8",
         _prepare("prepare-h36m", lambda w, d: _raw_with(
             w, d, _CAM, lambda p: p.write_bytes(b"\xff\xfe{}")), "--quiet")),
    Case("data prepare-h36m", _CAM, "valid JSON, wrong format", "expected an object of cameras",
         _prepare("prepare-h36m", lambda w, d: _raw_with(w, d, _CAM,
         lambda p: p.write_text("[1, 2]")), "--quiet")),
    Case("data prepare-h36m", _CAM, "truncated JSON", "not valid JSON",
         _prepare("prepare-h36m", lambda w, d: _raw_with(
             w, d, _CAM, lambda p: p.write_text(p.read_text()[:100])), "--quiet")),
    Case("data prepare-h36m", "--out", "unwritable folder", "not writable",
        _prepare_out(unwritable)),
    Case("data prepare-h36m", "--out", "existing output", "--overwrite",
         _prepare_out(lambda d: existing(d, "o.npz"))),
    Case("data prepare-h36m", "--out", "a folder", "folder", _prepare_out(lambda d: folder(d,
        "o.npz"))),
    # ---------------------------------------------------- data convert-videopose3d
    Case("data convert-videopose3d", "--positions-3d", "missing path", "not found",
         _vp3d("--positions-3d", lambda w, d: missing(d, "3d.npz"))),
    Case("data convert-videopose3d", "--positions-3d", "truncated npz", "not a readable",
         _vp3d("--positions-3d", lambda w, d: truncated(w.vp3d["3d"], d, "3d.npz"))),
    Case("data convert-videopose3d", "--positions-3d", "wrong keys", "positions_3d",
         _vp3d("--positions-3d", lambda w, d: as_npz(d, "3d.npz", other=np.zeros(3)))),
    Case("data convert-videopose3d", "--keypoints-2d", "garbage bytes", "not a readable",
         _vp3d("--keypoints-2d", lambda w, d: garbage(d, "2d.npz"))),
    Case("data convert-videopose3d", "--keypoints-2d", "wrong keys", "positions_2d",
         _vp3d("--keypoints-2d", lambda w, d: as_npz(d, "2d.npz", other=np.zeros(3)))),
    Case("data convert-videopose3d", "--cameras", "a folder", "folder",
         _vp3d("--cameras", lambda w, d: folder(d, "cams.json"))),
    Case("data convert-videopose3d", "--cameras", "not UTF-8", "utf-8",
         _vp3d("--cameras", lambda w, d: not_utf8(d, "cams.json"))),
    Case("data convert-videopose3d", "--cameras", "valid JSON, wrong format",
         "expected an object of cameras",
         _vp3d("--cameras", lambda w, d: as_json(d, "cams.json", {"S9/54138969": 3}))),
    # ----------------------------------------------------- data convert-motionbert
    Case("data convert-motionbert", "--pickle", "no --allow-pickle", "--allow-pickle",
         _motionbert(lambda w, d: _pickle(d, {"train": {}, "test": {}}))),
    Case("data convert-motionbert", "--pickle", "missing path", "not found",
         _motionbert(lambda w, d: missing(d, "mb.pkl"), "--allow-pickle")),
    Case("data convert-motionbert", "--pickle", "empty file", "empty",
         _motionbert(lambda w, d: empty(d, "mb.pkl"), "--allow-pickle")),
    Case("data convert-motionbert", "--pickle", "garbage bytes", "not a readable",
         _motionbert(lambda w, d: garbage(d, "mb.pkl"), "--allow-pickle")),
    Case("data convert-motionbert", "--pickle", "wrong format", "train",
         _motionbert(lambda w, d: _pickle(d, [1, 2, 3]), "--allow-pickle")),
    Case("data convert-motionbert", "--pickle", "wrong keys", "lacks keys",
         _motionbert(lambda w, d: _pickle(d, {"train": {"x": 1}, "test": {}}), "--allow-pickle")),
    # ------------------------------------------------------------ data prepare-3dhp
    Case("data prepare-3dhp", "--source", "missing path", "not found",
         _prepare("prepare-3dhp", lambda w, d: missing(d, "mpi"))),
    Case("data prepare-3dhp", "--source", "empty folder", "found neither",
         _prepare("prepare-3dhp", lambda w, d: folder(d, "mpi"))),
    Case("data prepare-3dhp", "annot_data.mat", "garbage bytes", "not a matlab",
         _prepare("prepare-3dhp", lambda w, d: _mpi_with(w, d,
         lambda p: p.write_bytes(b"x" * 200)))),
    Case("data prepare-3dhp", "annot_data.mat", "empty file", "not a MATLAB",
         _prepare("prepare-3dhp", lambda w, d: _mpi_with(w, d, lambda p: p.write_bytes(b"")))),
    Case("data prepare-3dhp", "--source", "P-STMO npz, truncated", "not a readable",
         _prepare("prepare-3dhp", lambda w, d: truncated(w.prepared, d, "data_test_3dhp.npz"),
                  "--allow-pickle")),
    # ------------------------------------------------------------------------ train
    Case("train", "--config", "missing path", "not found", _train(lambda w, d: missing(d,
        "c.yaml"))),
    Case("train", "--config", "empty file", "empty", _train(lambda w, d: empty(d, "c.yaml"))),
    Case("train", "--config", "not UTF-8", "utf-8", _train(lambda w, d: not_utf8(d, "c.yaml"))),
    Case("train", "--config", "wrong key", "train.learning_rate",
         _train(lambda w, d: _tiny_with(d, "train:", "  learning_rate: 0.1"))),
    Case("train", "--config", "NaN value", "train.lr", _train(lambda w, d: _tiny_with(d,
        "train:", "  lr: .nan"))),
    Case("train", "--config", "Inf value", "train.lr", _train(lambda w, d: _tiny_with(d,
        "train:", "  lr: .inf"))),
    Case("train", "data.path", "missing path", "not found", _train_data(lambda w, d: missing(d,
        "h36m.npz"))),
    Case("train", "data.path", "truncated npz", "not a readable",
         _train_data(lambda w, d: truncated(w.prepared, d, "h36m.npz"))),
    Case("train", "data.path", "wrong keys", "not a prepared",
         _train_data(lambda w, d: as_npz(d, "h36m.npz", poses=np.zeros((3, 17, 3))))),
    Case("train", "data.path", "wrong dtype", "stream_offsets",
         _train_data(lambda w, d: _prepared_with(w, d, lambda a: {
             **a, "stream_offsets": a["stream_offsets"].astype(np.float32) + 0.5}))),
    Case("train", "data.path", "NaN values", "nan",
         _train_data(lambda w, d: _prepared_with(w, d, lambda a: {
             **a, "poses_3d": np.where(np.arange(len(a["poses_3d"]))[:, None, None] == 5, np.nan,
                                       a["poses_3d"])}))),
    Case("train", "--resume", "nothing to resume", "nothing to resume", _resume(lambda w, d: None)),
    Case("train", "--resume", "truncated checkpoint", "not a readable",
         _resume(lambda w, d: truncated(w.checkpoint, d, "last.pt"))),
    Case("train", "--resume", "checkpoint of wrong content", "not an ssrstf checkpoint",
         _resume(lambda w, d: _ckpt_with(w, d, lambda c: {"weights": c["model"]}))),
    Case("train", "--resume", "invalid stored config", "model.dim",
         _resume(lambda w, d: _ckpt_with(w, d, lambda c: {**c, "config": {
             **c["config"], "model": {**c["config"]["model"], "dim": -1}}}))),
    Case("train", "--out", "existing run", "already holds a run",
         lambda w, d: (["train", "--config", str(TINY), "--out", str(d)], d.name,
                       [existing(d, "last.pt")])),
    # --------------------------------------------------------------------- evaluate
    Case("evaluate", "--data", "missing path", "not found", _evaluate("--data",
         lambda w, d: missing(d, "x.npz"))),
    Case("evaluate", "--data", "a folder", "folder", _evaluate("--data", lambda w, d: folder(d,
        "x.npz"))),
    Case("evaluate", "--data", "empty file", "empty", _evaluate("--data", lambda w, d: empty(d,
        "x.npz"))),
    Case("evaluate", "--data", "truncated npz", "not a readable",
         _evaluate("--data", lambda w, d: truncated(w.prepared, d, "x.npz"))),
    Case("evaluate", "--data", "wrong keys", "not a prepared",
         _evaluate("--data", lambda w, d: as_npz(d, "x.npz", a=np.zeros(2)))),
    Case("evaluate", "--predictions", "missing path", "not found",
         _evaluate("--predictions", lambda w, d: missing(d, "p.npz"))),
    Case("evaluate", "--predictions", "garbage bytes", "not a readable",
         _evaluate("--predictions", lambda w, d: garbage(d, "p.npz"))),
    Case("evaluate", "--predictions", "wrong shape", "(frames, joints, 3)",
         _evaluate("--predictions", lambda w, d: as_npz(d, "p.npz",
         **{"S9/Walking/54138969": np.zeros((4, 17))}))),
    Case("evaluate", "--predictions", "wrong dtype", "(frames, joints, 3)",
         _evaluate("--predictions", lambda w, d: as_npz(d, "p.npz",
         **{"S9/Walking/54138969": np.full((4, 17, 3), "a")}))),
    Case("evaluate", "--predictions", "NaN values", "nan",
         _evaluate("--predictions", lambda w, d: _gt_predictions(w, d, lambda p: {
             k: np.full_like(v, np.nan) for k, v in p.items()}))),
    Case("evaluate", "--predictions", "wrong joint count", "has shape (44, 15, 3)",
         _evaluate("--predictions", lambda w, d: _gt_predictions(w, d, lambda p: {
             k: v[:, :15] for k, v in p.items()}))),
    Case("evaluate", "--predictions", "0 frames", "has shape (0, 17, 3)",
         _evaluate("--predictions", lambda w, d: _gt_predictions(w, d, lambda p: {
             k: v[:0] for k, v in p.items()}))),
    Case("evaluate", "--checkpoint", "missing path", "not found",
         _evaluate("--checkpoint", lambda w, d: missing(d, "m.pt"), valid="checkpoint")),
    Case("evaluate", "--checkpoint", "truncated safetensors", "not a readable",
         _evaluate("--checkpoint", lambda w, d: truncated(w.weights, d, "m.safetensors"),
         valid="checkpoint")),
    Case("evaluate", "--checkpoint", "weights not matching the config", "do not match",
         _evaluate("--checkpoint", lambda w, d: _ckpt_with(w, d, _bad_dim), valid="checkpoint")),
    Case("evaluate", "--frames", "0 frames", "--frames",
         lambda w, d: (["evaluate", "--data", str(w.prepared), "--predictions",
                        str(_gt_predictions(w, d)), "--frames", "0"], "--frames", [])),
    Case("evaluate", "--out", "unwritable folder", "not writable",
         lambda w, d: (["evaluate", "--data", str(w.prepared), "--predictions",
                        str(_gt_predictions(w, d)), "--frames", "9", "--out",
                        str(unwritable(d) / "t")], "locked", [])),
    # ----------------------------------------------------------------------- export
    Case("export", "--checkpoint", "missing path", "not found", _export(lambda w, d: missing(d,
        "m.pt"))),
    Case("export", "--checkpoint", "a folder", "folder", _export(lambda w, d: folder(d, "m.pt"))),
    Case("export", "--checkpoint", "empty file", "empty", _export(lambda w, d: empty(d, "m.pt"))),
    Case("export", "--checkpoint", "truncated checkpoint", "not a readable",
         _export(lambda w, d: truncated(w.checkpoint, d, "m.pt"))),
    Case("export", "--checkpoint", "garbage safetensors", "not a readable",
         _export(lambda w, d: garbage(d, "m.safetensors"))),
    Case("export", "--checkpoint", "checkpoint of wrong content", "not an ssrstf checkpoint",
         _export(lambda w, d: _ckpt_with(w, d, lambda c: c["model"]))),
    Case("export", "--checkpoint", "weights not matching the config", "do not match",
         _export(lambda w, d: _ckpt_with(w, d, _bad_dim))),
    Case("export", "--checkpoint", "NaN weights", "nan",
         _export(lambda w, d: _ckpt_with(w, d, lambda c: {**c, "model": {
             k: v.float().fill_(float("nan")) if v.is_floating_point() else v
             for k, v in c["model"].items()}}))),
    Case("export", "--out", "existing output", "--overwrite", _export_out(lambda d: existing(d,
        "o.safetensors"))),
    Case("export", "--out", "unwritable folder", "not writable",
        _export_out(lambda d: unwritable(d) / "o.safetensors")),
    Case("export", "--out", "a folder", "folder", _export_out(lambda d: folder(d,
        "o.safetensors"))),
    # ------------------------------------------------------------------------ infer
    Case("infer", "INPUT", "missing path", "no such file", _infer(lambda w, d: missing(d,
        "kp.json"))),
    Case("infer", "INPUT", "a folder without OpenPose files", "openpose",
         _infer(lambda w, d: folder(d, "kp"))),
    Case("infer", "INPUT", "empty file", "empty", _infer(lambda w, d: empty(d, "kp.json"))),
    Case("infer", "INPUT", "truncated JSON", "invalid json",
         _infer(lambda w, d: _write(d / "kp.json", json.dumps({"frames": _kp(w).tolist()})[:900]))),
    Case("infer", "INPUT", "not UTF-8", "utf-8", _infer(lambda w, d: not_utf8(d, "kp.json"))),
    Case("infer", "INPUT", "valid JSON, wrong format", "format",
         _infer(lambda w, d: as_json(d, "kp.json", {"hello": [1, 2]}))),
    Case("infer", "INPUT", "truncated npz", "cannot read",
         _infer(lambda w, d: truncated(as_npz(d, "full.npz", keypoints=_kp(w)), d, "kp.npz"))),
    Case("infer", "INPUT", "npz with wrong keys", "keypoints",
         _infer(lambda w, d: as_npz(d, "kp.npz", a=_kp(w), b=_kp(w)))),
    Case("infer", "INPUT", "wrong shape", "(frames, joints, 2 or 3)",
        _infer_npy(lambda w: _kp(w)[..., 0], *_with_skeleton())),
    Case("infer", "INPUT", "wrong dtype", "numeric", _infer_npy(lambda w: np.full((5, 17, 3),
        "a"), *_with_skeleton())),
    Case("infer", "INPUT", "wrong joint count", "joints", _infer_npy(lambda w: _kp(w, joints=11))),
    Case("infer", "INPUT", "NaN values", "nan", _infer_npy(_nan_kp, *_with_skeleton())),
    Case("infer", "INPUT", "Inf values", "inf", _infer_npy(_inf_kp, *_with_skeleton())),
    Case("infer", "INPUT", "0 frames", "no frames", _infer_npy(lambda w: _kp(w, 0),
        *_with_skeleton())),
    Case("infer", "INPUT", "corrupt mp4", "video",
         _infer(lambda w, d: garbage(d, "clip.mp4"))),
    Case("infer", "INPUT", "empty mp4", "video", _infer(lambda w, d: empty(d, "clip.mp4"))),
    Case("infer", "--image-size", "absurd image size", "outside",
         lambda w, d: (["infer", str(as_npy(d, "kp.npy", _kp(w))), "--skeleton", "h36m",
                        "--image-size", "4x3", "--out", str(d / "out"), "--quiet"], "kp.npy",
                       [d / "out"])),
    Case("infer", "--image-size", "0 pixels", "--image-size",
         lambda w, d: (["infer", "kp.npy", "--image-size", "0x1080"], "--image-size", [])),
    Case("infer", "--checkpoint", "corrupt checkpoint", "not a readable",
         lambda w, d: (["infer", str(as_npy(d, "kp.npy", _kp(w))), "--skeleton", "h36m",
                        "--image-size", "1000x1000", "--checkpoint", str(garbage(d, "m.pt")),
                        "--out", str(d / "out"), "--quiet"], "m.pt", [d / "out"])),
    Case("infer", "--out", "unwritable folder", "not writable", _infer_out(unwritable,
        *_with_skeleton())),
    Case("infer", "--out", "existing output", "--overwrite",
         _infer_out(lambda d: existing(d / "out", "poses_3d.json").parent, *_with_skeleton())),
    Case("infer", "--out", "a file, not a folder", "not a folder",
         _infer_out(lambda d: existing(d, "out"), *_with_skeleton())),
    # ------------------------------------------------------------------------- demo
    Case("demo", "--out", "existing output", "--overwrite",
         _demo(lambda d: existing(d / "out", "poses_3d.npz").parent)),
    Case("demo", "--out", "unwritable folder", "not writable", _demo(unwritable)),
    Case("demo", "INPUT", "not UTF-8", "utf-8",
         lambda w, d: (["demo", str(not_utf8(d, "kp.json")), "--out", str(d / "out"), "--quiet"],
                       "kp.json", [d / "out"])),
    Case("demo", "--checkpoint", "missing path", "not found",
         lambda w, d: (["demo", "--checkpoint", str(missing(d, "m.pt")), "--out", str(d / "out"),
                        "--quiet"], "m.pt", [d / "out" / "poses_3d.npz"])),
]
# fmt: on


def _snapshot(paths: list[Path]) -> dict[Path, bytes | str | None]:
    def state(p: Path) -> bytes | str | None:
        if p.is_dir():
            return "dir:" + ",".join(sorted(x.name for x in p.iterdir()))
        return p.read_bytes() if p.is_file() else None

    return {p: state(p) for p in paths}


def _temporary_files(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.name.endswith((".tmp", ".part"))]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gives_one_clear_line(
    case: Case,
    world: World,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Relative defaults (data/h36m.npz) must not reach a real dataset in the checkout.
    monkeypatch.chdir(tmp_path)
    argv, name, outputs = case.build(world, tmp_path)
    _deny_locked(monkeypatch)
    before = _snapshot(outputs)
    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse rejects the value itself
        code = exc.code
    finally:
        for locked in tmp_path.rglob("locked"):
            locked.chmod(0o700)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, f"exit code {code}; stderr: {captured.err}"
    assert len(lines) == 1, captured.err
    line = lines[0]
    assert "error: " in line and "Traceback" not in captured.err
    assert name in line, f"the message does not name {name!r}: {line}"
    assert case.problem.lower() in line.lower(), f"expected {case.problem!r} in: {line}"
    assert _snapshot(outputs) == before, "partial output"
    assert not _temporary_files(tmp_path), "temporary files left behind"


def test_one_frame_input_works_everywhere(world: World, tmp_path: Path) -> None:
    import ssrstf
    from ssrstf.outputs.bvh import read_bvh

    one = _kp(world, 1)
    kp = as_npy(tmp_path, "one.npy", one)
    out = tmp_path / "out"
    cmd = ["infer", str(kp), "--image-size", "1000x1000", "--skeleton", "h36m"]
    assert main([*cmd, "--out", str(out), "--quiet"]) == 0
    with np.load(out / "poses_3d.npz") as data:
        assert data["poses_3d"].shape == (1, 17, 3) and np.isfinite(data["poses_3d"]).all()
    assert read_bvh(out / "poses_3d.bvh").positions_mm.shape[0] == 1
    assert len(json.loads((out / "poses_3d.json").read_text())["frames"]) == 1
    poses = ssrstf.lift(one, image_size=(1000, 1000), skeleton="h36m")
    assert poses.shape == (1, 17, 3) and np.isfinite(poses).all()


def render_table() -> str:
    """docs/bad-inputs.md: the catalogue as a table."""
    lines = [
        "# Bad inputs: what each command says",
        "",
        "Generated from `tests/test_bad_inputs.py` (`python tests/test_bad_inputs.py`); every",
        "row is a test. Each command exits with code 2 and prints one line, `error: ...`,",
        "naming the file (or argument) and the problem; no traceback, and no partial output: the",
        "output paths are untouched and no temporary file is left behind. Exit code 2 is also",
        "what argparse uses for a malformed argument.",
        "",
        f"{len(CASES)} cases.",
        "",
        "| command | input | bad input | the message contains |",
        "|---|---|---|---|",
    ]
    for case in CASES:
        lines.append(f"| `{case.command}` | `{case.argument}` | {case.kind} | {case.problem} |")
    return "\n".join(lines) + "\n"


def test_the_docs_hold_the_catalogue() -> None:
    assert DOC.read_text() == render_table(), "regenerate: python tests/test_bad_inputs.py"


if __name__ == "__main__":
    DOC.write_text(render_table())
    print(f"wrote {DOC} ({len(CASES)} cases)", file=sys.stderr)
