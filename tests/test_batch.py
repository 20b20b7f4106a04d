"""Many inputs in one ``ssrstf infer``: expansion, names, shards, worker processes,
failures, resuming after SIGKILL, and a detector that keeps its log lines off the terminal.

Keypoint files are short arrays of the built-in sample; the video tests use a 16-frame cut of a
real clip of ``../shared/data/tfjs_pose_videos`` (skipped when absent or without the ``video``
extra).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ssrstf.cli import main
from ssrstf.files import LOCK_NAME
from ssrstf.keypoints.sample import make_sample
from ssrstf.pipeline.batch import (
    DONE_MARKER,
    STARTED_MARKER,
    expand_inputs,
    is_batch_file,
    names_several_inputs,
    output_names,
    parse_shard,
    select_shard,
)

ROOT = Path(__file__).resolve().parents[1]
REAL_VIDEO = ROOT.parent / "shared/data/tfjs_pose_videos/pose_1.mp4"
KEYPOINT_ARGS = ["--skeleton", "h36m", "--image-size", "1000x1000"]
OUTPUT_FILES = {"poses_3d.npz", "poses_3d.json", "poses_3d.bvh", "poses_3d.glb", "viewer.html"}
DETECTOR_NOISE = ("XNNPACK", "W0000", ".cc:", "absl::", "TensorFlow Lite")


def _keypoint_file(path: Path, frames: int = 30) -> Path:
    """An (F, 17, 3) H36M-17 pixel array of the sample (1000 x 1000 image)."""
    keypoints = make_sample(seconds=frames / 50).keypoints.keypoints
    np.save(path, keypoints[:frames])
    return path


def _openpose_folder(folder: Path, frames: int = 3) -> Path:
    folder.mkdir(parents=True)
    for index in range(frames):
        person = {"pose_keypoints_2d": [100.0, 200.0, 0.9] * 25}
        (folder / f"clip_{index:012d}_keypoints.json").write_text(json.dumps({"people": [person]}))
    return folder


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 16 frames of a real clip (re-encoded with imageio-ffmpeg's ffmpeg)."""
    pytest.importorskip("mediapipe", reason="the detector needs the video extra")
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg", reason="needs the video extra")
    if not REAL_VIDEO.exists():
        pytest.skip(f"real video not available: {REAL_VIDEO}")
    path = tmp_path_factory.mktemp("clip") / "dancer.mp4"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(REAL_VIDEO),
         "-frames:v", "16", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)],
        check=True,
    )  # fmt: skip
    return path


def _summary(out: Path) -> dict[str, dict]:
    data = json.loads((out / "batch.json").read_text())
    assert (out / "batch.csv").read_text().count("\n") == len(data["records"]) + 1
    return {Path(r["input"]).name: r for r in data["records"]}


# ---------------------------------------------------------------------------- inputs and names


def test_folders_and_globs_expand_to_sorted_inputs(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    for name in ("b.npy", "a.json", "c.mp4", "notes.txt", ".hidden.npy"):
        (clips / name).write_bytes(b"x")
    _openpose_folder(clips / "openpose")
    (clips / "empty").mkdir()
    (clips / "deep").mkdir()
    (clips / "deep" / "d.npz").write_bytes(b"x")
    out = clips / "out"  # an output folder among the inputs is not an input
    out.mkdir()
    (out / "batch.json").write_text("{}")
    expected = [clips / n for n in ("a.json", "b.npy", "c.mp4", "openpose")]
    assert expand_inputs([clips], exclude=out) == expected
    globbed = expand_inputs([str(clips / "*")], exclude=out)
    assert globbed == sorted([*expected, clips / "deep" / "d.npz"], key=str)
    recursive = expand_inputs([str(tmp_path / "**" / "*.np[yz]")], exclude=out)
    assert recursive == [clips / "b.npy", clips / "deep" / "d.npz"]
    # The output folder may be the inputs' own folder: its inputs stay, a batch's outputs
    # there (summaries, folders holding a done or started marker) never become inputs.
    done, started = clips / "b", clips / "c"
    for folder, marker in ((done, ".ssrstf-done.json"), (started, ".ssrstf-started.json")):
        folder.mkdir()
        (folder / marker).write_text("{}")
        (folder / "poses_3d.npz").write_bytes(b"x")
    (clips / "batch.json").write_text("{}")
    same = expand_inputs([str(clips / "**" / "*.np[yz]"), str(clips / "*.json")], exclude=clips)
    assert same == [clips / "a.json", clips / "b.npy", clips / "deep" / "d.npz"]
    for folder in (done, started):
        for entry in folder.iterdir():
            entry.unlink()
        folder.rmdir()
    (clips / "batch.json").unlink()
    # A glob that reaches an OpenPose folder's frame files names the folder, once.
    frames = expand_inputs([str(tmp_path / "**" / "*.json")], exclude=out)
    assert frames == [clips / "a.json", clips / "openpose"]
    assert expand_inputs([str(clips / "openpose" / "**")]) == [clips / "openpose"]
    # Duplicates collapse; an explicit missing file stays (it fails as an input).
    assert expand_inputs([clips / "b.npy", str(clips / "b.*"), tmp_path / "gone.npy"]) == [
        clips / "b.npy",
        tmp_path / "gone.npy",
    ]
    with pytest.raises(FileNotFoundError, match="matches"):
        expand_inputs([str(tmp_path / "*.avi")])
    # What makes a batch on the command line: a glob or a folder of inputs; an OpenPose folder,
    # a file and a folder with no input are single inputs (today's behaviour).
    assert names_several_inputs(clips) and names_several_inputs(str(clips / "*.npy"))
    assert not names_several_inputs(clips / "openpose")
    assert not names_several_inputs(clips / "b.npy") and not names_several_inputs(clips / "empty")


def test_output_names_are_the_stems_made_unique() -> None:
    paths = [
        Path(p) for p in ("x/walk.mp4", "x/walk.json", "y/run.mp4", "z/run.mp4", "batch.json.npy")
    ]
    names = output_names(paths)
    assert names[:2] == ["walk_mp4", "walk_json"]
    assert names[2:4] == ["y__run_mp4", "z__run_mp4"]
    assert names[4] == "batch.json_npy"  # never a summary file's name
    assert len({n.casefold() for n in names}) == len(names)
    assert output_names([Path("a/Walk.mp4"), Path("b/walk.mp4")]) == ["a__Walk_mp4", "b__walk_mp4"]
    assert output_names(paths) == names  # deterministic


def test_shards_partition_the_inputs_deterministically() -> None:
    items = [f"clip_{i:03d}" for i in range(23)]
    for n in (1, 2, 3, 7, 30):
        shares = [select_shard(items, (k, n)) for k in range(1, n + 1)]
        assert sorted(x for share in shares for x in share) == items  # union = all, disjoint
        assert sum(map(len, shares)) == len(items)
        assert max(map(len, shares)) - min(map(len, shares)) <= 1  # balanced
        assert shares == [select_shard(list(items), (k, n)) for k in range(1, n + 1)]
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "4", "a/b", "1/0"):
        with pytest.raises(ValueError, match="K/N"):
            parse_shard(bad)


def test_bad_shard_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["infer", "a.npy", "--shard", "0/3"])
    assert exit_info.value.code == 2 and "1 <= K <= N" in capsys.readouterr().err


# ---------------------------------------------------------------------------- one input


def test_single_input_keeps_the_old_layout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    keypoints = _keypoint_file(tmp_path / "walk.npy")
    out = tmp_path / "out"
    assert main(["infer", str(keypoints), "--out", str(out), "--quiet", *KEYPOINT_ARGS]) == 0
    assert {p.name for p in out.iterdir()} == OUTPUT_FILES  # no subfolder, summary or marker
    assert "30 frames, 1000x1000 px" in capsys.readouterr().out


# ---------------------------------------------------------------------------- batches


@pytest.mark.dataset
def test_batch_reports_a_broken_input_does_the_rest_and_keeps_the_detector_quiet(
    tmp_path: Path, short_clip: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    _keypoint_file(inputs / "walk.npy")
    _keypoint_file(inputs / "walk_short.npy", frames=12)
    (inputs / "broken.json").write_text("{not json")
    (inputs / "dancer.mp4").write_bytes(short_clip.read_bytes())
    out = tmp_path / "out"
    argv = ["infer", str(inputs), "--out", str(out), "--workers", "2", *KEYPOINT_ARGS]
    assert main(argv) == 1  # non-zero: one input failed
    printed = capfd.readouterr()
    assert "3 done" in printed.out and "1 failed" in printed.out
    assert "failed: " in printed.err and "broken.json" in printed.err
    assert not [noise for noise in DETECTOR_NOISE if noise in printed.err], printed.err
    records = _summary(out)
    assert set(records) == {"broken.json", "dancer.mp4", "walk.npy", "walk_short.npy"}
    assert records["broken.json"]["status"] == "failed"
    assert "invalid JSON" in records["broken.json"]["error"]
    assert not (out / "broken").exists()  # a failed read leaves no folder
    video = records["dancer.mp4"]
    assert video["status"] == "done" and video["frames"] == 16
    assert 0 < video["detection_share"] <= 1 and video["seconds"] > 0
    assert records["walk.npy"]["frames"] == 30 and records["walk.npy"]["detection_share"] is None
    for name in ("walk", "walk_short", "dancer"):
        assert {p.name for p in (out / name).iterdir()} == OUTPUT_FILES | {DONE_MARKER}
    with np.load(out / "dancer" / "poses_3d.npz") as data:
        assert data["poses_3d"].shape == (16, 17, 3) and data["valid"].all()


@pytest.mark.dataset
def test_the_detector_log_stays_off_stderr_unless_verbose(
    short_clip: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    from ssrstf.keypoints.video import detect_keypoints

    kp = detect_keypoints(short_clip, progress=True)
    err = capfd.readouterr().err
    assert kp.num_frames == 16 and kp.valid.all()
    assert "2D detection" in err  # the progress bar is still shown
    assert not [noise for noise in DETECTOR_NOISE if noise in err], err
    detect_keypoints(short_clip, progress=False, quiet=False)  # --verbose
    assert ".cc:" in capfd.readouterr().err  # the lines this test looks for are real


def test_native_stderr_is_captured_and_kept_for_errors(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from ssrstf.keypoints.native_logs import captured_native_stderr
    from ssrstf.pipeline import run as pipeline

    with captured_native_stderr() as log:
        os.write(2, b"W0000 calculator.cc:1] noise\n")  # what C++ code does
        print("python text", file=sys.stderr)  # progress bars and warnings still show
        with captured_native_stderr() as inner:  # nests
            os.write(2, b"inner noise\n")
    err = capfd.readouterr().err
    assert "noise" in log.text and "inner noise" in inner.text and "python text" in err
    assert "noise" not in err
    with pytest.raises(ValueError) as failure, captured_native_stderr():
        os.write(2, b"E0000 graph.cc:2] the reason\n")
        raise ValueError("the detector failed")
    assert "the reason" in failure.value.native_log  # type: ignore[attr-defined]
    assert "the reason" not in capfd.readouterr().err

    def failing(*args, **kwargs):  # the CLI shows a failing detector's log with the error
        raise failure.value

    monkeypatch.setattr(pipeline, "load_keypoints", failing)
    assert main(["infer", str(tmp_path / "walk.mp4"), "--out", str(tmp_path / "o")]) == 2
    err = capfd.readouterr().err
    assert "the 2D detector's log:" in err and "the reason" in err
    assert err.rstrip().endswith("error: the detector failed")


def test_a_killed_batch_resumes_skipping_finished_inputs(tmp_path: Path) -> None:
    names = [f"clip{i}" for i in range(5)]
    for name in names:
        _keypoint_file(tmp_path / f"{name}.npy", frames=150)
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "ssrstf", "infer", "clip*.npy", "--workers", "1", "--out",
            "out", "--quiet", *KEYPOINT_ARGS]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        argv, cwd=tmp_path, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (out / "clip0" / DONE_MARKER).exists():
            assert proc.poll() is None and time.monotonic() < deadline, "no input finished"
            time.sleep(0.02)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the CLI and its worker, like a pre-empted job
        proc.wait()
    finished = {n for n in names if (out / n / DONE_MARKER).exists()}
    assert "clip0" in finished and len(finished) < len(names)
    # An input killed while writing: marked started, a file cut short, no done marker.
    interrupted = (out / "clip4").exists() and not (out / "clip4" / DONE_MARKER).exists()
    (out / "clip4").mkdir(exist_ok=True)
    (out / "clip4" / STARTED_MARKER).write_text("{}")
    (out / "clip4" / "poses_3d.npz").write_bytes(b"PK\x03\x04 cut short")
    before = {n: (out / n / "poses_3d.npz").stat().st_mtime_ns for n in finished}
    rerun = ["infer", str(tmp_path / "clip*.npy"), "--workers", "1", "--out", str(out), "--quiet"]
    assert main([*rerun, *KEYPOINT_ARGS]) == 0
    records = _summary(out)
    for name in names:
        status = records[f"{name}.npy"]["status"]
        assert status == ("skipped" if name in finished else "done"), (name, interrupted)
        # The done marker is written holding the folder's lock: a kill right after it leaves
        # the lock's file (its flock died with the process; it blocks nobody).
        stale = {LOCK_NAME} if name in finished else set()
        assert {p.name for p in (out / name).iterdir()} - stale == OUTPUT_FILES | {DONE_MARKER}
        with np.load(out / name / "poses_3d.npz") as data:
            assert data["poses_3d"].shape == (150, 17, 3)
    assert before == {n: (out / n / "poses_3d.npz").stat().st_mtime_ns for n in finished}


def test_a_worker_that_dies_loses_only_its_input(tmp_path: Path) -> None:
    import threading

    from ssrstf.pipeline.batch import InferOptions, run_batch

    for name in ("clip0", "clip1", "clip2"):
        _keypoint_file(tmp_path / f"{name}.npy", frames=150)
    out = tmp_path / "out"
    options = InferOptions(skeleton="h36m", image_size=(1000, 1000))
    results = []
    thread = threading.Thread(
        target=lambda: results.append(
            run_batch([tmp_path / "clip*.npy"], out, options, workers=1, progress=False)
        )
    )
    thread.start()
    started = out / "clip1" / STARTED_MARKER  # the worker is writing clip1's files
    deadline = time.monotonic() + 120
    while not started.exists():
        assert thread.is_alive() and time.monotonic() < deadline, "clip1 never started"
        time.sleep(0.002)
    os.kill(json.loads(started.read_text())["pid"], signal.SIGKILL)  # e.g. a crash in C++
    thread.join(timeout=120)
    (result,) = results
    records = {Path(r.input).stem: r for r in result.records}
    assert {k: r.status for k, r in records.items()} == {
        "clip0": "done",
        "clip1": "failed",
        "clip2": "done",
    }
    assert "killed by SIGKILL" in (records["clip1"].error or "")
    assert not (out / "clip1" / DONE_MARKER).exists()  # redone by the next run


def test_shards_share_one_summary_and_reruns_respect_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("a", "b", "c"):
        _keypoint_file(tmp_path / f"{name}.npy", frames=12)
    out = tmp_path / "out"
    pattern = str(tmp_path / "*.npy")
    argv = ["infer", pattern, "--workers", "1", "--out", str(out), "--quiet", *KEYPOINT_ARGS]
    assert main([*argv, "--shard", "2/2"]) == 0
    records = _summary(out)
    assert [records[n]["status"] for n in ("a.npy", "b.npy", "c.npy")] == [
        "pending",
        "done",
        "pending",
    ]
    assert json.loads((out / "batch.shard-2-of-2.json").read_text())["inputs"] == 1
    assert main([*argv, "--shard", "1/2"]) == 0
    records = _summary(out)
    assert {n: r["status"] for n, r in records.items()} == {
        "a.npy": "done",
        "b.npy": "done",
        "c.npy": "done",
    }
    # Finished with other options: reported, not silently kept; --overwrite redoes it.
    capsys.readouterr()
    assert main([*argv, "--no-flip"]) == 1
    assert "other options" in capsys.readouterr().err
    assert main([*argv, "--no-flip", "--overwrite"]) == 0
    assert {r["status"] for r in _summary(out).values()} == {"done"}


def test_names_of_dot_inputs_and_a_folder_rewritten_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``.`` and ``..`` are named after the folders they stand for (never an empty name or a
    way out of --out); frames rewritten in place inside an OpenPose folder (its own mtime
    unchanged) make it a changed input, so a finished folder is redone."""
    from ssrstf.pipeline.batch_inputs import output_names
    from ssrstf.pipeline.batch_records import input_signature, mark_started

    inner = tmp_path / "takes" / "run1"
    inner.mkdir(parents=True)
    monkeypatch.chdir(inner)
    assert output_names([Path("."), Path("..")]) == ["run1", "takes"]
    frame = inner / "a_000000000000_keypoints.json"
    frame.write_text('{"people": []}')
    folder_time = inner.stat().st_mtime_ns
    before = input_signature(inner)
    frame.write_text('{"people": [], "version": 1.3}')  # rewritten in place
    os.utime(frame, ns=(folder_time + 10**9, folder_time + 10**9))
    os.utime(inner, ns=(folder_time, folder_time))  # the folder itself looks untouched
    assert input_signature(inner) != before
    assert input_signature(tmp_path / "gone") is None
    # A redo marks the folder as started before it forgets that it was done.
    out = tmp_path / "out"
    out.mkdir()
    (out / ".ssrstf-done.json").write_text("{}")
    mark_started(out)
    assert sorted(p.name for p in out.iterdir()) == [".ssrstf-started.json"]


def test_workers_start_with_their_thread_limit_in_the_environment() -> None:
    """``--threads`` reaches a spawned worker before its interpreter imports numpy or torch (their
    pools are sized when they load), and the parent's own environment is left as it was."""
    import multiprocessing

    from ssrstf.pipeline.batch_workers import THREAD_VARIABLES, _thread_environment

    before = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    with _thread_environment(3), multiprocessing.get_context("spawn").Pool(1) as pool:
        seen = [pool.apply(os.getenv, (name,)) for name in THREAD_VARIABLES]
    assert seen == ["3"] * len(THREAD_VARIABLES)
    assert {name: os.environ.get(name) for name in THREAD_VARIABLES} == before


# ---------------------------------------------------------------------------- what counts as done

FAST = {"skeleton": "h36m", "image_size": (1000, 1000), "flip": False}


def _in_process(monkeypatch: pytest.MonkeyPatch, *, stop_after: int | None = None) -> list[str]:
    """Run a batch's jobs in this process (no worker start-up); with ``stop_after``, Ctrl-C
    after that many inputs, as a user would. The inputs run, in order."""
    from ssrstf.pipeline import batch
    from ssrstf.pipeline.batch_workers import run_job

    ran: list[str] = []

    def run_jobs(jobs, workers, *, options, quiet, on_record) -> None:
        for job in jobs:
            if stop_after is not None and len(ran) == stop_after:
                raise KeyboardInterrupt
            ran.append(Path(job.source).stem)
            on_record(run_job(job))

    monkeypatch.setattr(batch, "run_jobs", run_jobs)
    return ran


def test_a_batch_never_takes_its_own_files_for_inputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``--out`` the inputs' own folder, a glob of keypoint files matches what the batch
    wrote there (summaries, shard summaries, overwrite markers): none of it becomes an input."""
    own = ["batch.csv", "batch.json", "batch.shard-2-of-2.json", ".ssrstf-overwrite.json",
           ".ssrstf-overwrite.shard-1-of-3.json"]  # fmt: skip
    others = ["walk.shard-1-of-2.json", "batch.shard-1-of-2.npy", "batch.shard-x-of-2.json"]
    assert all(map(is_batch_file, own)) and not any(map(is_batch_file, others))
    for name in [*own, *others, "a.json"]:
        (tmp_path / name).write_text("{}")
    globbed = expand_inputs([str(tmp_path / "*.json"), str(tmp_path / ".*.json")], exclude=tmp_path)
    expected = ["a.json", "batch.shard-x-of-2.json", "walk.shard-1-of-2.json"]
    assert globbed == [tmp_path / name for name in expected]
    assert output_names([Path("batch.shard-1-of-2.json.npy")]) == ["batch.shard-1-of-2.json_npy"]
    for name in [*own, *others, "a.json"]:
        (tmp_path / name).unlink()
    # Two shards, then the first again: the second's summary is no input of the rerun.
    for name in ("a", "b"):
        _keypoint_file(tmp_path / f"{name}.npy", frames=12)
    argv = ["infer", str(tmp_path / "*"), "--out", str(tmp_path), "--quiet", "--no-flip",
            *KEYPOINT_ARGS]  # fmt: skip
    ran = _in_process(monkeypatch)
    assert main([*argv, "--shard", "2/2"]) == 0 and main([*argv, "--shard", "1/2"]) == 0
    assert main([*argv, "--shard", "1/2"]) == 0
    assert ran == ["b", "a"]
    assert {n: r["status"] for n, r in _summary(tmp_path).items()} == {
        "a.npy": "skipped",
        "b.npy": "done",
    }


def test_the_model_file_s_content_decides_what_is_done_not_device_or_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A checkpoint retrained in place is another model: its inputs are not skipped. The
    device and the backend (the same poses up to float rounding) are not other options."""
    from ssrstf.checkpoint import DEFAULT_CHECKPOINT
    from ssrstf.files import file_sha256
    from ssrstf.pipeline.batch import InferOptions

    default = InferOptions().fingerprint()
    assert default["checkpoint_sha256"] == file_sha256(DEFAULT_CHECKPOINT)
    assert InferOptions(device="cuda", backend="torch").fingerprint() == default
    model = tmp_path / "best.safetensors"
    model.write_bytes(DEFAULT_CHECKPOINT.read_bytes())
    _keypoint_file(tmp_path / "a.npy", frames=12)
    out = tmp_path / "out"
    _in_process(monkeypatch)
    argv = ["infer", str(tmp_path / "*.npy"), "--out", str(out), "--quiet", "--no-flip",
            "--checkpoint", str(model), *KEYPOINT_ARGS]  # fmt: skip
    assert main(argv) == 0
    marker = json.loads((out / "a" / DONE_MARKER).read_text())
    assert marker["options"]["checkpoint_sha256"] == file_sha256(model)
    assert main([*argv, "--device", "cuda", "--backend", "torch"]) == 0  # nothing to load
    assert _summary(out)["a.npy"]["status"] == "skipped"
    before = (out / "a" / "poses_3d.npz").stat().st_mtime_ns
    stat = model.stat()
    with model.open("r+b") as handle:  # retrained in place: same name, size and times
        handle.seek(stat.st_size - 1)
        handle.write(b"\x00" if handle.read(1) != b"\x00" else b"\x01")
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    capsys.readouterr()
    assert main(argv) == 1
    assert "another version of the model" in capsys.readouterr().err
    assert _summary(out)["a.npy"]["status"] == "failed"
    assert (out / "a" / "poses_3d.npz").stat().st_mtime_ns == before  # reported, not redone
    # A marker of an older ssrstf (device and backend recorded, not the model's content):
    # which model made it is unknown, so it is not taken as done.
    model.write_bytes(DEFAULT_CHECKPOINT.read_bytes())
    old = {k: v for k, v in marker["options"].items() if k != "checkpoint_sha256"}
    marker["options"] = {**old, "device": "cpu", "backend": None}
    (out / "a" / DONE_MARKER).write_text(json.dumps(marker))
    assert main(argv) == 1
    assert "older ssrstf" in capsys.readouterr().err


def test_the_summary_says_done_only_for_inputs_done_with_these_options(tmp_path: Path) -> None:
    """Another shard's input (or one this run did not report) counts as done only when its
    marker matches the options and the input; a shard's summary from a run with other
    options says nothing of this one."""
    from ssrstf.pipeline.batch import BatchInput, InferOptions, InputRecord, write_summary
    from ssrstf.pipeline.batch_records import input_signature, mark_done, unreported_record

    out = tmp_path / "out"
    items = [BatchInput(_keypoint_file(tmp_path / f"{n}.npy", frames=12), n) for n in "ab"]
    flip, no_flip = InferOptions(**{**FAST, "flip": True}), InferOptions(**FAST)
    for item in items:
        (out / item.name).mkdir(parents=True)
        record = InputRecord(str(item.path), str(out / item.name), "done", frames=12)
        mark_done(out / item.name, record, input_signature(item.path), flip)
    assert unreported_record(items[0], out, flip).status == "done"
    other = unreported_record(items[0], out, no_flip)
    assert other.status == "pending" and "other options (flip)" in (other.error or "")
    os.utime(items[1].path, ns=(1, 1))  # the input changed since
    assert unreported_record(items[1], out, flip).status == "pending"
    # Shard 1 last ran without flip and failed on b; shard 2 runs with flip: b is to do.
    failed = InputRecord(str(items[1].path), str(out / "b"), "failed", error="boom")
    write_summary(out, items, [failed], no_flip, shard=(1, 2))
    write_summary(out, items, [], flip, shard=(2, 2))
    assert [r["status"] for r in _summary(out).values()] == ["done", "pending"]
    write_summary(out, items, [], no_flip, shard=(2, 2))  # the same options: its failure
    assert [r["status"] for r in _summary(out).values()] == ["pending", "failed"]


def test_an_interrupted_overwrite_batch_resumes_with_the_same_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--overwrite`` redoes every input once: run again after Ctrl-C, it skips the inputs
    it redid (not those of earlier runs); once it ends, the next one redoes everything."""
    for name in ("a", "b", "c"):
        _keypoint_file(tmp_path / f"{name}.npy", frames=12)
    out = tmp_path / "out"
    argv = ["infer", str(tmp_path / "*.npy"), "--out", str(out), "--quiet", "--no-flip",
            *KEYPOINT_ARGS]  # fmt: skip
    _in_process(monkeypatch)
    assert main(argv) == 0  # an earlier run: every input done
    ran = _in_process(monkeypatch, stop_after=1)
    assert main([*argv, "--overwrite"]) == 130
    assert "run the same command again to resume" in capsys.readouterr().err
    assert ran == ["a"]
    statuses = {n: r["status"] for n, r in _summary(out).items()}
    assert statuses == {"a.npy": "done", "b.npy": "pending", "c.npy": "pending"}
    ran = _in_process(monkeypatch)
    assert main([*argv, "--overwrite"]) == 0
    assert ran == ["b", "c"]  # a was redone by the interrupted run
    statuses = {n: r["status"] for n, r in _summary(out).items()}
    assert statuses == {"a.npy": "skipped", "b.npy": "done", "c.npy": "done"}
    ran = _in_process(monkeypatch)
    assert main([*argv, "--overwrite"]) == 0  # the last one ended: a new one redoes all
    assert ran == ["a", "b", "c"]
    ran = _in_process(monkeypatch)
    assert main([*argv, "--overwrite", "--fov", "50"]) == 0
    assert ran == ["a", "b", "c"]  # other options: never a resume


def test_the_done_marker_is_written_before_the_folder_is_unlocked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A second batch into the same folder may take the lock as soon as this one lets it go:
    both markers must be written while this one holds it (else this one's done marker would
    remove that one's started marker)."""
    import contextlib

    from ssrstf.pipeline import batch_workers
    from ssrstf.pipeline import run as pipeline
    from ssrstf.pipeline.batch import InferOptions

    events: list[str] = []
    real_lock = pipeline.output_lock

    @contextlib.contextmanager
    def lock(folder):
        with real_lock(folder) as path:
            events.append("lock")
            yield path
            events.append("unlock")

    def noted(name: str):
        real = getattr(batch_workers, name)

        def marker(*args, **kwargs) -> None:
            events.append(name)
            real(*args, **kwargs)

        return marker

    for name in ("mark_started", "mark_done"):
        monkeypatch.setattr(batch_workers, name, noted(name))
    monkeypatch.setattr(pipeline, "output_lock", lock)
    source = _keypoint_file(tmp_path / "a.npy", frames=12)
    job = batch_workers.Job(str(source), str(tmp_path / "a"), InferOptions(**FAST), False, True)
    record = batch_workers.run_job(job)
    assert record.status == "done", record.error
    assert events == ["lock", "mark_started", "mark_done", "unlock"]
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted(
        OUTPUT_FILES | {DONE_MARKER}
    )
