"""Safe file output: atomic writes and output-folder locks (a leaf module: no ssrstf imports).

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
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_NAME = ".ssrstf.lock"
"""The lock file `output_lock` keeps in a folder while a run writes into it."""


class OutputLockedError(RuntimeError):
    """Another process holds the output folder's lock."""


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


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(temp: str | Path, path: str | Path, *, overwrite: bool = True) -> Path:
    """Move a finished temporary file to ``path`` (flushed to disk first).

    Without ``overwrite`` the move is a hard link, which fails when ``path`` appeared meanwhile
    (another process), so an existing file is never replaced.
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
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise NotADirectoryError(f"{folder} exists and is not a folder") from None
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
