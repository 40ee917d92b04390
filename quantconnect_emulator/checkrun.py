"""Run the code check within a time bound, off the server's interpreter when the sources are large.

:func:`quantconnect_emulator.codecheck.check_sources` is linear, but parsing a megabyte of
Python still takes seconds, and :func:`ast.parse` holds the interpreter lock the whole time: a
check in the server's process would stall every other request, the control plane's
``/_emulator/health`` included. So sources larger than ``inline_bytes`` are checked in a child
process (``python -I -S codecheck.py``: the standard library only, no site packages, no
environment), which is killed when the bound passes; the check then ends in a clear build error
instead of an answer that never comes. At most :data:`MAX_CHILDREN` children run at once (a
burst of large compiles queues for them, the wait counting against each one's bound). Small
sources are checked in the calling thread: their parse takes milliseconds.

The caller runs this outside the account's lock, so a long check holds no other request.

Example:
    >>> run_check("Py", {"main.py": "x = 1\\n"}, seconds=5.0, inline_bytes=1024).errors
    []
    >>> big = "x = 1\\n" * 2000
    >>> run_check("Py", {"main.py": big}, seconds=30.0, inline_bytes=0).errors  # in a child
    []
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

from quantconnect_emulator import codecheck
from quantconnect_emulator.codecheck import SourceReport, build_error, check_sources

#: Most checks running in child processes at once.
MAX_CHILDREN = 2
#: Address-space limit of a child (a hostile nesting may make the parser ask for gigabytes).
CHILD_MEMORY_MB = 2048
_SCRIPT = Path(codecheck.__file__).resolve()
_CHILDREN = threading.BoundedSemaphore(MAX_CHILDREN)


def run_check(
    language: str,
    files: dict[str, str],
    *,
    seconds: float,
    inline_bytes: int,
    today: date | None = None,
) -> SourceReport:
    """Check the sources (see the module docstring); a check over ``seconds`` is a build error.

    Args:
        language: ``"Py"`` or ``"C#"``.
        files: File name -> content.
        seconds: The bound, from this call to the child's answer.
        inline_bytes: Sources (of the language) up to this many characters are checked in
            this thread; larger ones in a child process.
        today: See :func:`~quantconnect_emulator.codecheck.check_sources`.
    """
    suffix = ".py" if language == "Py" else ".cs"
    sources = {name: text for name, text in files.items() if name.endswith(suffix)}
    if sum(len(text) for text in sources.values()) <= inline_bytes:
        return check_sources(language, sources, today=today)
    deadline = time.monotonic() + seconds
    first = min(sources, default="main" + suffix)
    if not _CHILDREN.acquire(timeout=seconds):
        return _failed(language, first, _too_slow(seconds))
    try:
        return _in_child(language, sources, first, deadline, seconds, today)
    finally:
        _CHILDREN.release()


def _in_child(
    language: str,
    files: dict[str, str],
    first: str,
    deadline: float,
    seconds: float,
    today: date | None,
) -> SourceReport:
    request = {
        "language": language,
        "files": files,
        "today": today.isoformat() if today else None,
        "memory_mb": CHILD_MEMORY_MB,
    }
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-S", str(_SCRIPT)],
            input=json.dumps(request).encode("ascii"),
            capture_output=True,
            timeout=max(0.0, deadline - time.monotonic()),
            check=False,
        )
    except subprocess.TimeoutExpired:  # run() has killed the child
        return _failed(language, first, _too_slow(seconds))
    if done.returncode != 0:
        out_of_memory = b"MemoryError" in done.stderr
        cause = "ran out of memory" if out_of_memory else f"failed (exit {done.returncode})"
        return _failed(language, first, f"the emulator's code check {cause}")
    return SourceReport.from_dict(json.loads(done.stdout))


def _too_slow(seconds: float) -> str:
    return (
        f"the emulator's code check took longer than {seconds:g} s and was stopped "
        "(sources too large or too deeply nested to check)"
    )


def _failed(language: str, file: str, message: str) -> SourceReport:
    return SourceReport(errors=[build_error(language, file, message)])
