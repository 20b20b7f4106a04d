"""The worker processes of a batch and what each does with one input.

`run_jobs` hands the inputs to worker processes (``spawn`` start method: MediaPipe and torch
are not fork-safe), one torch thread each by default, as many as asked for (`available_cpus`
by default). Each worker loads the model once and runs its inputs one at a time (`run_job`):
`ssrstf.pipeline.run.Pipeline.infer` between the completion markers of
`ssrstf.pipeline.batch_records`. A failing input becomes a ``failed`` record and the rest go
on; a worker that dies (a crash in native code) loses only its current input, and a new worker
takes its place.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import wait
from pathlib import Path

from ssrstf.extras import MissingExtraError
from ssrstf.files import OutputLockedError
from ssrstf.keypoints.native_logs import captured_native_stderr, quiet_native_environment
from ssrstf.keypoints.video import is_video
from ssrstf.lifting.lifter import Lifter
from ssrstf.pipeline.batch_records import (
    InputRecord,
    input_signature,
    is_ours,
    mark_done,
    mark_started,
)
from ssrstf.pipeline.options import InferOptions
from ssrstf.pipeline.run import Pipeline, PipelineRun


def available_cpus() -> int:
    """CPUs this process may use: its affinity mask, capped by a cgroup v2 CPU quota."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    with contextlib.suppress(OSError, ValueError):
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            count = min(count, max(1, math.ceil(int(quota) / int(period))))
    return max(1, count)


@dataclass(frozen=True)
class Job:
    """One input for a worker: its source, output folder and how to process it
    (``overwrite_run``: the ``overwrite`` batch's run, noted in the done marker)."""

    source: str
    out_dir: str
    options: InferOptions
    overwrite: bool
    quiet: bool
    overwrite_run: str | None = None


_LIFTERS: dict[tuple, tuple[Lifter, dict]] = {}


def _key(options: InferOptions) -> tuple:
    return (options.checkpoint, options.device, options.flip, options.overlap, options.backend)


def _lifter(options: InferOptions) -> Lifter:
    """A `Lifter` for ``options``, loaded once per process (a worker serves many inputs), with
    the options' fingerprint taken as it loads (`_fingerprint`)."""
    key = _key(options)
    if key not in _LIFTERS:
        fingerprint = options.fingerprint()  # the model file's content, before it is read
        lifter = Lifter(
            options.checkpoint, device=options.device, flip=options.flip,
            overlap=options.overlap, num_threads=options.threads, backend=options.backend,
        )  # fmt: skip
        _LIFTERS[key] = lifter, fingerprint
    return _LIFTERS[key][0]


def _fingerprint(options: InferOptions) -> dict:
    """The fingerprint of ``options`` as their `Lifter` was loaded: a model file rewritten
    since (a training run's ``best.pt``) is not the one that made this process's outputs."""
    loaded = _LIFTERS.get(_key(options))
    return options.fingerprint() if loaded is None else loaded[1]


def describe_error(exc: BaseException) -> str:
    """One line for a failed input: the message of user errors, else with the type's name."""
    if isinstance(exc, OSError) and exc.strerror and str(exc).startswith("[Errno"):
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    else:
        text = str(exc) or type(exc).__name__
    if not isinstance(exc, ValueError | OSError | MissingExtraError | OutputLockedError):
        text = f"{type(exc).__name__}: {text}"
    return " ".join(text.split())


def run_job(job: Job) -> InputRecord:
    """Process one input between its markers; every failure becomes a ``failed`` record.

    Both markers are written holding the output folder's lock (`Pipeline.infer`'s
    ``before_writing`` and ``after_writing``): a second batch into the same folder gets the
    lock only after this one's done marker, which so never removes that one's started marker.
    """
    out_dir = Path(job.out_dir)
    start = time.perf_counter()
    signature = input_signature(Path(job.source))  # before reading: what the outputs come from
    records: list[InputRecord] = []

    def finish(run: PipelineRun) -> None:  # the last files are written, the lock still held
        record = InputRecord(
            job.source, job.out_dir, "done", frames=run.frames,
            seconds=time.perf_counter() - start, detect_seconds=run.detect_seconds,
        )  # fmt: skip
        fingerprint = _fingerprint(job.options)
        mark_done(out_dir, record, signature, job.options, fingerprint=fingerprint,
                  overwrite_run=job.overwrite_run)  # fmt: skip
        records.append(record)

    try:
        # Everything the input's processing writes to stderr is captured (not only the
        # detector's lines): a worker must not write into the parent's progress bar.
        with captured_native_stderr(enabled=job.quiet, keep_python_stderr=False):
            redo = job.overwrite or is_ours(out_dir)  # a folder of ours, half written: redo it
            pipeline = Pipeline(job.options, lifter=lambda: _lifter(job.options), quiet=job.quiet)
            pipeline.infer(
                job.source, out_dir, overwrite=redo, before_writing=lambda: mark_started(out_dir),
                after_writing=finish,
            )  # fmt: skip
    except Exception as exc:
        return InputRecord(
            job.source, job.out_dir, "failed", seconds=time.perf_counter() - start,
            error=describe_error(exc), log=getattr(exc, "native_log", None),
        )  # fmt: skip
    return records[0]


# ------------------------------------------------------------------------------ workers


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""The thread-pool sizes a worker's libraries read when they load."""


def _limit_threads(threads: int) -> None:
    """One thread pool of ``threads`` per worker, for what loads after this call."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)


@contextlib.contextmanager
def _thread_environment(threads: int):
    """`THREAD_VARIABLES` set to ``threads`` while workers start: a spawned worker inherits
    them before its interpreter imports numpy or torch (their pools are sized at load)."""
    saved = {name: os.environ.get(name) for name in THREAD_VARIABLES}
    _limit_threads(threads)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _worker_main(conn, options: InferOptions, quiet: bool, videos: bool) -> None:
    """A worker process: run the jobs the parent sends until it sends None or goes away."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the parent stops the workers
    _limit_threads(options.threads)
    if quiet:
        quiet_native_environment()
    import torch

    torch.set_num_threads(options.threads)
    with contextlib.suppress(RuntimeError):  # only settable before the first parallel work
        torch.set_num_interop_threads(1)
    # Load the model (and the detector's library) before the first job, so that the seconds of
    # each input are its own; a failure here shows again, as that input's error.
    with contextlib.suppress(Exception), captured_native_stderr(enabled=quiet):
        _lifter(options)
        if videos:
            import mediapipe  # noqa: F401
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if job is None:
            return
        record = run_job(job)
        try:
            conn.send(record.to_dict())
        except OSError:
            return


class _Worker:
    """A worker process and the job it holds."""

    def __init__(self, ctx, options: InferOptions, quiet: bool, videos: bool) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_worker_main, args=(child, options, quiet, videos), daemon=True,
            name="ssrstf-batch",
        )  # fmt: skip
        self.process.start()
        child.close()
        self.job: Job | None = None

    def give(self, job: Job) -> bool:
        self.job = job
        try:
            self.conn.send(job)
        except OSError:
            return False
        return True

    def stop(self, *, force: bool = False) -> None:
        if not force:
            with contextlib.suppress(OSError):
                self.conn.send(None)
            self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _died(job: Job, exitcode: int | None) -> InputRecord:
    how = f"ended with exit code {exitcode}"
    if exitcode is not None and exitcode < 0:
        with contextlib.suppress(ValueError):
            how = f"was killed by {signal.Signals(-exitcode).name}"
    error = f"the worker process {how} while processing this input (a crash in native code?)"
    return InputRecord(job.source, job.out_dir, "failed", error=error)


def run_jobs(
    jobs: Sequence[Job], workers: int, *, options: InferOptions, quiet: bool,
    on_record: Callable[[InputRecord], None],
) -> None:  # fmt: skip
    """Run ``jobs`` on ``workers`` processes; ``on_record`` gets each result as it comes."""
    ctx = multiprocessing.get_context("spawn")
    videos = options.fmt == "video" or any(is_video(job.source) for job in jobs)

    def start() -> _Worker:
        with _thread_environment(options.threads):
            return _Worker(ctx, options, quiet, videos)

    queue = deque(jobs)
    pool: list[_Worker] = []
    restarts = 0
    try:
        pool = [start() for _ in range(workers)]
        while queue or any(w.job is not None for w in pool):
            for index, worker in enumerate(pool):
                if worker.job is not None or not queue:
                    continue
                job = queue.popleft()
                if worker.give(job):
                    continue
                # Died while idle (killed from outside): the job goes back, a new worker comes.
                queue.appendleft(job)
                restarts += 1
                if restarts > len(jobs) + workers:
                    raise RuntimeError("the batch's worker processes keep dying at start")
                worker.job = None
                worker.stop(force=True)
                pool[index] = start()
            busy = [w for w in pool if w.job is not None]
            if not busy:
                continue
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for index, worker in enumerate(pool):
                if worker.job is None:
                    continue
                record = None
                if worker.conn in ready:
                    with contextlib.suppress(EOFError, OSError):
                        record = InputRecord.from_dict(worker.conn.recv())
                elif worker.process.sentinel not in ready:
                    continue
                if record is None:  # the worker died: its input fails, a new worker goes on
                    worker.process.join(timeout=5)
                    record = _died(worker.job, worker.process.exitcode)
                    worker.stop(force=True)
                    pool[index] = start()
                else:
                    worker.job = None
                on_record(record)
    finally:
        force = bool(queue) or any(w.job is not None for w in pool)  # interrupted
        for worker in pool:
            worker.stop(force=force)
