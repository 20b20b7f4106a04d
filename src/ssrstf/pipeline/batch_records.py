"""What a batch records: completion markers in each input's folder, and the summary files.

Completion is marked by `DONE_MARKER` (``.ssrstf-done.json``), written into the input's folder
last and atomically (temporary file, fsync, rename) after every output file. An input without
it is never trusted: a folder holding `STARTED_MARKER` (``.ssrstf-started.json``, written
before the first output file) is one of ours, half written, and is redone, replacing its files;
a folder with files but neither marker is someone else's and is only replaced with
``overwrite``. So a batch killed at any moment (SIGKILL, a pre-empted cluster job) resumes by
running the same command again. The done marker also records the options with the model file's
content (`InferOptions.fingerprint`) and the input's size and modification time: a rerun with
other options, another version of the model, or on a changed input, does not skip it but
reports it (`previous_record`); the summary shows such an input as ``pending``, never ``done``
(`unreported_record`).

An ``overwrite`` batch redoes every input, so its own progress is kept apart: it notes its run
in `OVERWRITE_MARKER` (`begin_overwrite`) and in the done marker of each input it finishes; the
same command after an interruption resumes that run (the inputs it finished are skipped), and a
run that ends closes it (`end_overwrite`), so the next ``overwrite`` batch redoes everything.

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
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssrstf.files import OutputLockedError, atomic_write, output_lock
from ssrstf.pipeline.batch_inputs import (
    DONE_MARKER,
    OVERWRITE_MARKER,
    STARTED_MARKER,
    SUMMARY_FILES,
    BatchInput,
    shard_name,
)
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
    out_dir: Path,
    record: InputRecord,
    signature: dict[str, int] | None,
    options: InferOptions,
    *,
    fingerprint: dict[str, Any] | None = None,
    overwrite_run: str | None = None,
) -> None:
    """Mark ``out_dir`` as complete (after its last file), with what a rerun compares:
    ``signature`` is the input's `input_signature` taken before it was read (an input changed
    while it was processed then counts as changed); ``fingerprint`` the options' as the model
    was loaded (default: ``options.fingerprint()`` now); ``overwrite_run`` the id of the
    ``overwrite`` batch that redid it (`begin_overwrite`)."""
    marker = {
        "format": "ssrstf-batch-done",
        "format_version": _FORMAT_VERSION,
        "input_signature": signature,
        "options": options.fingerprint() if fingerprint is None else fingerprint,
        "record": record.to_dict(),
    }
    if overwrite_run is not None:
        marker["overwrite_run"] = overwrite_run
    _write_json(out_dir / DONE_MARKER, marker)  # last: the folder is complete now
    (out_dir / STARTED_MARKER).unlink(missing_ok=True)


def _why_not_done(done: dict[str, Any], options: InferOptions, path: Path) -> str | None:
    """Why a done marker does not stand for ``path`` processed with ``options``; None if it
    does. A marker of an older ssrstf (no ``checkpoint_sha256``) never does: which model made
    its outputs is unknown, and a model retrained in place is what this check catches."""
    recorded, current = done.get("options"), options.fingerprint()
    if not isinstance(recorded, dict) or "checkpoint_sha256" not in recorded:
        return "by an older ssrstf that did not record which model made it"
    changed = [k for k in current.keys() | recorded.keys() if recorded.get(k) != current.get(k)]
    if changed == ["checkpoint_sha256"]:
        return f"with another version of the model {current['checkpoint']} (changed since)"
    if changed:
        return f"with other options ({', '.join(sorted(changed))})"
    if done.get("input_signature") != input_signature(path):
        return "from an older version of the input"
    return None


def _kept(done: dict[str, Any], item: BatchInput, out_dir: Path, status: str) -> InputRecord:
    record = InputRecord.from_dict(done["record"])
    return dataclasses.replace(record, input=str(item.path), output=str(out_dir), status=status)


def unreported_record(
    item: BatchInput, out: Path, options: InferOptions, *, overwrite_run: str | None = None
) -> InputRecord:
    """An input without a record from this run (interrupted, or another shard's): ``done`` if
    its marker says it was finished with ``options`` from the input as it is now (and, with
    ``overwrite_run``, by that ``overwrite`` run), else ``pending`` (with the reason when a
    marker is there)."""
    out_dir = out / item.name
    done = read_done(out_dir)
    if done is None:
        return InputRecord(str(item.path), str(out_dir), "pending")
    why = _why_not_done(done, options, item.path)
    if why is None and overwrite_run is not None and done.get("overwrite_run") != overwrite_run:
        why = "before this --overwrite run"
    if why is not None:
        return InputRecord(str(item.path), str(out_dir), "pending",
                           error=f"not redone yet: finished {why}")  # fmt: skip
    return _kept(done, item, out_dir, "done")


def previous_record(
    item: BatchInput, out: Path, options: InferOptions, *, overwrite_run: str | None = None
) -> InputRecord | None:
    """The record of an earlier run that finished ``item`` (``skipped``), a ``failed`` record
    when it finished with other options, another version of the model or an older input, or
    None (to do).

    With ``overwrite_run`` (an ``overwrite`` batch, `begin_overwrite`): ``skipped`` only when
    that run finished it (resuming it), else None.
    """
    out_dir = out / item.name
    done = read_done(out_dir)
    if done is None:
        return None
    why = _why_not_done(done, options, item.path)
    if overwrite_run is not None:  # redone unless this run did it
        if why is not None or done.get("overwrite_run") != overwrite_run:
            return None
        return _kept(done, item, out_dir, "skipped")
    if why is not None:
        return InputRecord(
            str(item.path), str(out_dir), "failed",
            error=f"{out_dir} was finished by an earlier run {why}; pass --overwrite to redo "
            "it, or choose another --out",
        )  # fmt: skip
    return _kept(done, item, out_dir, "skipped")


def _overwrite_file(out: Path, shard: tuple[int, int] | None) -> Path:
    """`OVERWRITE_MARKER` in ``out``; a shard's own (``.ssrstf-overwrite.shard-K-of-N.json``)."""
    return out / (OVERWRITE_MARKER if shard is None else shard_name(OVERWRITE_MARKER, shard))


def begin_overwrite(out: Path, options: InferOptions, shard: tuple[int, int] | None) -> str:
    """The id of this ``overwrite`` batch's run: the run noted in `OVERWRITE_MARKER` when it
    did not end and had the same options (an interrupted run, resumed), else a new one."""
    path = _overwrite_file(out, shard)
    fingerprint = options.fingerprint()
    with contextlib.suppress(OSError, ValueError, AttributeError):
        noted = json.loads(path.read_text(encoding="utf-8"))
        if not noted.get("ended") and noted.get("options") == fingerprint and noted.get("id"):
            return str(noted["id"])
    run = uuid.uuid4().hex
    _write_json(path, {"format": "ssrstf-batch-overwrite", "format_version": _FORMAT_VERSION,
                       "id": run, "started": time.time(), "ended": None,
                       "options": fingerprint})  # fmt: skip
    return run


def end_overwrite(out: Path, shard: tuple[int, int] | None, run: str) -> None:
    """Note that the ``overwrite`` run ``run`` ended: the next one starts afresh."""
    path = _overwrite_file(out, shard)
    with contextlib.suppress(OSError, ValueError, AttributeError):
        noted = json.loads(path.read_text(encoding="utf-8"))
        if noted.get("id") == run:
            _write_json(path, {**noted, "ended": time.time()})


# ------------------------------------------------------------------------------ summary


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


def _other_shards(
    out: Path, shard: tuple[int, int], options: InferOptions
) -> dict[str, InputRecord]:
    """Records of the other shards' last runs with ``options``, from their
    ``batch.shard-*-of-N.json`` (a shard last run with other options says nothing of these)."""
    found: dict[str, InputRecord] = {}
    fingerprint = options.fingerprint()
    k, n = shard
    for other in (i for i in range(1, n + 1) if i != k):
        path = out / shard_name(SUMMARY_FILES[1], (other, n))
        with contextlib.suppress(OSError, ValueError, TypeError, KeyError, AttributeError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("options") != fingerprint:
                continue
            for row in data["records"]:
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
    ``done`` when their folder was finished with ``options`` (`unreported_record`), else the
    failure of their shard's last run with ``options``, else ``pending``.
    """
    run = {"shard": None if shard is None else f"{shard[0]}/{shard[1]}", "workers": workers,
           "seconds": round(seconds, 3)}  # fmt: skip
    paths: dict[str, Path] = {}
    if shard is not None:
        paths["shard"] = out / shard_name(SUMMARY_FILES[1], shard)
        _write_json(paths["shard"], _summary_json(records, options, **run))
    with _summary_lock(out):
        everyone = _merge(out, items, records, options, shard)
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
    options: InferOptions,
    shard: tuple[int, int] | None,
) -> list[InputRecord]:
    mine = {r.input: r for r in records}
    others = {} if shard is None else _other_shards(out, shard, options)
    merged = []
    for item in items:
        key = str(item.path)
        if key in mine:
            merged.append(mine[key])
            continue
        record = unreported_record(item, out, options)
        if record.status == "pending" and key in others and others[key].status == "failed":
            record = others[key]
        merged.append(record)
    return merged
