"""Keeping the log lines of native libraries (MediaPipe, TFLite, absl, glog) off the terminal.

The MediaPipe detector's C++ code writes straight to file descriptor 2: ``INFO: Created
TensorFlow Lite XNNPACK delegate for CPU.``, ``W0000 ... inference_feedback_manager.cc ...``,
``landmark_projection_calculator.cc ...``; they land in the middle of a progress bar. Python's
``logging`` never sees them, and ``GLOG_minloglevel`` / ``TF_CPP_MIN_LOG_LEVEL`` do not stop
them either (mediapipe 0.10.21 logs through absl; measured), so `captured_native_stderr`
points descriptor 2 at a temporary file while the detector is built, runs and is closed, and
restores it afterwards. Python's own ``sys.stderr`` (progress bars, warnings) can keep writing
to the real terminal meanwhile. The captured text is kept for the error message when the
detector fails (`NativeLog.text`, and the ``native_log`` attribute of the exception).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

QUIET_ENVIRONMENT: dict[str, str] = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
"""Log thresholds for glog and TensorFlow, set (unless the user set them) before mediapipe loads."""

LOG_TAIL_CHARS = 4000
"""How much of a captured log (its end) `NativeLog.tail` keeps for error reports."""


def quiet_native_environment() -> None:
    """Set `QUIET_ENVIRONMENT`'s variables that the user has not set (read at library load)."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)


class NativeLog:
    """What the native code wrote to descriptor 2 inside `captured_native_stderr`."""

    def __init__(self) -> None:
        self.text = ""

    def tail(self, chars: int = LOG_TAIL_CHARS) -> str:
        """The last ``chars`` characters of the log, stripped."""
        return self.text[-chars:].strip()


def _is_fd2(stream: object) -> bool:
    """Whether a Python stream writes to descriptor 2 (not e.g. pytest's capture buffer)."""
    try:
        return stream.fileno() == 2  # type: ignore[attr-defined]
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return False


@contextlib.contextmanager
def captured_native_stderr(
    *, enabled: bool = True, keep_python_stderr: bool = True
) -> Iterator[NativeLog]:
    """Redirect descriptor 2 to a temporary file for the duration of the block.

    Nests: an inner block captures into its own file and hands the descriptor back to the outer
    block's file on exit. Not thread-safe in the sense that every thread's writes to descriptor
    2 are captured meanwhile (which is the point for the detector's own threads).

    Args:
        enabled: False: do nothing (``--verbose``), yield an empty log.
        keep_python_stderr: While captured, point ``sys.stderr`` at the real descriptor 2, so
            progress bars and Python warnings still reach the terminal; False captures them too.

    Yields:
        The `NativeLog`, filled when the block ends. An exception leaving the block gets the
        captured text as its ``native_log`` attribute (when it has none yet).
    """
    log = NativeLog()
    if not enabled:
        yield log
        return
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        python_stderr = sys.stderr
        replacement = None
        try:
            os.dup2(capture.fileno(), 2)
            if keep_python_stderr and _is_fd2(python_stderr):
                raw = io.FileIO(saved, "w", closefd=False)
                replacement = io.TextIOWrapper(
                    raw, encoding=getattr(python_stderr, "encoding", None) or "utf-8",
                    errors="backslashreplace", line_buffering=True, write_through=True,
                )  # fmt: skip
                sys.stderr = replacement
            try:
                yield log
            except Exception as exc:
                log.text = _read(capture)
                _attach(exc, log)
                raise
        finally:
            if replacement is not None:
                with contextlib.suppress(Exception):
                    replacement.flush()
                sys.stderr = python_stderr
                replacement.detach()
            os.dup2(saved, 2)
            os.close(saved)
            if not log.text:
                log.text = _read(capture)


def _attach(exc: Exception, log: NativeLog) -> None:
    """Give ``exc`` the captured text (``native_log``, and a note shown in tracebacks)."""
    if not log.text.strip() or getattr(exc, "native_log", None) is not None:
        return
    with contextlib.suppress(AttributeError, TypeError):
        exc.native_log = log.tail()  # type: ignore[attr-defined]
        if hasattr(exc, "add_note"):  # Python >= 3.11
            exc.add_note(f"native log (stderr while it ran):\n{log.tail()}")


def _read(capture: IO[bytes]) -> str:
    capture.flush()
    capture.seek(0)
    return capture.read().decode("utf-8", "replace")
