"""When a task is retried: only for failures a retry can cure.

Example:
    >>> from prefect import task
    >>> @task(**api_task_options())
    ... def read_something(): ...
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State, TaskRun
from prefect.logging import get_logger
from prefect.tasks import Task, exponential_backoff

from quantconnect_client import is_retryable

T = TypeVar("T", bound=Task[..., Any])

#: Task-level retries, on top of the client's own quick retries inside one task attempt.
DEFAULT_TASK_RETRIES = 2
#: The most task-level retries a run may ask for.
MAX_TASK_RETRIES = 5
#: Base of the exponential backoff between task attempts (2 s, 4 s, ...), jittered by half.
DEFAULT_RETRY_DELAY_SECONDS = 2.0
#: The longest base delay a run may ask for.
MAX_RETRY_DELAY_SECONDS = 300.0
RETRY_JITTER_FACTOR = 0.5
#: A task attempt may not take longer than this (HTTP timeouts end blocked I/O well before).
TASK_TIMEOUT_SECONDS = 300.0


def retry_only_transient_errors(task: Task[..., Any], task_run: TaskRun, state: State) -> bool:
    """``retry_condition_fn``: retry transient API errors; never auth, rejected, not found or
    validation errors, which would fail again the same way."""
    error = state.data
    if not isinstance(error, BaseException):
        # A persisted failure: load it synchronously, whichever engine (sync or async) asks.
        error = state.result(raise_on_failure=False, _sync=True)  # type: ignore[call-overload]
    if not (isinstance(error, BaseException) and is_retryable(error)):
        return False
    retry_after = getattr(error, "retry_after", None)
    if retry_after is not None and retry_after > _longest_delay(task):
        # Retrying sooner than the service asked would only be refused again.
        get_logger("tasks.retries").warning(
            "Not retrying %s: QuantConnect asked to wait %g s, longer than this task's "
            "retry delays allow.",
            task.name,
            retry_after,
        )
        return False
    return True


def _longest_delay(task: Task[..., Any]) -> float:
    delays = task.retry_delay_seconds
    if isinstance(delays, (int, float)):
        return float(delays)
    return float(max(delays, default=0))


def retry_options(
    retries: int = DEFAULT_TASK_RETRIES,
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS,
) -> dict[str, Any]:
    """The retry part of the API options: how often, how long between, and only if transient."""
    return {
        "retries": retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=retry_delay_seconds)(retries)
        if retries
        else 0,
        "retry_jitter_factor": RETRY_JITTER_FACTOR,
        "retry_condition_fn": retry_only_transient_errors,
    }


def api_task_options(
    retries: int = DEFAULT_TASK_RETRIES,
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS,
) -> dict[str, Any]:
    """Options shared by every task that calls the API.

    Caching is off: a block's secret is masked before hashing, so a cache would confuse two
    tokens, and API calls must run each time anyway.
    """
    return {
        **retry_options(retries, retry_delay_seconds),
        "cache_policy": NO_CACHE,
        "timeout_seconds": TASK_TIMEOUT_SECONDS,
    }


@lru_cache(maxsize=256)
def _with_api_retries(
    task: Task[..., Any], retries: int, retry_delay_seconds: float
) -> Task[..., Any]:
    # Only the retries change: the task keeps its own timeout and cache policy (the batch
    # tasks have no timeout on purpose).
    return task.with_options(**retry_options(retries, retry_delay_seconds))


def with_api_retries(
    task: T,
    retries: int = DEFAULT_TASK_RETRIES,
    retry_delay_seconds: float = DEFAULT_RETRY_DELAY_SECONDS,
) -> T:
    """``task`` (one of this package's) with these retries, built once per combination; its
    other options stay as its decorator set them.

    ``Task.with_options`` re-reads the task's source file (``inspect.getsource``) to derive the
    task key: a few milliseconds per call, paid on every step of every run without this cache.

    Example:
        >>> from tasks import read_project
        >>> with_api_retries(read_project, 3, 1.0) is with_api_retries(read_project, 3, 1.0)
        True
    """
    variant: T = _with_api_retries(task, retries, float(retry_delay_seconds))  # type: ignore[assignment]
    return variant
