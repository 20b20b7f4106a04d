"""The inputs of a batch: which files, folders and globs name, their output folders, shards.

1. `expand_inputs`: files, folders (their videos, keypoint files and OpenPose sub-folders; a
   folder of OpenPose frame files is one input) and glob patterns become one sorted list.
2. `output_names`: one output folder per input under the batch's ``out``, named after the file
   (``walk.mp4`` → ``walk/``), made unique when two inputs share a name (``walk_mp4``,
   ``a__walk_mp4``, ...).
3. `select_shard`: ``shard=(k, n)`` keeps every n-th input starting at the k-th (1-based) of
   the sorted list, so a job array (SLURM, Kubernetes, Ray) splits one batch over machines; the
   shares are disjoint, cover every input and depend only on the input list.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssrstf.keypoints.video import is_video

SUMMARY_FILES = ("batch.csv", "batch.json")
"""The summary files `ssrstf.pipeline.batch.run_batch` writes into the output folder (no
input's output folder takes their names, `output_names`)."""

OVERWRITE_MARKER = ".ssrstf-overwrite.json"
"""An ``overwrite`` batch's run in the output folder: its id, options and whether it ended
(`ssrstf.pipeline.batch_records.begin_overwrite`)."""

_SHARDED_FILES = (SUMMARY_FILES[1], OVERWRITE_MARKER)
"""The files of the output folder that each shard writes for itself (`shard_name`)."""

_SHARD_NAME = re.compile(r"(?P<stem>.+)\.shard-[0-9]+-of-[0-9]+(?P<suffix>\.[^.]+)")
"""A name as `shard_name` makes it: the file's stem, the shard, the file's suffix."""

DONE_MARKER = ".ssrstf-done.json"
"""Written last, atomically, into an input's output folder when every file is in place
(`ssrstf.pipeline.batch_records`)."""

STARTED_MARKER = ".ssrstf-started.json"
"""Written into an input's output folder before its first output file (removed when done)."""

KEYPOINT_SUFFIXES = frozenset({".json", ".npz", ".npy"})
"""Suffixes of keypoint files that folder and glob expansion pick up (besides videos)."""

_GLOB_CHARS = "*?["


@dataclass(frozen=True)
class BatchInput:
    """One input of a batch and the name of its output folder under the batch's ``out``."""

    path: Path
    name: str


def is_openpose_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder of OpenPose per-frame files (one input, one sequence).

    It is when it holds ``*_keypoints.json`` files, or when its first ``.json`` file is an
    OpenPose frame (an object with ``people``).
    """
    path = Path(path)
    if not path.is_dir():
        return False
    if next(path.glob("*_keypoints.json"), None) is not None:
        return True
    first = min(path.glob("*.json"), default=None)
    if first is None:
        return False
    try:
        data = json.loads(first.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "people" in data


def shard_name(name: str, shard: tuple[int, int]) -> str:
    """The name of the file ``name`` as shard ``(k, n)`` writes it for itself: ``batch.json``
    → ``batch.shard-K-of-N.json``."""
    stem, suffix = os.path.splitext(name)
    return f"{stem}.shard-{shard[0]}-of-{shard[1]}{suffix}"


def is_batch_file(name: str) -> bool:
    """Whether ``name`` is that of a file a batch writes into its output folder: a summary
    file, the overwrite marker, or one of them as a shard writes it (`shard_name`)."""
    sharded = _SHARD_NAME.fullmatch(name)
    if sharded is not None:
        return sharded["stem"] + sharded["suffix"] in _SHARDED_FILES
    return name in (*SUMMARY_FILES, OVERWRITE_MARKER)


def _is_input_file(path: Path) -> bool:
    return is_video(path) or path.suffix.lower() in KEYPOINT_SUFFIXES


def folder_inputs(folder: str | Path) -> list[Path]:
    """The inputs in a folder (not recursive): videos, keypoint files and OpenPose folders.

    Hidden entries are left out; sorted by name.
    """
    found = []
    for entry in sorted(Path(folder).iterdir()):
        if entry.name.startswith("."):
            continue
        if (entry.is_file() and _is_input_file(entry)) or is_openpose_folder(entry):
            found.append(entry)
    return found


def is_glob(text: str | Path) -> bool:
    """Whether ``text`` is a glob pattern (has ``*``, ``?`` or ``[`` and is no existing path)."""
    return any(c in str(text) for c in _GLOB_CHARS) and not Path(text).exists()


def names_several_inputs(text: str | Path) -> bool:
    """Whether one command-line input stands for a batch: a glob, or a folder of inputs.

    A folder of OpenPose frame files is one input; so is a folder without any input in it (it
    then fails as one, with the reader's message).
    """
    if is_glob(text):
        return True
    path = Path(text)
    return path.is_dir() and not is_openpose_folder(path) and bool(folder_inputs(path))


def _batch_output(path: Path, folder: Path) -> bool:
    """Whether ``path`` is something a batch wrote into its output folder ``folder``: one of
    its own files there (`is_batch_file`: summaries, shard summaries, the overwrite marker), or
    what lies in an input's output folder (one holding a done or started marker).
    Inputs may lie in the output folder itself (``infer 'clips/*.mp4' --out clips``)."""
    path, folder = Path(os.path.abspath(path)), Path(os.path.abspath(folder))
    if not path.is_relative_to(folder) or path == folder:
        return path == folder
    if path.parent == folder and is_batch_file(path.name):
        return True
    for candidate in [path, *path.parents]:
        if candidate == folder:
            return False
        if any((candidate / marker).exists() for marker in (DONE_MARKER, STARTED_MARKER)):
            return True
    return False


def expand_inputs(
    patterns: Sequence[str | Path], *, exclude: str | Path | None = None
) -> list[Path]:
    """The inputs named by files, folders and glob patterns: deduplicated, sorted by path.

    A file is an input (a missing one too: it then fails as an input). A folder of OpenPose
    frame files is one input; another folder stands for its inputs (`folder_inputs`), or is an
    input itself when it holds none. A glob pattern (``**`` recurses) stands for its matches,
    of which only videos, keypoint files and folders are kept; a matched frame file of an
    OpenPose folder stands for that folder.

    Args:
        patterns: What the user named.
        exclude: The batch's output folder: what folders and globs find of its own outputs
            there (summary files, inputs' output folders) is left out.

    Raises:
        FileNotFoundError: A glob pattern matches nothing.
        ValueError: Nothing at all to process.
    """
    found: dict[str, Path] = {}

    def add(path: Path, *, expanded: bool) -> None:
        if expanded and exclude is not None and _batch_output(path, Path(exclude)):
            return
        found.setdefault(os.path.abspath(path), path)

    for pattern in patterns:
        if not is_glob(pattern):
            path = Path(pattern)
            inner = folder_inputs(path) if path.is_dir() and not is_openpose_folder(path) else []
            for item in inner:
                add(item, expanded=True)
            if not inner:
                add(path, expanded=False)
            continue
        matches = sorted(glob.glob(str(pattern), recursive=True))
        if not matches:
            raise FileNotFoundError(f"no file or folder matches {str(pattern)!r}")
        sequences: dict[Path, bool] = {}  # folder → is an OpenPose sequence (asked once)
        for match in map(Path, matches):
            parent = match.parent
            if match.is_file() and parent not in sequences:
                sequences[parent] = is_openpose_folder(parent)
            if match.is_file() and sequences[parent]:
                add(parent, expanded=True)  # a frame file: its sequence is the input
            elif match.is_dir() and not is_openpose_folder(match):
                for item in folder_inputs(match):
                    add(item, expanded=True)
            elif match.is_dir() or _is_input_file(match):
                add(match, expanded=True)
    if not found:
        shown = " ".join(map(str, patterns))
        raise ValueError(f"no videos or keypoint files found in {shown}")
    return sorted(found.values(), key=lambda p: (str(p), os.path.abspath(p)))


def _name_candidate(path: Path, level: int) -> str:
    is_folder = path.is_dir()
    path = Path(os.path.abspath(path))  # "." and ".." name the folder they stand for
    stem = path.name if is_folder or not path.suffix else path.stem
    if level == 0:
        return stem
    suffix = "" if is_folder else path.suffix.lstrip(".")
    tail = f"{stem}_{suffix}" if suffix else stem
    parents = [p.name for p in path.parents if p.name][: level - 1]
    return "__".join([*reversed(parents), tail])


def output_names(paths: Sequence[Path]) -> list[str]:
    """A distinct output-folder name for each input (deterministic, from the paths alone).

    The file's stem (``walk.mp4`` → ``walk``); inputs sharing it get the suffix too
    (``walk_mp4``, ``walk_json``), then their parent folders (``clips__walk_mp4``); names are
    compared case-insensitively and never equal the name of a file the batch writes there
    (`is_batch_file`).
    """
    depth = [1 + len(Path(os.path.abspath(p)).parents) for p in paths]
    levels = [0] * len(paths)
    while True:
        names = [_name_candidate(p, level) for p, level in zip(paths, levels, strict=True)]
        groups: dict[str, list[int]] = defaultdict(list)
        for index, name in enumerate(names):
            groups[name.casefold()].append(index)
        # The batch's own names are lower case: a case-folded name that is one clashes.
        clashes = [ids for key, ids in groups.items() if len(ids) > 1 or is_batch_file(key)]
        if not clashes:
            return names
        moved = False
        for ids in clashes:
            for index in ids:
                if levels[index] < depth[index]:
                    levels[index] += 1
                    moved = True
        if not moved:  # identical names at every level (cannot happen for distinct paths)
            seen: dict[str, int] = defaultdict(int)
            unique = []
            for name in names:
                seen[name.casefold()] += 1
                unique.append(
                    name if seen[name.casefold()] == 1 else f"{name}-{seen[name.casefold()]}"
                )
            return unique


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` (1 ≤ K ≤ N) as ``(k, n)``.

    Raises:
        ValueError: Not of that form.
    """
    k, sep, n = str(text).partition("/")
    try:
        shard = (int(k), int(n))
    except ValueError:
        shard = (0, 0)
    if not sep or not 1 <= shard[0] <= shard[1]:
        raise ValueError(f"expected a shard K/N with 1 <= K <= N (e.g. 1/4 ... 4/4), got {text!r}")
    return shard


def select_shard(items: Sequence[Any], shard: tuple[int, int] | None) -> list[Any]:
    """The ``k``-th of ``n`` shares of ``items``: every n-th item starting at the k-th (1-based).

    The shares of k = 1..n are disjoint and together are ``items``; dealing them out in turn
    (rather than in blocks) evens out runs of long or short inputs in the sorted order.
    """
    if shard is None:
        return list(items)
    k, n = shard
    if not 1 <= k <= n:
        raise ValueError(f"shard must satisfy 1 <= k <= n, got {k}/{n}")
    return list(items[k - 1 :: n])
