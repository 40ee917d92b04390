"""``/compile/*``: compile a project, read the compile, and wait for its outcome.

Example:
    >>> compiled = client.compiles.create(project_id)  # doctest: +SKIP
    >>> client.compiles.wait(project_id, compiled.compile_id).state  # doctest: +SKIP
    'BuildSuccess'
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from .errors import BuildError, BuildLogEntry, UnexpectedResponseError
from .excerpt import MAX_MESSAGE_EXCERPT_CHARACTERS, excerpt
from .models.base import parse
from .models.compiles import Compile
from .polling import poll
from .requester import Requester
from .validation import validate_id, validate_job_id

#: Reads of a compile: a compile takes about a second, so look every quarter of a second for
#: the first one and a half (a pipeline's first backtest waits on the read that sees it done),
#: then back off.
COMPILE_SCHEDULE = (0.25, 0.25, 0.25, 0.25, 0.25, 0.25, 0.5, 1.0, 1.0, 2.0)

#: ``Build Error File: main.py Line 3 Column 5 - invalid syntax`` (Python, as the lean CLI's
#: compiler writes it), ``error: Main.cs Line 3 Column 5 - ...`` (C#), and the cloud's
#: ``Build Error File: Main.cs Line:1 Column:25 - } expected`` (a colon, no space: seen once in
#: public, unconfirmed), so ``Line``/``Column`` may be followed by a colon and any spaces.
_LOG_ENTRY = re.compile(
    r"(?:Build Error File:|error:)\s*(?P<file>.+?)\s+Line\s*:?\s*(?P<line>\d+)"
    r"(?:\s*,?\s*Column\s*:?\s*(?P<column>\d+))?\s*-\s*(?P<message>.*)",
    re.IGNORECASE,
)


def read_build_log(logs: Sequence[str]) -> list[BuildLogEntry]:
    """The error lines of a build log, read as file, line, column and message.

    Lines in no known format that mention an error are kept with only their text; every
    entry keeps its line verbatim in ``text``.

    Example:
        >>> [str(e) for e in read_build_log(
        ...     ["Build Error File: main.py Line 3 Column 5 - invalid syntax", "done",
        ...      "Build Error File: Main.cs Line:1 Column:25 - } expected"])]
        ['main.py:3:5: invalid syntax', 'Main.cs:1:25: } expected']
    """
    entries: list[BuildLogEntry] = []
    for text in logs:
        match = _LOG_ENTRY.search(text)
        if match:
            column = match.group("column")
            entries.append(
                BuildLogEntry(
                    file=match.group("file").strip(),
                    line=int(match.group("line")),
                    column=int(column) if column else None,
                    message=match.group("message").strip(),
                    text=text,
                )
            )
        elif "error" in text.lower():
            entries.append(BuildLogEntry(None, None, None, text.strip(), text))
    return entries


class CompilesAPI:
    """Compile operations; reached as ``client.compiles``."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    def create(self, project_id: int) -> Compile:
        """Start compiling a project (the answer's state is ``InQueue``).

        Retried freely: a compile changes nothing but makes a new compile id, so a second one
        after a lost answer costs only a little build time.
        """
        validate_id(project_id)
        body = self._client.call("/compile/create", {"projectId": project_id})
        return parse(Compile, body, "/compile/create")

    def read(self, project_id: int, compile_id: str) -> Compile:
        """Read a compile's state and logs.

        Raises:
            NotFoundError: No such project or compile.
            UnexpectedResponseError: The answer is about another compile.
        """
        validate_id(project_id)
        validate_job_id(compile_id, "compileId")
        body = self._client.call(
            "/compile/read", {"projectId": project_id, "compileId": compile_id}
        )
        compiled = parse(Compile, body, "/compile/read")
        if compiled.compile_id != compile_id:
            raise UnexpectedResponseError(
                f"Asked for compile {compile_id}, got {compiled.compile_id}",
                endpoint="/compile/read",
            )
        return compiled

    def wait(
        self,
        project_id: int,
        compile_id: str,
        *,
        timeout: float = 120.0,
        on_progress: Callable[[Compile], None] | None = None,
    ) -> Compile:
        """Read the compile until it has an outcome.

        Args:
            project_id: The project compiled.
            compile_id: The compile, from :meth:`create`.
            timeout: Seconds to wait in all.
            on_progress: Called with every compile read.

        Returns:
            The compile, in ``BuildSuccess``.

        Raises:
            BuildError: The build failed; ``.logs`` has the log, ``.entries`` the errors by
                file and line. Permanent.
            WaitTimeoutError: Still in the queue at the deadline.
        """
        validate_id(project_id)
        validate_job_id(compile_id, "compileId")
        compiled = poll(
            lambda: self.read(project_id, compile_id),
            done=lambda c: c.done,
            schedule=COMPILE_SCHEDULE,
            timeout=timeout,
            on_progress=on_progress,
            what=f"compile {compile_id}",
            policy=self._client.retry,
            on_retry=self._client.count_retry,
        )
        if compiled.succeeded:
            return compiled
        entries = read_build_log(compiled.logs)
        shown = excerpt(
            "; ".join(str(e) for e in entries[:5]) or "; ".join(compiled.logs[-3:]),
            MAX_MESSAGE_EXCERPT_CHARACTERS,
            whole="BuildError.logs",
        )
        raise BuildError(
            f"Project {project_id} did not compile ({compiled.state}): {shown or 'no log'}",
            endpoint="/compile/read",
            compile_id=compile_id,
            logs=compiled.logs,
            entries=entries,
        )


__all__ = ["CompilesAPI", "read_build_log"]
