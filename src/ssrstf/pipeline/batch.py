"""Many inputs in one run: ``ssrstf infer`` with several files, folders or globs.

`run_batch` is the library entry (the CLI is a thin layer over it):

1. `expand_inputs`: files, folders (their videos, keypoint files and OpenPose sub-folders; a
   folder of OpenPose frame files is one input) and glob patterns become one sorted list.
2. `output_names`: one output folder per input under ``out``, named after the file (``walk.mp4``
   → ``walk/``), made unique when two inputs share a name (``walk_mp4``, ``a__walk_mp4``, ...).
3. `select_shard`: ``shard=(k, n)`` keeps every n-th input starting at the k-th (1-based) of the
   sorted list, so a job array (SLURM, Kubernetes, Ray) splits one batch over machines; the
   shares are disjoint, cover every input and depend only on the input list.
4. Inputs a previous run finished are skipped; the others go to worker processes (``spawn``
   start method: MediaPipe and torch are not fork-safe), one torch thread each by default,
   as many as the CPUs allow (`available_cpus`). A failing input is recorded and the rest go
   on; a worker that dies (a crash in native code) loses only its current input.
5. ``batch.csv`` and ``batch.json`` in ``out`` list every input (status, frames, the detector's
   share of the time, seconds, output folder, error). With shards each shard also writes
   ``batch.shard-K-of-N.json``, and the shared summary merges what every shard has recorded.

Each input goes through `ssrstf.pipeline.run.Pipeline.infer`, as a single ``ssrstf infer``
input does. Completion is marked by ``.ssrstf-done.json``, written into the input's folder last
and atomically, so a batch killed at any moment resumes by running the same command again
(`ssrstf.pipeline.batch_records`), ``overwrite`` included: such a batch notes its run in
``.ssrstf-overwrite.json`` and skips, when resumed, only the inputs that run redid.

The jobs live in their own modules, re-exported here: `ssrstf.pipeline.batch_inputs` (steps
1-3), `ssrstf.pipeline.batch_workers` (step 4), `ssrstf.pipeline.batch_records` (markers and
step 5) and `ssrstf.pipeline.options` (`InferOptions`).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssrstf.pipeline.batch_inputs import (
    KEYPOINT_SUFFIXES,
    SUMMARY_FILES,
    BatchInput,
    expand_inputs,
    folder_inputs,
    is_batch_file,
    is_glob,
    is_openpose_folder,
    names_several_inputs,
    output_names,
    parse_shard,
    select_shard,
)
from ssrstf.pipeline.batch_records import (
    DONE_MARKER,
    STARTED_MARKER,
    STATUSES,
    SUMMARY_COLUMNS,
    InputRecord,
    begin_overwrite,
    end_overwrite,
    previous_record,
    unreported_record,
    write_summary,
)
from ssrstf.pipeline.batch_workers import Job, available_cpus, describe_error, run_jobs
from ssrstf.pipeline.options import InferOptions

__all__ = [
    "DONE_MARKER",
    "KEYPOINT_SUFFIXES",
    "STARTED_MARKER",
    "STATUSES",
    "SUMMARY_COLUMNS",
    "SUMMARY_FILES",
    "BatchInput",
    "BatchResult",
    "InferOptions",
    "InputRecord",
    "available_cpus",
    "describe_error",
    "expand_inputs",
    "folder_inputs",
    "is_batch_file",
    "is_glob",
    "is_openpose_folder",
    "names_several_inputs",
    "output_names",
    "parse_shard",
    "print_failures",
    "run_batch",
    "select_shard",
    "write_summary",
]


@dataclass(frozen=True)
class BatchResult:
    """What `run_batch` did.

    Attributes:
        records: One per input of this run's share (every input without a shard), in input
            order.
        total_inputs: Inputs of the whole batch (all shards).
        out: The output folder.
        summary: Paths of the summary files written (``csv``, ``json``, and ``shard``).
        workers: Worker processes used (0 when nothing was left to do).
        seconds: Wall time of the run.
        shard: ``(k, n)`` or None.
    """

    records: tuple[InputRecord, ...]
    total_inputs: int
    out: Path
    summary: dict[str, Path]
    workers: int
    seconds: float
    shard: tuple[int, int] | None = None

    def count(self, status: str) -> int:
        """How many of ``records`` have ``status``."""
        return sum(r.status == status for r in self.records)

    @property
    def failed(self) -> list[InputRecord]:
        """The failed inputs."""
        return [r for r in self.records if r.status == "failed"]

    @property
    def ok(self) -> bool:
        """Every input of this run's share is done (now or before)."""
        return all(r.status in ("done", "skipped") for r in self.records)

    def describe(self) -> str:
        """One line: the counts, the time and the workers."""
        head = f"{len(self.records)} inputs: "
        if self.shard is not None:
            k, n = self.shard
            head = f"{len(self.records)} inputs (shard {k}/{n} of {self.total_inputs}): "
        parts = [f"{self.count('done')} done"]
        if self.count("skipped"):
            parts.append(f"{self.count('skipped')} skipped (finished before)")
        parts.append(f"{self.count('failed')} failed")
        if self.count("pending"):
            parts.append(f"{self.count('pending')} not run")
        workers = f"{self.workers} worker{'s' if self.workers != 1 else ''}"
        return f"{head}{', '.join(parts)} in {self.seconds:.1f} s with {workers}"


# ------------------------------------------------------------------------------ batch


def run_batch(
    inputs: Sequence[str | Path],
    out: str | Path = "ssrstf_out",
    options: InferOptions | None = None,
    *,
    workers: int | None = None,
    shard: tuple[int, int] | None = None,
    overwrite: bool = False,
    progress: bool = True,
    verbose: bool = False,
) -> BatchResult:
    """Lift many inputs, each into its own folder under ``out``, in parallel processes.

    Args:
        inputs: Files, folders and glob patterns (`expand_inputs`).
        out: The batch's output folder: ``out/<name>/`` per input (`output_names`) and the
            summary ``batch.csv`` / ``batch.json``.
        options: How each input is read, lifted and written.
        workers: Worker processes (None: `available_cpus`); never more than inputs to do.
        shard: ``(k, n)``: process only the k-th of n shares (`select_shard`).
        overwrite: Redo inputs that are done, and replace files in output folders that no
            batch wrote. An interrupted ``overwrite`` batch run again with the same options
            skips the inputs it redid (`begin_overwrite`).
        progress: Show a progress bar over the inputs (stderr).
        verbose: Let the detector's native log lines through to standard error.

    Returns:
        The records of this run's inputs; the exit status of ``ssrstf infer`` is non-zero
        unless `BatchResult.ok`.

    Raises:
        FileNotFoundError, ValueError: No inputs (see `expand_inputs`), a bad ``shard`` or
            ``workers``.
        NotADirectoryError, PermissionError: ``out`` cannot be a folder written to.
    """
    from tqdm import tqdm

    start = time.perf_counter()
    options = options or InferOptions()
    out = Path(out)
    if workers is not None and workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    paths = expand_inputs(inputs, exclude=out)
    items = [BatchInput(p, n) for p, n in zip(paths, output_names(paths), strict=True)]
    mine = select_shard(items, shard)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    run = begin_overwrite(out, options, shard) if overwrite else None
    records: dict[str, InputRecord] = {}
    jobs = []
    for item in mine:
        skipped = previous_record(item, out, options, overwrite_run=run)
        if skipped is not None:
            records[str(item.path)] = skipped
        else:
            jobs.append(Job(str(item.path), str(out / item.name), options, overwrite,
                            not verbose, overwrite_run=run))  # fmt: skip
    count = min(workers or max(1, available_cpus() // options.threads), len(jobs))
    bar = tqdm(total=len(mine), initial=len(records), unit="input", desc="inputs",
               disable=not progress, dynamic_ncols=True)  # fmt: skip
    failures = sum(r.status == "failed" for r in records.values())

    def on_record(record: InputRecord) -> None:
        nonlocal failures
        records[record.input] = record
        failures += record.status == "failed"
        if failures:
            bar.set_postfix(failed=failures, refresh=False)
        bar.update()

    try:
        if jobs:
            run_jobs(jobs, count, options=options, quiet=not verbose, on_record=on_record)
        if run is not None:  # not interrupted: the next overwrite batch redoes everything
            end_overwrite(out, shard, run)
    finally:
        bar.close()
        ordered = tuple(
            records.get(str(i.path)) or unreported_record(i, out, options, overwrite_run=run)
            for i in mine
        )
        seconds = time.perf_counter() - start
        summary = write_summary(out, items, ordered, options, shard=shard, workers=count,
                                seconds=seconds)  # fmt: skip
    return BatchResult(ordered, len(items), out, summary, count, seconds, shard)


def print_failures(result: BatchResult, file: Any = None) -> None:
    """One line per failed input (``failed: INPUT: ERROR``) on ``file`` (default stderr)."""
    for record in result.failed:
        error = record.error or ""
        named = error.startswith(record.input)  # most messages begin with the file's name
        print(f"failed: {error if named else f'{record.input}: {error}'}", file=file or sys.stderr)
