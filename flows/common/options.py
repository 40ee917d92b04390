"""What every flow's form shares: task retries, the temporary prefix, finite numbers, batch limits.

Flow parameters are pydantic models: the Prefect UI renders them as forms with help text and
rejects invalid values before a run is created."""

from __future__ import annotations

import sys
from typing import Annotated, Any, TypeVar, cast

if sys.version_info >= (3, 11):
    from typing import TypeVarTuple, Unpack
else:  # Python 3.10: pydantic's own dependency carries them
    from typing_extensions import TypeVarTuple, Unpack

from prefect import Task
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from quantconnect_client.validation import validate_project_name
from tasks.retries import (
    DEFAULT_RETRY_DELAY_SECONDS,
    DEFAULT_TASK_RETRIES,
    MAX_RETRY_DELAY_SECONDS,
    MAX_TASK_RETRIES,
    with_api_retries,
)

#: Temporary projects are named ``<prefix><flow run id>``; the sweeper finds them by both.
DEFAULT_TEMPORARY_PREFIX = "prefect-tmp-"
#: Projects per batch task run (one table row each).
DEFAULT_BATCH_SIZE = 100
#: The most requests in flight a run may ask for (the account's quota).
MAX_CONCURRENCY = 32
T = TypeVar("T", bound=Task[..., Any])
Ts = TypeVarTuple("Ts")
_PREFIX_PATTERN = r"^[A-Za-z0-9_\-/ ]*[A-Za-z0-9_\-]$"
_SEPARATORS = "-_/"


def _check_prefix(prefix: str) -> str:
    # A marker, not a word: short or separator-less prefixes would match a user's own names.
    if not any(separator in prefix for separator in _SEPARATORS):
        raise ValueError(
            f"a temporary prefix must hold a separator ({' '.join(_SEPARATORS)}), "
            "e.g. 'prefect-tmp-', so that it marks names only the temporary flows make"
        )
    # The prefix plus a run id must make a valid project name.
    validate_project_name(prefix + "0")
    return prefix


#: A temporary-project name prefix: at least 4 characters with a separator, checked like a
#: project name (``ValidationError`` is a ``ValueError``, so pydantic reports a field error).
TemporaryPrefix = Annotated[
    str,
    Field(min_length=4, max_length=60, pattern=_PREFIX_PATTERN),
    AfterValidator(_check_prefix),
]


#: A number a form takes: finite. pydantic refuses NaN and infinities (as numbers or as text,
#: ``"NaN"``), which compare false with everything and so would pass any check; the bounds put
#: the same rule in the JSON schema for a server enforcing it (JSON itself has no NaN).
FiniteFloat = Annotated[
    float, Field(allow_inf_nan=False, ge=-sys.float_info.max, le=sys.float_info.max)
]


class RetryOptions(BaseModel):
    """How Prefect retries a task after the client's own quick retries gave up."""

    model_config = ConfigDict(extra="forbid")

    task_retries: int = Field(
        default=DEFAULT_TASK_RETRIES,
        ge=0,
        le=MAX_TASK_RETRIES,
        description="Task-level retries for transient API failures.",
    )
    retry_delay_seconds: float = Field(
        default=DEFAULT_RETRY_DELAY_SECONDS,
        ge=0,
        le=MAX_RETRY_DELAY_SECONDS,
        description="Base of the exponential backoff between task retries (jittered).",
    )

    def apply(self, task: T) -> T:
        """``task`` with these retries (a cached variant: building one costs milliseconds).

        Example:
            >>> from tasks import read_project
            >>> RetryOptions(task_retries=0).apply(read_project).retries
            0
        """
        return with_api_retries(task, self.task_retries, self.retry_delay_seconds)

    def bind(self, *tasks: Unpack[Ts]) -> tuple[Unpack[Ts]]:
        """The tasks a run uses, each with these retries, in the order given: a run binds them
        once, then calls them as they are (``await read(creds, pid)``).

        Raises:
            TypeError: Something that is not a Prefect task (before any run).

        Example:
            >>> from tasks import list_projects, read_project
            >>> listing, read = RetryOptions(task_retries=0).bind(list_projects, read_project)
            >>> listing.retries, read.retries, read.name
            (0, 0, 'read-project')
        """
        bound: list[Task[..., Any]] = []
        for task in tasks:
            if not isinstance(task, Task):
                raise TypeError(f"bind() takes Prefect tasks, got {type(task).__name__}")
            bound.append(self.apply(task))
        # Each task keeps its type: apply() returns the task it is given, with other options.
        return cast("tuple[Unpack[Ts]]", tuple(bound))
