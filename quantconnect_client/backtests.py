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
from datetime import datetime, timezone
from typing import Any

from .auth import CLOCK_TOLERANCE
from .errors import (
    BacktestResultsIncompleteError,
    BacktestRuntimeError,
    NoNodeAvailableError,
    NotFoundError,
    QuantConnectError,
    RequestRejectedError,
    TransientError,
    UnexpectedResponseError,
    WaitTimeoutError,
)
from .excerpt import MAX_MESSAGE_EXCERPT_CHARACTERS, excerpt
from .models.backtests import (
    INSIGHTS_PAGE,
    Backtest,
    BacktestEnvelope,
    BacktestList,
    BacktestSummary,
    Chart,
    ChartAnswer,
    Insight,
    InsightList,
    Order,
    OrderList,
)
from .models.base import parse
from .models.nodes import ProjectNodes
from .parameters import BacktestParameters, lean_parameters
from .polling import poll
from .requester import Requester
from .schedules import ProgressSchedule
from .validation import (
    validate_backtest_name,
    validate_id,
    validate_job_id,
)

logger = logging.getLogger("quantconnect_client")

#: The widest page of orders: the live service takes ``end - start`` up to 100 (``0..100``, the
#: page LEAN's own client asks for) and refuses 200.
ORDERS_PAGE = 100
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
#: Points per series a chart request asks for unless told otherwise (LEAN's client: 100).
CHART_COUNT = 100
DAY_SECONDS = 86_400
#: Added to a chart request's end: LEAN stamps samples at exchange-local times, up to a day
#: either side of UTC, so the period's last samples are not cut off.
CHART_END_MARGIN_SECONDS = 2 * DAY_SECONDS


def runtime_error(backtest: Backtest) -> BacktestRuntimeError:
    """The error that a failed backtest (:attr:`Backtest.failed`) is raised as.

    Args:
        backtest: A failed backtest, as read.

    Returns:
        A :class:`BacktestRuntimeError` naming an excerpt of the algorithm's error.

    Example:
        >>> str(runtime_error(Backtest.model_validate(
        ...     {"backtestId": "a" * 32, "status": "Runtime Error", "error": "boom"})))
        'Backtest aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa failed: boom [/backtests/read]'
    """
    return BacktestRuntimeError(
        f"Backtest {backtest.backtest_id} failed"
        + (" during initialization" if backtest.during_initialization else "")
        + ": "
        + excerpt(str(backtest.error or backtest.status), MAX_MESSAGE_EXCERPT_CHARACTERS,
                  whole="BacktestRuntimeError.error"),
        endpoint="/backtests/read",
        backtest_id=backtest.backtest_id,
        error=backtest.error,
        stacktrace=backtest.stacktrace,
        during_initialization=backtest.during_initialization,
        backtest=backtest,
    )


class BacktestsAPI:
    """Backtest operations; reached as ``client.backtests``."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    # ------------------------------------------------------------------------------ create

    def create(
        self,
        project_id: int,
        compile_id: str,
        name: str,
        parameters: BacktestParameters | None = None,
        *,
        retry_no_node: bool = True,
    ) -> Backtest:
        """Start a backtest of a compiled project; safe to retry.

        If an attempt's answer is lost, the backtest may be running already: before sending
        again, the client looks it up (:meth:`find_created_since`, from the call's start) and
        adopts it, so a lost answer never starts a second backtest (give
        concurrent backtests of one project distinct names). ``Compile id not found`` right
        after a compile is retried briefly; a refusal for lack of a free node is
        :class:`NoNodeAvailableError` (retryable).

        Args:
            project_id: The project.
            compile_id: A finished compile (:meth:`CompilesAPI.wait`).
            name: The backtest's name.
            parameters: Name to text or number (no bools, lists or nested objects); sent as
                the text LEAN gives the algorithm (:func:`~quantconnect_client.parameters.
                lean_text`: ``10``, ``10.0`` and ``"10"`` are all sent as ``"10"``).
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
        checked = lean_parameters(parameters)
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
                raise self._typed_refusal(project_id, error) from None
            backtest = parse(BacktestEnvelope, body, "/backtests/create").backtest
            if backtest is None:
                raise UnexpectedResponseError(
                    "The create answer holds no backtest with a usable backtestId ("
                    + _arrived(body.get("backtest"), "backtestId")
                    + "); a backtest may have started all the same: it is not sent again",
                    endpoint="/backtests/create",
                )
            return backtest

        return self._client.with_retries(
            "/backtests/create",
            attempt,
            reconcile=lambda: self.find_created_since(project_id, name, started),
            raise_at_once=() if retry_no_node else (NoNodeAvailableError,),
        )

    def _typed_refusal(self, project_id: int, error: RequestRejectedError) -> Exception:
        """The create refusals a retry can cure, as transient errors (the request was not
        applied, so nothing needs reconciling).

        The service's words for "no node is free" are unconfirmed (the emulator's are its
        own), so they are never relied on alone: the project's nodes are read, and the refusal
        is :class:`NoNodeAvailableError` when every backtest node is busy, whatever its words.
        Words that say so while a node is free are a plain transient error (sent again: the
        node came free meanwhile); only when the nodes cannot be read do the words decide.
        """
        text = "; ".join(error.service_errors) or error.message

        def transient(kind: type[TransientError], message: str, **extra: Any) -> Exception:
            return kind(message, endpoint=error.endpoint, status_code=error.status_code,
                        service_errors=error.service_errors, request_sent=False, **extra)

        if _COMPILE_NOT_FOUND.search(text):
            return transient(
                TransientError,
                f"{text} (right after a compile the service may not see it yet; retried)",
                retry_after=COMPILE_NOT_VISIBLE_RETRY_SECONDS,
            )
        if isinstance(error, NotFoundError):
            return error  # no such project (or compile): no node would help
        worded = bool(_NO_NODE.search(text))
        busy = self._all_backtest_nodes_busy(project_id)
        if busy or (busy is None and worded):
            why = (f"all {busy} backtest node(s) are busy" if busy
                   else "as the refusal says; the nodes' state could not be read")
            return transient(NoNodeAvailableError, f"No backtest node is free ({why}): {text}")
        if worded:
            return transient(TransientError, f"{text} (yet a backtest node is free now: sent "
                             "again)")
        return error

    def _all_backtest_nodes_busy(self, project_id: int) -> int | None:
        """How many backtest nodes there are if every one is busy, 0 if one is free, None if
        the nodes or their busy state cannot be read."""
        # Read once, without retries: this runs inside every create attempt, which has a
        # retry policy of its own, and a failed read only means "unknown" (the words decide).
        try:
            body = self._client.post("/projects/nodes/read", {"projectId": project_id})
            nodes = parse(ProjectNodes, body, "/projects/nodes/read").nodes.backtest
        except QuantConnectError as failure:
            logger.warning("Could not read the nodes to confirm a refusal: %s", failure)
            return None
        if not nodes or any(node.busy is None for node in nodes):
            return None
        return len(nodes) if all(node.busy for node in nodes) else 0

    def find_created_since(
        self, project_id: int, name: str, since: datetime | None = None
    ) -> Backtest | None:
        """The backtest named ``name`` created at or after ``since`` (any time if None), read;
        None if there is none (the newest if several).

        The one look-up of a start whose answer was lost: :meth:`create` asks it before it
        sends again, and so do the task that starts a backtest (on a retry) and the grid's
        scheduler (after a refusal or a start without an answer), so all three adopt a lost
        start by the same rule. A name that carries its run's id (``tasks.backtest_name``)
        makes ``since`` a guard, not the key.

        Costs one ``/backtests/list``, and one ``/backtests/read`` if a backtest is found.

        Raises:
            ValidationError: A bad id or name (nothing is sent).

        Example:
            >>> client.backtests.find_created_since(pid, "nightly", since)  # doctest: +SKIP
            Backtest(backtest_id='...', name='nightly', ...)
        """
        validate_backtest_name(name)
        candidates = [
            b
            for b in self.list(project_id)
            if b.name == name and (since is None or b.created is None or b.created >= since)
        ]
        if not candidates:
            return None
        floor = since or datetime.min.replace(tzinfo=timezone.utc)
        newest = max(candidates, key=lambda b: (b.created or floor, b.backtest_id))
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
        backtest = parse(BacktestEnvelope, body, "/backtests/read").backtest
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
        return parse(BacktestList, body, "/backtests/list").backtests

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
        count: int = CHART_COUNT,
        start: int | None = None,
        end: int | None = None,
        backtest: Backtest | None = None,
        timeout: float = 60.0,
    ) -> Chart:
        """Read one chart with its series, waiting while the service builds it
        (``{"status": "loading"}`` answers are read again, up to ``timeout`` seconds).

        Every request carries ``count``, ``start`` and ``end`` (the OpenAPI request model marks
        all three required): ``start``/``end`` as given, else the backtest's simulated period
        (from ``backtest``, if the caller has read it; two days are added to its end, since
        LEAN stamps samples at exchange-local times, a day's at the next midnight), else the
        widest range (0 to now), also for a period no request can carry (reversed, or before
        1970).

        Args:
            project_id: The project.
            backtest_id: The backtest.
            name: The chart, e.g. ``"Strategy Equity"``.
            count: Points wanted per series (LEAN's own client asks for 100).
            start: From this Unix time (seconds).
            end: Up to this Unix time.
            backtest: The backtest as read, for its period.
            timeout: Seconds to wait for a chart being built.

        Raises:
            ValueError: No chart name, ``start`` after ``end``, or ``backtest`` is another
                backtest (nothing is sent).
            WaitTimeoutError: Still loading at the deadline.
            NotFoundError: No such backtest or chart.
        """
        validate_id(project_id)
        validate_job_id(backtest_id, "backtestId")
        if not isinstance(name, str) or not name.strip():
            raise ValueError("chart() needs a chart name")
        first, last = self._chart_range(backtest_id, start, end, backtest)
        payload: dict[str, Any] = {
            "projectId": project_id,
            "backtestId": backtest_id,
            "name": name,
            "count": validate_id(count, "count"),
            "start": first,
            "end": last,
        }

        def read() -> ChartAnswer:
            body = self._client.call("/backtests/chart/read", payload)
            return parse(ChartAnswer, body, "/backtests/chart/read")

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

    def _chart_range(
        self, backtest_id: str, start: int | None, end: int | None, backtest: Backtest | None
    ) -> tuple[int, int]:
        """The ``start``/``end`` of a chart request: given, else the backtest's period, else
        0 to now."""
        if backtest is not None and backtest.backtest_id != backtest_id:
            raise ValueError(f"chart() of backtest {backtest_id} was given backtest "
                             f"{backtest.backtest_id} for its period")
        period_start = backtest.backtest_start if backtest is not None else None
        period_end = backtest.backtest_end if backtest is not None else None
        first = int(period_start.timestamp()) if period_start is not None else 0
        # LEAN stamps samples at exchange-local times: the margin covers any offset from UTC.
        last = (int(period_end.timestamp()) + CHART_END_MARGIN_SECONDS if period_end is not None
                else None)
        if first < 0 or (last is not None and last < first):
            first, last = 0, None  # a period no request can carry (before 1970, reversed)
        if start is None:
            start = first
        if end is None:
            end = (last if last is not None
                   else int(self._client.service_now().timestamp()) + CHART_END_MARGIN_SECONDS)
        for value, what in ((start, "start"), (end, "end")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"chart() needs a non-negative integer {what}, got {value!r}")
        if start > end:
            raise ValueError(f"chart() needs start <= end, got {start} > {end}")
        return start, end

    def orders(
        self, project_id: int, backtest_id: str, start: int = 0, end: int = 100
    ) -> builtins.list[Order]:
        """Orders ``start`` (zero-based) up to ``end`` (exclusive), read in pages of
        :data:`ORDERS_PAGE`; stops early when the orders run out.

        Whether the service's ``end`` is inclusive is unconfirmed, so either reading gives the
        same result: orders are kept once each by ``id`` (pages that overlap by one order
        repeat it) and no more than ``end - start`` are returned. A service that refuses a
        page as wide as :data:`ORDERS_PAGE` is asked again in pages one narrower.

        Raises:
            ValueError: Unless ``0 <= start < end``.
            NotFoundError: No such backtest.
        """
        validate_id(project_id)
        validate_job_id(backtest_id, "backtestId")
        for value, what in ((start, "start"), (end, "end")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{what} must be a non-negative integer")
        if end <= start:
            raise ValueError("orders() needs start < end")
        wanted = end - start
        width = ORDERS_PAGE
        kept: dict[int, Order] = {}
        page_start = start
        while page_start < end and len(kept) < wanted:
            page_end = min(end, page_start + width)
            payload = {"projectId": project_id, "backtestId": backtest_id,
                       "start": page_start, "end": page_end}
            try:
                body = self._client.call("/backtests/orders/read", payload)
            except NotFoundError:
                raise
            except RequestRejectedError:
                if width != ORDERS_PAGE or page_end - page_start < ORDERS_PAGE:
                    raise
                # A page of 100 is what the live service takes (LEAN asks 0..100); one that
                # refuses it (an older service, "end - start must be less than 100") is read in
                # pages of 99, which every service takes.
                width = ORDERS_PAGE - 1
                continue
            page = parse(OrderList, body, "/backtests/orders/read").orders
            for order in page:
                kept.setdefault(order.id, order)
            # "Ran out" is judged on what the service sent, not on what parsed: a malformed
            # order the lenient parse drops must not make a full page look like the last one.
            raw = body.get("orders") if isinstance(body, dict) else None
            sent = len(raw) if isinstance(raw, list) else len(page)
            if sent < page_end - page_start:
                break  # fewer than asked: the orders ran out
            page_start = page_end
        return builtins.list(kept.values())[:wanted]

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
            raise runtime_error(backtest)
        return backtest

    @staticmethod
    def _incomplete(
        backtest_id: str, last: Backtest | None, reads: int, elapsed: float
    ) -> BacktestResultsIncompleteError:
        state = (
            "completed, but its results are not final: "
            + ("; ".join(last.missing_results()) or "they came too late")
            if last is not None and last.completed
            else f"still running ({last.progress_text}, status {last.status!r})"
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

    # ---------------------------------------------------------------------------- insights

    def insights(
        self, project_id: int, backtest_id: str, start: int = 0, end: int = 100
    ) -> builtins.list[Insight]:
        """Insights ``start`` (zero-based) up to ``end`` (exclusive), read in pages of
        :data:`~quantconnect_client.models.backtests.INSIGHTS_PAGE` (100, the widest the
        service takes) from ``/backtests/read/insights``; stops early when they run out.

        Readable while the backtest runs (those emitted so far). As for orders, whether the
        service's ``end`` is inclusive is unconfirmed: insights are kept once each by ``id``
        and no more than ``end - start`` are returned.

        Example:
            >>> every = client.backtests.insights(pid, bid, 0, 10_000)  # doctest: +SKIP
            >>> every[0].direction, every[0].period  # doctest: +SKIP
            ('up', 2592000.0)

        Raises:
            ValueError: Unless ``0 <= start < end``.
            NotFoundError: No such project or backtest.
        """
        validate_id(project_id)
        validate_job_id(backtest_id, "backtestId")
        for value, what in ((start, "start"), (end, "end")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{what} must be a non-negative integer")
        if end <= start:
            raise ValueError("insights() needs start < end")
        wanted = end - start
        kept: dict[str, Insight] = {}
        page_start = start
        while page_start < end and len(kept) < wanted:
            page_end = min(end, page_start + INSIGHTS_PAGE)
            body = self._client.call(
                "/backtests/read/insights",
                {"projectId": project_id, "backtestId": backtest_id,
                 "start": page_start, "end": page_end},
            )
            page = parse(InsightList, body, "/backtests/read/insights").insights
            for insight in page:
                kept.setdefault(insight.id, insight)
            # Judged on what was sent, not on what parsed (a dropped malformed insight must not
            # make a full page look like the last one).
            raw = body.get("insights") if isinstance(body, dict) else None
            if (len(raw) if isinstance(raw, list) else len(page)) < page_end - page_start:
                break
            page_start = page_end
        return builtins.list(kept.values())[:wanted]


# Imported here rather than in the block at the top, which another branch changes at the same
# time: moved up when both are merged.


def _arrived(value: Any, key: str) -> str:
    """What the answer held at ``value[key]``, for an error message (briefly).

    Example:
        >>> _arrived({"backtestId": ""}, "backtestId"), _arrived(None, "backtestId")
        ("backtestId was ''", 'no backtest object')
    """
    if not isinstance(value, dict):
        return "no backtest object" if value is None else f"backtest was a {type(value).__name__}"
    if key not in value:
        return f"no {key}"
    return f"{key} was {repr(value[key])[:80]}"


__all__ = ["BacktestsAPI"]
