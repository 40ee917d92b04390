"""``/backtests/*``: start, read, list, rename, delete backtests; charts, orders; and the wait.

Example:
    >>> backtest = client.backtests.create(pid, cid, "SMA", {"fast": 10})  # doctest: +SKIP
    >>> done = client.backtests.wait(pid, backtest.backtest_id, timeout=900)  # doctest: +SKIP
    >>> done.statistics.number("Sharpe Ratio")  # doctest: +SKIP
    0.19
"""

from __future__ import annotations

import builtins
import logging
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from .backtest_models import Backtest, BacktestSummary, Chart, Order
from .errors import (
    BacktestResultsIncompleteError,
    BacktestRuntimeError,
    NoNodeAvailableError,
    NotFoundError,
    RequestRejectedError,
    TransientError,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from .excerpt import MAX_MESSAGE_EXCERPT_CHARACTERS, excerpt
from .models import WireModel, lenient_items, parse
from .projects import CLOCK_TOLERANCE
from .retry import poll
from .schedules import ProgressSchedule
from .validation import (
    validate_backtest_name,
    validate_id,
    validate_job_id,
    validate_parameters,
)

if TYPE_CHECKING:
    from .client import QuantConnectClient

logger = logging.getLogger("quantconnect_client")

#: The service takes order pages with ``end - start < 100``.
ORDERS_PAGE = 99
#: ``Compile id not found`` right after a compile finished: the compile is not visible to the
#: backtest service yet. Retried as transient, no sooner than this.
COMPILE_NOT_VISIBLE_RETRY_SECONDS = 1.0
_COMPILE_NOT_FOUND = re.compile(r"compile\s*id\s*not\s*found", re.IGNORECASE)
_NO_NODE = re.compile(
    r"no\s+(?:\w+\s+)?(?:backtest(?:ing)?\s+)?nodes?\s+(?:is\s+|are\s+)?"
    r"(?:free|idle|available)|(?:all|every)\s+(?:\w+\s+)?nodes?\s+(?:are\s+)?busy|"
    r"no\s+(?:free|idle|available)\s+(?:backtest(?:ing)?\s+)?nodes?",
    re.IGNORECASE,
)
#: Chart answers while the chart is being built are retried: LEAN's client waits up to a minute.
CHART_SCHEDULE = (1.0, 2.0, 3.0, 5.0)


class _BacktestEnvelope(WireModel):
    backtest: Backtest | None = None
    debugging: bool | None = None


class _BacktestList(WireModel):
    essential = frozenset({"backtests"})

    backtests: list[BacktestSummary] = Field(default_factory=list)
    count: int | None = None

    @field_validator("backtests", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[BacktestSummary]:
        return lenient_items(value, BacktestSummary, "backtests")


class _ChartAnswer(WireModel):
    chart: Chart | None = None
    status: str | None = None
    progress: float | None = None

    @property
    def loading(self) -> bool:
        return self.chart is None and (self.status or "").lower() == "loading"


class _OrderList(WireModel):
    essential = frozenset({"orders"})

    orders: list[Order] = Field(default_factory=list)
    length: int | None = None

    @field_validator("orders", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[Order]:
        return lenient_items(value, Order, "orders")


class BacktestsAPI:
    """Backtest operations; reached as ``client.backtests``."""

    def __init__(self, client: QuantConnectClient) -> None:
        self._client = client

    # ------------------------------------------------------------------------------ create

    def create(
        self,
        project_id: int,
        compile_id: str,
        name: str,
        parameters: dict[str, str | int | float] | None = None,
        *,
        retry_no_node: bool = True,
    ) -> Backtest:
        """Start a backtest of a compiled project; safe to retry.

        If an attempt's answer is lost, the backtest may be running already: before sending
        again, the client lists the project's backtests and adopts one with this exact name
        created since the call began, so a lost answer never starts a second backtest (give
        concurrent backtests of one project distinct names). ``Compile id not found`` right
        after a compile is retried briefly; a refusal for lack of a free node is
        :class:`NoNodeAvailableError` (retryable).

        Args:
            project_id: The project.
            compile_id: A finished compile (:meth:`CompilesAPI.wait`).
            name: The backtest's name.
            parameters: Name to text or number (no bools, lists or nested objects).
            retry_no_node: Retry a refusal for lack of a free node like any transient failure
                (the default); False raises it at the first refusal, for a caller that
                resubmits when one of its own backtests frees a node.

        Raises:
            ValidationError: A bad id, name or parameter (nothing is sent).
            NoNodeAvailableError: No backtest node free (the service refused, nothing started).
            RequestRejectedError: Another refusal, with the service's words.
        """
        validate_id(project_id)
        validate_job_id(compile_id, "compileId")
        validate_backtest_name(name)
        checked = validate_parameters(parameters)
        payload: dict[str, Any] = {
            "projectId": project_id,
            "compileId": compile_id,
            "backtestName": name,
        }
        if checked:
            payload["parameters"] = checked
        started = self._client.service_now() - CLOCK_TOLERANCE

        def attempt() -> Backtest:
            try:
                body = self._client.post("/backtests/create", payload)
            except RequestRejectedError as error:
                raise _typed_refusal(error) from None
            backtest = parse(_BacktestEnvelope, body, "/backtests/create").backtest
            if backtest is None:
                raise UnexpectedResponseError(
                    "The create answer holds no backtest", endpoint="/backtests/create"
                )
            return backtest

        return self._client.with_retries(
            "/backtests/create",
            attempt,
            reconcile=lambda: self._created_since(project_id, name, started),
            raise_at_once=() if retry_no_node else (NoNodeAvailableError,),
        )

    def _created_since(self, project_id: int, name: str, since: datetime) -> Backtest | None:
        candidates = [
            b
            for b in self.list(project_id)
            if b.name == name and (b.created is None or b.created >= since)
        ]
        if not candidates:
            return None
        newest = max(candidates, key=lambda b: (b.created or since, b.backtest_id))
        return self.read(project_id, newest.backtest_id)

    # --------------------------------------------------------------------------- the rest

    def read(self, project_id: int, backtest_id: str) -> Backtest:
        """Read a backtest (while it runs, its statistics are placeholders: see
        :meth:`wait`).

        Raises:
            NotFoundError: No such project or backtest (for example, it was deleted).
            UnexpectedResponseError: The answer is about another backtest, or none.
        """
        validate_id(project_id)
        validate_job_id(backtest_id, "backtestId")
        body = self._client.call(
            "/backtests/read", {"projectId": project_id, "backtestId": backtest_id}
        )
        backtest = parse(_BacktestEnvelope, body, "/backtests/read").backtest
        if backtest is None or backtest.backtest_id != backtest_id:
            raise UnexpectedResponseError(
                f"Asked for backtest {backtest_id}, got "
                f"{backtest.backtest_id if backtest else 'none'}",
                endpoint="/backtests/read",
            )
        return backtest

    def list(self, project_id: int, include_statistics: bool = False) -> list[BacktestSummary]:
        """The project's backtests (running ones included), with their headline numbers if
        ``include_statistics``."""
        validate_id(project_id)
        body = self._client.call(
            "/backtests/list",
            {"projectId": project_id, "includeStatistics": bool(include_statistics)},
        )
        return parse(_BacktestList, body, "/backtests/list").backtests

    def update(
        self,
        project_id: int,
        backtest_id: str,
        *,
        name: str | None = None,
        note: str | None = None,
    ) -> None:
        """Rename a backtest and/or set its note (idempotent; works while it runs)."""
        validate_id(project_id)
        validate_job_id(backtest_id, "backtestId")
        if name is None and note is None:
            raise ValueError("update() needs a name or a note")
        payload: dict[str, Any] = {"projectId": project_id, "backtestId": backtest_id}
        if name is not None:
            payload["name"] = validate_backtest_name(name)
        if note is not None:
            payload["note"] = note
        self._client.call("/backtests/update", payload)

    def delete(self, project_id: int, backtest_id: str) -> None:
        """Delete a backtest, stopping it if it runs (the only way to free its node).

        Safe to retry: after a lost answer, a backtest that no longer reads counts as deleted.

        Raises:
            NotFoundError: No such backtest in the first place.
        """
        validate_id(project_id)
        validate_job_id(backtest_id, "backtestId")
        payload = {"projectId": project_id, "backtestId": backtest_id}

        def attempt() -> bool:
            self._client.post("/backtests/delete", payload)
            return True

        def already_deleted() -> bool | None:
            try:
                self.read(project_id, backtest_id)
            except NotFoundError:
                return True
            return None

        self._client.with_retries("/backtests/delete", attempt, reconcile=already_deleted)

    def chart(
        self,
        project_id: int,
        backtest_id: str,
        name: str,
        *,
        count: int | None = None,
        start: int | None = None,
        end: int | None = None,
        timeout: float = 60.0,
    ) -> Chart:
        """Read one chart with its series, waiting while the service builds it
        (``{"status": "loading"}`` answers are read again, up to ``timeout`` seconds).

        Args:
            project_id: The project.
            backtest_id: The backtest.
            name: The chart, e.g. ``"Strategy Equity"``.
            count: Points wanted per series.
            start: From this Unix time (seconds).
            end: Up to this Unix time.
            timeout: Seconds to wait for a chart being built.

        Raises:
            WaitTimeoutError: Still loading at the deadline.
            NotFoundError: No such backtest or chart.
        """
        validate_id(project_id)
        validate_job_id(backtest_id, "backtestId")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("chart() needs a chart name")
        payload: dict[str, Any] = {
            "projectId": project_id,
            "backtestId": backtest_id,
            "name": name,
        }
        for key, value in (("count", count), ("start", start), ("end", end)):
            if value is not None:
                payload[key] = validate_id(value, key) if key == "count" else int(value)

        def read() -> _ChartAnswer:
            body = self._client.call("/backtests/chart/read", payload)
            return parse(_ChartAnswer, body, "/backtests/chart/read")

        answer = poll(
            read,
            done=lambda a: not a.loading,
            schedule=CHART_SCHEDULE,
            timeout=timeout,
            what=f"chart {name!r} of backtest {backtest_id}",
            policy=self._client.retry,
            on_retry=self._client.count_retry,
        )
        if answer.chart is None:
            raise UnexpectedResponseError(
                f"The chart answer holds no chart (status {answer.status!r})",
                endpoint="/backtests/chart/read",
            )
        return answer.chart

    def orders(
        self, project_id: int, backtest_id: str, start: int = 0, end: int = 100
    ) -> builtins.list[Order]:
        """Orders ``start`` (zero-based) up to ``end`` (exclusive), read in pages of fewer
        than 100 as the service requires; stops early when the orders run out."""
        validate_id(project_id)
        validate_job_id(backtest_id, "backtestId")
        for value, what in ((start, "start"), (end, "end")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{what} must be a non-negative integer")
        if end <= start:
            raise ValueError("orders() needs start < end")
        orders: builtins.list[Order] = []
        for page_start in range(start, end, ORDERS_PAGE):
            page_end = min(end, page_start + ORDERS_PAGE)
            body = self._client.call(
                "/backtests/orders/read",
                {
                    "projectId": project_id,
                    "backtestId": backtest_id,
                    "start": page_start,
                    "end": page_end,
                },
            )
            page = parse(_OrderList, body, "/backtests/orders/read").orders
            orders += page
            if len(page) < page_end - page_start:
                break
        return orders

    # ---------------------------------------------------------------------------- the wait

    def wait(
        self,
        project_id: int,
        backtest_id: str,
        *,
        timeout: float = 3600.0,
        on_progress: Callable[[Backtest], None] | None = None,
        settle_timeout: float = 60.0,
        schedule: ProgressSchedule | None = None,
    ) -> Backtest:
        """Read the backtest until its results are final, and return them.

        Final means the contract's rule: ``error``/``stacktrace`` set (raised as
        :class:`BacktestRuntimeError`), or completed with statistics and runtime statistics and
        then ``totalPerformance`` filled in. The placeholder statistics of a running backtest
        are never returned. Reads follow :class:`ProgressSchedule`: from the progress rate it
        reads again about when the backtest should be done, so a finished one is noticed within
        about a second with few reads.

        Args:
            project_id: The project.
            backtest_id: The backtest.
            timeout: Seconds to wait in all.
            on_progress: Called with every backtest read (its failures are only logged).
            settle_timeout: Once completed, how long to wait for ``totalPerformance``.
            schedule: The read schedule (default: a new :class:`ProgressSchedule`).

        Raises:
            BacktestRuntimeError: The algorithm failed (``.error``, ``.stacktrace``,
                ``.during_initialization``). Permanent.
            BacktestResultsIncompleteError: Results not final by the deadline (still running,
                or completed without ``totalPerformance`` within ``settle_timeout``).
            NotFoundError: The backtest is gone (deleted).
        """
        validate_id(project_id)
        validate_job_id(backtest_id, "backtestId")
        pace = schedule or ProgressSchedule()
        completed_at: list[float] = []  # when a read first showed it completed

        def final(backtest: Backtest) -> bool:
            if backtest.failed or backtest.results_ready:
                return True
            if backtest.completed:
                completed_at[:] = completed_at or [time.monotonic()]
                return time.monotonic() - completed_at[0] >= settle_timeout
            return False

        try:
            backtest = poll(
                lambda: self.read(project_id, backtest_id),
                done=final,
                schedule=pace,
                timeout=timeout,
                on_progress=on_progress,
                what=f"backtest {backtest_id}",
                policy=self._client.retry,
                on_retry=self._client.count_retry,
            )
        except WaitTimeoutError as error:
            last = error.last if isinstance(error.last, Backtest) else None
            raise self._incomplete(backtest_id, last, error.reads, error.elapsed) from None
        if not backtest.failed and not backtest.results_ready:
            raise self._incomplete(backtest_id, backtest, 0, 0.0)
        if backtest.failed:
            raise BacktestRuntimeError(
                f"Backtest {backtest_id} failed"
                + (" during initialization" if backtest.during_initialization else "")
                + ": "
                + excerpt(str(backtest.error or backtest.status), MAX_MESSAGE_EXCERPT_CHARACTERS,
                          whole="BacktestRuntimeError.error"),
                endpoint="/backtests/read",
                backtest_id=backtest_id,
                error=backtest.error,
                stacktrace=backtest.stacktrace,
                during_initialization=backtest.during_initialization,
                backtest=backtest,
            )
        return backtest

    @staticmethod
    def _incomplete(
        backtest_id: str, last: Backtest | None, reads: int, elapsed: float
    ) -> BacktestResultsIncompleteError:
        state = (
            "completed, but its final results (totalPerformance) did not arrive"
            if last is not None and last.completed
            else f"still running ({last.progress:.0%}, {last.status!r})"
            if last is not None
            else "never read"
        )
        return BacktestResultsIncompleteError(
            f"Backtest {backtest_id}: no final results by the deadline; it was {state}. "
            "Its statistics so far are not results.",
            endpoint="/backtests/read",
            last=last,
            reads=reads,
            elapsed=elapsed,
        )


def _typed_refusal(error: RequestRejectedError) -> Exception:
    """The create refusals a retry can cure, as transient errors (the request was not
    applied, so nothing needs reconciling)."""
    text = "; ".join(error.service_errors) or error.message
    if _NO_NODE.search(text):
        return NoNodeAvailableError(
            f"No backtest node is free: {text}",
            endpoint=error.endpoint,
            status_code=error.status_code,
            service_errors=error.service_errors,
            request_sent=False,
        )
    if _COMPILE_NOT_FOUND.search(text):
        return TransientError(
            f"{text} (right after a compile the service may not see it yet; retried)",
            endpoint=error.endpoint,
            status_code=error.status_code,
            service_errors=error.service_errors,
            retry_after=COMPILE_NOT_VISIBLE_RETRY_SECONDS,
            request_sent=False,
        )
    return error


__all__ = ["BacktestsAPI"]
