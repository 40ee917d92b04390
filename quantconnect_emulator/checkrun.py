"""Run code checks within a time bound, off the server's interpreter when the sources are large.

:func:`quantconnect_emulator.codecheck.check_sources` is linear, but parsing a megabyte of
Python still takes seconds, and :func:`ast.parse` holds the interpreter lock the whole time: a
check in the server's process would stall every other request, the control plane's
``/_emulator/health`` included. So sources larger than ``inline_bytes`` are checked in a child
process (``python -I -S codecheck.py``: the standard library only, no site packages, no
environment). Small sources are checked in the calling thread: their parse takes milliseconds.

Each emulator has its own :class:`CheckRunner`. Its checks are background work (the compile
job's, as on the service, where ``/compile/create`` answers ``InQueue`` at once): at most
:data:`MAX_CHILDREN` run at once, the others wait in the runner's queue holding no request
thread, and a check's bound starts when it starts, not when it was queued. A child over its
bound is killed by the runner, and also stops itself (``RLIMIT_CPU`` and an alarm from the
bound), so that not even a parent killed outright leaves it running. :meth:`CheckRunner.close`
(``EmulatorServer.stop``) kills the children still running and drops the queued checks.

Example:
    >>> runner = CheckRunner()
    >>> runner.run("Py", {"main.py": "x = 1\\n"}, seconds=5.0, inline_bytes=1024).errors
    []
    >>> big = "x = 1\\n" * 2000
    >>> runner.submit("Py", {"main.py": big}, seconds=30.0, inline_bytes=0).result().errors
    []
    >>> runner.stats()["code_checks_in_child"], runner.child_pids()
    (1, [])
    >>> runner.close()
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

from quantconnect_emulator import codecheck
from quantconnect_emulator.codecheck import SourceReport, build_error, check_sources

#: Most checks running in child processes at once, per emulator.
MAX_CHILDREN = 2
#: Address-space limit of a child (a hostile nesting may make the parser ask for gigabytes).
CHILD_MEMORY_MB = 2048
_SCRIPT = Path(codecheck.__file__).resolve()
STOPPED = "the emulator stopped before the code check ended"


class CheckRunner:
    """The code checks of one emulator: a queue, at most ``max_children`` children at once."""

    def __init__(self, max_children: int = MAX_CHILDREN) -> None:
        self.max_children = max_children
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._children: set[subprocess.Popen[bytes]] = set()
        self._closed = False
        self._in_child = 0

    def submit(
        self,
        language: str,
        files: dict[str, str],
        *,
        seconds: float,
        inline_bytes: int,
        today: date | None = None,
    ) -> Future[SourceReport]:
        """Queue a check (see :meth:`run`); its future holds the report."""
        with self._lock:
            self._closed = False
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.max_children, thread_name_prefix="qc-emulator-check"
                )
            return self._executor.submit(
                self.run, language, files, seconds=seconds, inline_bytes=inline_bytes, today=today
            )

    def run(
        self,
        language: str,
        files: dict[str, str],
        *,
        seconds: float,
        inline_bytes: int,
        today: date | None = None,
    ) -> SourceReport:
        """Check the sources now, in this thread; a check over ``seconds`` is a build error.

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
        first = min(sources, default="main" + suffix)
        request = {
            "language": language,
            "files": sources,
            "today": today.isoformat() if today else None,
            "memory_mb": CHILD_MEMORY_MB,
            "seconds": seconds,
        }
        with self._lock:  # registered under the lock close() takes: no child escapes it
            if self._closed:
                return _failed(language, first, STOPPED)
            child = subprocess.Popen(
                [sys.executable, "-I", "-S", str(_SCRIPT)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            self._children.add(child)
            self._in_child += 1
        try:
            out, err = child.communicate(json.dumps(request).encode("ascii"), timeout=seconds)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            return _failed(language, first, _too_slow(seconds))
        except (OSError, ValueError):  # killed by close() while it was being fed or read
            child.kill()
            child.wait()
            return _failed(language, first, STOPPED)
        finally:
            with self._lock:
                self._children.discard(child)
        if child.returncode != 0:
            if self._closed:
                return _failed(language, first, STOPPED)
            out_of_memory = b"MemoryError" in err
            cause = "ran out of memory" if out_of_memory else f"failed (exit {child.returncode})"
            return _failed(language, first, f"the emulator's code check {cause}")
        return SourceReport.from_dict(json.loads(out))

    def child_pids(self) -> list[int]:
        """The process ids of the children running now."""
        with self._lock:
            return sorted(child.pid for child in self._children)

    def stats(self) -> dict[str, Any]:
        """How many checks ran in a child, and how many children run now."""
        with self._lock:
            return {
                "code_checks_in_child": self._in_child,
                "code_check_children": len(self._children),
            }

    def close(self) -> None:
        """Drop the queued checks and kill (and reap) the children still running."""
        with self._lock:
            self._closed = True
            executor, self._executor = self._executor, None
            children = list(self._children)
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)
        for child in children:
            child.kill()
        for child in children:
            child.wait()


def _too_slow(seconds: float) -> str:
    return (
        f"the emulator's code check took longer than {seconds:g} s and was stopped "
        "(sources too large or too deeply nested to check)"
    )


def _failed(language: str, file: str, message: str) -> SourceReport:
    return SourceReport(errors=[build_error(language, file, message)])
