"""Safe file input and output: checked reads, atomic writes, output-folder locks (a leaf module).

Reading: `check_input_file`, `read_text`, `read_json` and `open_npz` turn every way a user's
file can be wrong (missing, a folder, empty, truncated, not UTF-8, not JSON, not an ``.npz``)
into one `FileNotFoundError` / `ValueError` line that names the file and the problem; ``.npz``
archives are opened with ``allow_pickle=False``.

Every file ssrstf writes goes through `atomic_write` (or `temporary_path` for writers that
stream into a file name, such as ffmpeg): the content is written to a hidden temporary file in
the destination folder, flushed to disk, and renamed into place. A process killed at any moment,
or a write that fails (a full disk raises ``ENOSPC``), therefore leaves either the previous file
or nothing at the final path, never a truncated file; the temporary file is removed on any
failure Python sees (a SIGKILL can leave one ``.NAME.*.tmp`` behind, never a wrong final file).

`output_lock` makes a folder the property of one run at a time (``infer --out DIR`` twice at
once: the second stops with a message instead of mixing files of both runs).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

LOCK_NAME = ".ssrstf.lock"
"""The lock file `output_lock` keeps in a folder while a run writes into it."""


class OutputLockedError(RuntimeError):
    """Another process holds the output folder's lock."""


def check_input_file(path: str | Path, what: str = "file") -> Path:
    """``path`` as a `Path`, after checking that it is an existing, non-empty file.

    Raises:
        FileNotFoundError: ``"<what> not found: <path>"``.
        ValueError: If ``path`` is a folder or an empty file.
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path}: is a folder, not a {what}")
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    if path.stat().st_size == 0:
        raise ValueError(f"{path}: empty file (expected a {what})")
    return path


def read_text(path: str | Path, what: str = "text file") -> str:
    """The UTF-8 text of a user's file.

    Raises:
        FileNotFoundError, ValueError: As `check_input_file`, or when it is not UTF-8 text.
    """
    path = check_input_file(path, what)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path}: not UTF-8 text (byte {exc.start}); expected a {what}") from None


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """The parsed content of a user's JSON file (see `read_text`).

    Raises:
        ValueError: Also when the text is not valid JSON (with the line and column).
    """
    text = read_text(path, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None


@contextlib.contextmanager
def open_npz(path: str | Path, what: str = ".npz file") -> Iterator[Any]:
    """``np.load(path, allow_pickle=False)`` of an ``.npz`` archive, with one-line errors.

    Yields:
        The open `numpy.lib.npyio.NpzFile` (closed on exit).

    Raises:
        FileNotFoundError, ValueError: As `check_input_file`, or when the file is not a
            readable ``.npz`` archive (truncated, corrupt, a bare ``.npy``).
    """
    import tokenize
    import zipfile

    import numpy as np

    path = check_input_file(path, what)
    try:
        data = np.load(path, allow_pickle=False)
    except (
        OSError,
        ValueError,
        EOFError,
        zipfile.BadZipFile,
        SyntaxError,
        tokenize.TokenError,
    ) as exc:
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise ValueError(f"{path}: not a readable {what} ({reason})") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise ValueError(f"{path}: a single .npy array, not a {what} (an .npz archive)")
    try:
        yield data
    except (zipfile.BadZipFile, EOFError, OSError, SyntaxError, tokenize.TokenError) as exc:
        # A member that is cut short or corrupt (numpy parses each member's header lazily).
        reason = " ".join(str(exc).split())[:120] or type(exc).__name__
        raise ValueError(f"{path}: not a readable {what} ({reason})") from None
    finally:
        data.close()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def temporary_path(path: str | Path, *, overwrite: bool = True) -> Path:
    """A new temporary file next to ``path`` (mode as for a normal file), to be moved into place.

    Raises:
        FileExistsError: If ``path`` exists and not ``overwrite``.
        IsADirectoryError: If ``path`` is a folder.
        PermissionError: If the folder cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder, not a file path")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass --overwrite (overwrite=True)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except PermissionError:
        raise PermissionError(f"{path.parent}: folder is not writable") from None
    os.close(fd)
    os.chmod(temp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the usual mode
    return Path(temp)


def check_new_file(path: str | Path, *, overwrite: bool = False) -> Path:
    """Refuse, before any work, an output file that cannot be written as asked.

    Creates nothing: writability is probed with a temporary file in the nearest existing
    folder above ``path``.

    Raises:
        IsADirectoryError: If ``path`` is a folder.
        FileExistsError: If ``path`` exists and not ``overwrite``.
        NotADirectoryError: If a component above ``path`` is a file.
        PermissionError: If the folder cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path}: is a folder; an output file path is needed")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} already exists; pass --overwrite to replace it")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise NotADirectoryError(f"{path}: {folder} is a file, not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".ssrstf-probe.", suffix=".tmp")
    except PermissionError:
        raise PermissionError(f"{folder}: folder is not writable") from None
    os.close(fd)
    os.unlink(probe)
    return path


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(temp: str | Path, path: str | Path, *, overwrite: bool = True) -> Path:
    """Move a finished temporary file to ``path`` (flushed to disk first).

    Without ``overwrite`` the move is a hard link, which fails when ``path`` appeared meanwhile
    (another process), so an existing file is never replaced. On a file system without hard
    links it is a check, then a rename: a file created between the two would be replaced.
    """
    temp, path = Path(temp), Path(path)
    _sync(temp)
    if overwrite:
        os.replace(temp, path)
        return path
    try:
        os.link(temp, path)
    except FileExistsError:
        raise FileExistsError(f"{path} already exists; pass --overwrite (overwrite=True)") from None
    except OSError as exc:  # file systems without hard links
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        if path.exists():
            raise FileExistsError(f"{path} already exists; pass --overwrite") from None
        os.replace(temp, path)
        return path
    temp.unlink()
    return path


def atomic_write(
    path: str | Path, write: Callable[[Path], None], *, overwrite: bool = True
) -> Path:
    """Call ``write(temp)`` on a temporary file next to ``path``, then move it to ``path``.

    Args:
        path: The final file.
        write: Writes the complete content to the path it is given.
        overwrite: Replace an existing ``path`` (else `FileExistsError`, before any work).

    Returns:
        ``path``.

    Raises:
        FileExistsError: If ``path`` exists and not ``overwrite``.
        IsADirectoryError: If ``path`` is a folder.
        OSError: From ``write`` (e.g. ``ENOSPC``); ``path`` is then untouched.
    """
    temp = temporary_path(path, overwrite=overwrite)
    try:
        write(temp)
        return commit(temp, path, overwrite=overwrite)
    finally:
        temp.unlink(missing_ok=True)


@contextlib.contextmanager
def output_lock(folder: str | Path) -> Iterator[Path]:
    """Hold ``folder/.ssrstf.lock`` for the duration of a run writing into ``folder``.

    The lock is an ``flock`` on the file, so the kernel releases it when its process dies (a
    killed run never blocks the next). The file is removed on exit; the inode check after
    locking makes removal safe against a run that opened the file just before.

    Raises:
        OutputLockedError: If another process holds the lock (the message names its pid).
    """
    import fcntl  # POSIX; imported here so the module imports everywhere

    folder = Path(folder)
    created = not folder.exists()
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder}: exists and is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except PermissionError:
        raise PermissionError(f"{folder}: folder is not writable") from None
    lock = folder / LOCK_NAME
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_umask())
        except PermissionError:
            raise PermissionError(f"{folder}: folder is not writable") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = os.read(fd, 64).decode("ascii", "replace").strip() or "?"
            os.close(fd)
            raise OutputLockedError(
                f"{folder}: another ssrstf run (pid {owner}) is writing into this folder; "
                "wait for it to finish or choose another --out"
            ) from None
        try:
            same = os.stat(lock).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the previous holder removed this file after we opened it; try again
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield folder
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)
        os.close(fd)
        if created:  # a run that wrote nothing leaves no trace
            with contextlib.suppress(OSError):
                folder.rmdir()
