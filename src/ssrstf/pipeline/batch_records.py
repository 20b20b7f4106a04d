"""What a batch records: completion markers in each input's folder, and the summary files.

Completion is marked by `DONE_MARKER` (``.ssrstf-done.json``), written into the input's folder
last and atomically (temporary file, fsync, rename) after every output file. An input without
it is never trusted: a folder holding `STARTED_MARKER` (``.ssrstf-started.json``, written
before the first output file) is one of ours, half written, and is redone, replacing its files;
a folder with files but neither marker is someone else's and is only replaced with
``overwrite``. So a batch killed at any moment (SIGKILL, a pre-empted cluster job) resumes by
running the same command again. The done marker also records the options and the input's size
and modification time: a rerun with other options, or on a changed input, does not skip it but
reports it (`previous_record`).

``batch.csv`` and ``batch.json`` (`write_summary`) list every input of the batch (status,
frames, the detector's share of the time, seconds, output folder, error). With shards each
shard also writes ``batch.shard-K-of-N.json``, and the shared summary merges what every shard
has recorded.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssrstf.files import OutputLockedError, atomic_write, output_lock
from ssrstf.pipeline.batch_inputs import DONE_MARKER, STARTED_MARKER, SUMMARY_FILES, BatchInput
from ssrstf.pipeline.options import InferOptions

SUMMARY_COLUMNS = ("input", "status", "frames", "detection_share", "seconds", "output", "error")
"""Columns of ``batch.csv`` (also the first keys of each record in ``batch.json``)."""

STATUSES = ("done", "skipped", "failed", "pending")
"""``done``: processed now; ``skipped``: finished by an earlier run; ``failed``; ``pending``:
not processed (another shard's input not finished yet, or the run was interrupted)."""

_FORMAT_VERSION = 1


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


@dataclass(frozen=True)
class InputRecord:
    """What happened to one input (a row of ``batch.csv``).

    Attributes:
        input: The input path as given (or as expanded).
        output: Its output folder.
        status: One of `STATUSES`.
        frames: Frames read (None when it failed before).
        seconds: Wall time of the input in its worker (reading, detection, lifting, writing).
        detect_seconds: Time inside the 2D detector (videos; None for keypoint files).
        error: One line saying why it failed.
        log: The end of what the input's processing wrote to standard error (the detector's
            native log lines), kept for failures.
    """

    input: str
    output: str
    status: str
    frames: int | None = None
    seconds: float | None = None
    detect_seconds: float | None = None
    error: str | None = None
    log: str | None = None

    @property
    def detection_share(self) -> float | None:
        """Fraction of ``seconds`` spent in the 2D detector (None for keypoint files)."""
        if self.detect_seconds is None or not self.seconds:
            return None
        return min(1.0, self.detect_seconds / self.seconds)

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON values, `SUMMARY_COLUMNS` first."""
        share = self.detection_share
        return {
            "input": self.input,
            "status": self.status,
            "frames": self.frames,
            "detection_share": None if share is None else round(share, 4),
            "seconds": _rounded(self.seconds),
            "output": self.output,
            "error": self.error,
            "detect_seconds": None
            if self.detect_seconds is None
            else round(self.detect_seconds, 3),
            "log": self.log,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputRecord:
        """The inverse of `to_dict`."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


# ------------------------------------------------------------------------------ markers


def _write_json(path: Path, data: dict[str, Any]) -> None:
    text = json.dumps(data, indent=1) + "\n"
    atomic_write(path, lambda temp: temp.write_text(text, encoding="utf-8"))


def input_signature(path: Path) -> dict[str, int] | None:
    """The input's size and modification time, or None when missing; for a folder (OpenPose
    frames) the total size and the latest modification time of the files in it, so that frames
    rewritten in place count as a changed input."""
    try:
        stat = path.stat()
        if not path.is_dir():
            return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
        files = [entry.stat() for entry in path.iterdir() if entry.is_file()]
    except OSError:
        return None
    return {
        "size": sum(f.st_size for f in files),
        "mtime_ns": max([stat.st_mtime_ns, *(f.st_mtime_ns for f in files)]),
        "files": len(files),
    }


def read_done(out_dir: Path) -> dict[str, Any] | None:
    """The done marker's content; None when absent or unreadable (then never trusted)."""
    try:
        data = json.loads((out_dir / DONE_MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("record"), dict) else None


def is_ours(out_dir: Path) -> bool:
    """Whether a batch started (or finished) writing this folder (so it may replace files)."""
    return (out_dir / STARTED_MARKER).exists() or (out_dir / DONE_MARKER).exists()


def mark_started(out_dir: Path) -> None:
    """Mark ``out_dir`` as being written (before its first file; a redo is not done until it
    is, so an old done marker goes first)."""
    # Started first: a kill between the two still leaves the folder marked as ours.
    _write_json(out_dir / STARTED_MARKER, {"pid": os.getpid(), "started": time.time()})
    (out_dir / DONE_MARKER).unlink(missing_ok=True)


def mark_done(
    out_dir: Path, record: InputRecord, signature: dict[str, int] | None, options: InferOptions
) -> None:
    """Mark ``out_dir`` as complete (after its last file), with what a rerun compares:
    ``signature`` is the input's `input_signature` taken before it was read (an input changed
    while it was processed then counts as changed)."""
    marker = {
        "format": "ssrstf-batch-done",
        "format_version": _FORMAT_VERSION,
        "input_signature": signature,
        "options": options.fingerprint(),
        "record": record.to_dict(),
    }
    _write_json(out_dir / DONE_MARKER, marker)  # last: the folder is complete now
    (out_dir / STARTED_MARKER).unlink(missing_ok=True)


def unreported_record(item: BatchInput, out: Path) -> InputRecord:
    """An input without a record from this run (interrupted, or another shard's): ``done`` if
    its marker says so, else ``pending``."""
    out_dir = out / item.name
    done = read_done(out_dir)
    if done is None:
        return InputRecord(str(item.path), str(out_dir), "pending")
    record = InputRecord.from_dict(done["record"])
    return dataclasses.replace(record, input=str(item.path), output=str(out_dir), status="done")


def previous_record(item: BatchInput, out: Path, options: InferOptions) -> InputRecord | None:
    """The record of an earlier run that finished ``item`` (``skipped``), a ``failed`` record
    when it finished with other options or an older input, or None (to do)."""
    out_dir = out / item.name
    done = read_done(out_dir)
    if done is None:
        return None
    signature = input_signature(item.path)
    if done.get("options") != options.fingerprint() or done.get("input_signature") != signature:
        return InputRecord(
            str(item.path), str(out_dir), "failed",
            error=f"{out_dir} was finished by an earlier run with other options or from an "
            "older version of the input; pass --overwrite to redo it, or choose another --out",
        )  # fmt: skip
    record = InputRecord.from_dict(done["record"])
    return dataclasses.replace(record, input=str(item.path), output=str(out_dir), status="skipped")


# ------------------------------------------------------------------------------ summary


def _shard_file(shard: tuple[int, int]) -> str:
    return f"batch.shard-{shard[0]}-of-{shard[1]}.json"


def _summary_json(
    records: Sequence[InputRecord], options: InferOptions, **run: Any
) -> dict[str, Any]:
    counts = {status: sum(r.status == status for r in records) for status in STATUSES}
    return {
        "format": "ssrstf-batch",
        "format_version": _FORMAT_VERSION,
        "inputs": len(records),
        "counts": counts,
        "run": run,
        "options": options.fingerprint(),
        "records": [r.to_dict() for r in records],
    }


def _csv_text(records: Sequence[InputRecord]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for record in records:
        row = record.to_dict()
        writer.writerow({k: "" if row[k] is None else row[k] for k in SUMMARY_COLUMNS})
    return buffer.getvalue()


def _other_shards(out: Path, shard: tuple[int, int]) -> dict[str, InputRecord]:
    """Records of the other shards' last runs, from their ``batch.shard-*-of-N.json``."""
    found: dict[str, InputRecord] = {}
    for path in sorted(out.glob(f"batch.shard-*-of-{shard[1]}.json")):
        if path.name == _shard_file(shard):
            continue
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
            for row in json.loads(path.read_text(encoding="utf-8"))["records"]:
                found[row["input"]] = InputRecord.from_dict(row)
    return found


@contextlib.contextmanager
def _summary_lock(out: Path, timeout: float = 60.0) -> Iterator[None]:
    """Serialise the shards' updates of the shared summary (best effort after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with output_lock(out):
                yield
            return
        except OutputLockedError:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
    yield  # the files are written atomically either way


def write_summary(
    out: Path,
    items: Sequence[BatchInput],
    records: Sequence[InputRecord],
    options: InferOptions,
    *,
    shard: tuple[int, int] | None = None,
    workers: int = 0,
    seconds: float = 0.0,
) -> dict[str, Path]:
    """Write ``batch.csv`` and ``batch.json`` (and a shard's own ``batch.shard-K-of-N.json``).

    Every input of the batch is listed: this run's ``records``; for the other shards' inputs
    the record of their last run, or ``done`` when their folder is finished, else ``pending``.
    """
    run = {"shard": None if shard is None else f"{shard[0]}/{shard[1]}", "workers": workers,
           "seconds": round(seconds, 3)}  # fmt: skip
    paths: dict[str, Path] = {}
    if shard is not None:
        paths["shard"] = out / _shard_file(shard)
        _write_json(paths["shard"], _summary_json(records, options, **run))
    with _summary_lock(out):
        everyone = _merge(out, items, records, shard)
        text = json.dumps(_summary_json(everyone, options, **run), indent=1) + "\n"
        csv_text = _csv_text(everyone)
        paths["csv"] = atomic_write(
            out / SUMMARY_FILES[0], lambda t: t.write_text(csv_text, "utf-8")
        )
        paths["json"] = atomic_write(out / SUMMARY_FILES[1], lambda t: t.write_text(text, "utf-8"))
    return paths


def _merge(
    out: Path,
    items: Sequence[BatchInput],
    records: Sequence[InputRecord],
    shard: tuple[int, int] | None,
) -> list[InputRecord]:
    mine = {r.input: r for r in records}
    others = {} if shard is None else _other_shards(out, shard)
    merged = []
    for item in items:
        key = str(item.path)
        if key in mine:
            merged.append(mine[key])
            continue
        record = unreported_record(item, out)
        if record.status == "pending" and key in others and others[key].status == "failed":
            record = others[key]
        merged.append(record)
    return merged
