"""Crash safety: SIGKILL ``infer``, ``export`` and ``data prepare-h36m`` while they write a
file, and ``train`` after a checkpoint; every final path then holds nothing or a complete,
loadable file, and ``train --resume`` continues, losing at most the checkpoint interval.

``infer`` is killed while it writes one of its first three output files (chosen at random),
``export`` and ``prepare`` while they write their one file: the moment the file's temporary
twin appears. A kill counts as inside the write only when the process died of it and the
temporary file is still there (a write that finished would have renamed or removed it); a write
of a few milliseconds can finish between two looks, so each command is retried (up to 20 times)
until a kill lands inside its write, every attempt checked. ``train`` is killed a random 0-1.5 s
after its first checkpoint. The moment is printed in failure messages; ``SSRSTF_CRASH_SEED``
replays the choices.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SEED = int(os.environ.get("SSRSTF_CRASH_SEED", str(time.time_ns() % 100_000)))
RNG = random.Random(SEED)


def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "ssrstf", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT / "src")}


def _run(args: list[str], cwd: Path) -> float:
    """Run to completion; returns the wall time."""
    start = time.monotonic()
    done = subprocess.run(_command(*args), cwd=cwd, env=_env(), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    return time.monotonic() - start


def _kill_while_writing(
    args: list[str], cwd: Path, out: Path, timeout: float, *, names: set[str], target: int
) -> tuple[bool, str]:
    """Start the command and SIGKILL it while it writes its ``target``-th output file (from 0),
    i.e. as soon as the temporary file of the ``target``-th distinct one of ``names`` appears in
    ``out`` (``.NAME.*.tmp``; the writability probe's temporary file is not an output).

    Returns:
        Whether the kill landed inside that write (the process died of SIGKILL and the temporary
        file is still there), and the moment, for messages.
    """
    proc = subprocess.Popen(
        _command(*args), cwd=cwd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if out.is_dir():
                for name in sorted(n for n in os.listdir(out) if _temporary_of(n, names)):
                    if name not in seen:
                        seen.append(name)
                if len(seen) > target:
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    left = (out / seen[target]).exists()
                    landed = proc.returncode == -signal.SIGKILL and left
                    return landed, (
                        f"killed while writing {seen[target]} (exit status {proc.returncode}, "
                        f"temporary file {'left' if left else 'gone'}; SSRSTF_CRASH_SEED={SEED})"
                    )
            time.sleep(0.0005)
        return False, (
            f"not killed: exit status {proc.poll()}, temporary files seen {seen} "
            f"(SSRSTF_CRASH_SEED={SEED})"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _kill_inside_a_write(
    args: list[str], cwd: Path, timeout: float, *, names: set[str], out_for, check
) -> Path:
    """`_kill_while_writing` into a fresh folder ``out_for(attempt)`` (its ``--out`` argument
    made by the caller: ``args(out)``), ``check(folder, moment)`` after every attempt, until a
    kill lands inside a write (at most 20 attempts). Returns the folder of that attempt."""
    moments = []
    for attempt in range(20):
        out = out_for(attempt)
        landed, moment = _kill_while_writing(
            args(out), cwd, out, timeout, names=names, target=RNG.randrange(len(names))
        )
        moments.append(moment)
        check(out, moment)
        if landed:
            return out
    raise AssertionError(f"no kill landed inside a write: {moments}")


def _temporary_of(name: str, names: set[str]) -> bool:
    """``name`` is the temporary twin ``.NAME.XXXX.tmp`` of one of ``names``."""
    return name.endswith(".tmp") and any(name.startswith(f".{n}.") for n in names)


def _final_files(folder: Path) -> list[Path]:
    """Files at final paths: not the hidden ``.*.tmp`` files and the lock a kill may leave."""
    from ssrstf.files import LOCK_NAME

    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and not p.name.endswith(".tmp") and p.name != LOCK_NAME
    ]


def test_killed_infer_leaves_complete_files_or_none(tmp_path: Path) -> None:
    from ssrstf.keypoints.sample import make_sample

    kp = make_sample().keypoints.keypoints
    np.save(tmp_path / "kp.npy", np.concatenate([kp] * 3))  # 600 frames
    args = ["infer", "kp.npy", "--image-size", "1000x1000", "--skeleton", "h36m", "--quiet"]
    duration = _run([*args, "--out", "reference"], tmp_path)
    expected = {p.name for p in _final_files(tmp_path / "reference")}
    first_three = {"poses_3d.npz", "poses_3d.json", "poses_3d.bvh"}
    assert first_three <= expected

    def check(out: Path, moment: str) -> None:
        for path in _final_files(out) if out.is_dir() else []:
            assert path.name in expected, (path, moment)
            _assert_complete(path, frames=600, moment=moment)

    killed = _kill_inside_a_write(
        lambda out: [*args, "--out", out.name], tmp_path, 3 * duration + 30,
        names=first_three, out_for=lambda attempt: tmp_path / f"out{attempt}", check=check,
    )  # fmt: skip
    # The killed run's lock does not block the next run into the same folder.
    _run([*args, "--out", killed.name, "--overwrite"], tmp_path)
    assert {p.name for p in _final_files(killed)} == expected


def _assert_complete(path: Path, *, frames: int, moment: str) -> None:
    """``path`` is a whole file of its kind (npz, JSON, BVH, GLB, HTML) with ``frames``."""
    from ssrstf.outputs.bvh import read_bvh

    if path.suffix == ".npz":
        with np.load(path) as data:
            assert data["poses_3d"].shape == (frames, 17, 3), moment
    elif path.suffix == ".json":
        assert len(json.loads(path.read_text())["frames"]) == frames, moment
    elif path.suffix == ".bvh":
        assert read_bvh(path).positions_mm.shape[0] == frames, moment
    elif path.suffix == ".glb":  # the header records the file's total length
        data = path.read_bytes()
        assert data[:4] == b"glTF" and int.from_bytes(data[8:12], "little") == len(data), moment
    elif path.suffix == ".html":
        assert path.read_text().rstrip().endswith("</html>"), moment


def test_killed_export_and_prepare_leave_complete_files_or_none(
    synthetic_h36m_raw: Path, tmp_path: Path
) -> None:
    from ssrstf.checkpoint import load_model
    from ssrstf.data.h36m import load_streams

    export = ["export", "--checkpoint", "default"]
    prepare = ["data", "prepare-h36m", "--source", str(synthetic_h36m_raw), "--quiet"]
    for args, name, load in (
        (export, "model.safetensors", load_model),
        (prepare, "prepared.npz", load_streams),
    ):
        duration = _run([*args, "--out", f"reference_{name}"], tmp_path)

        def check(out: Path, moment: str, name: str = name, load=load) -> None:
            if (out / name).exists():
                load(out / name)  # complete and loadable
            leftovers = [p.name for p in _final_files(out)] if out.is_dir() else []
            assert set(leftovers) <= {name}, (leftovers, moment)

        _kill_inside_a_write(
            lambda out, args=args, name=name: [*args, "--out", str(out / name)], tmp_path,
            3 * duration + 30, names={name},
            out_for=lambda attempt, name=name: tmp_path / f"killed-{name}-{attempt}", check=check,
        )  # fmt: skip


def test_killed_training_resumes_from_its_last_checkpoint(
    synthetic_h36m: Path, tmp_path: Path
) -> None:
    from ssrstf.checkpoint import load_checkpoint

    overrides = [
        f"data.path={synthetic_h36m}",
        "data.input_source=gt",
        "data.train_subjects=[S1, S5]",
        "model.num_frames=9",
        "train.batch_size=4",
        "train.num_threads=1",
        "train.max_steps=60",
        "train.epochs=100",
        "train.checkpoint_minutes=0",  # last.pt after every step: the interval is one step
        "eval.every=4",
    ]
    args = ["train", "--config", str(ROOT / "configs" / "tiny_debug.yaml")]
    args += [x for o in overrides for x in ("--set", o)]
    run = tmp_path / "killed"
    # Kill once training has started (its first checkpoint exists), at a random later moment.
    proc = subprocess.Popen(
        _command(*args, "--out", "killed"), cwd=tmp_path, env=_env(),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not (run / "last.pt").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    delay = RNG.uniform(0.0, 1.5)
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    moment = f"killed {delay:.2f} s after the first checkpoint (SSRSTF_CRASH_SEED={SEED})"
    saved = load_checkpoint(run / "last.pt")["progress"]["global_step"]  # complete, loadable
    resumed = subprocess.run(
        _command("train", "--resume", "killed"), cwd=tmp_path, env=_env(), capture_output=True,
        text=True,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    # It continues from the last checkpoint: at most the interval (one step here) is redone.
    assert f"resuming killed from step {saved}" in resumed.stdout, (resumed.stdout, moment)
    done = load_checkpoint(run / "last.pt")
    assert done["progress"]["global_step"] == done["config"]["train"]["max_steps"] == 60, moment
    steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps)) and steps[-1] == 60, (steps, saved, moment)
    # Exact equality with an uninterrupted run is tested in-process (tests/test_training.py);
    # across processes it held in most but not all trials (docs/design.md), so not asserted.
