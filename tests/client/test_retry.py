"""The one retry engine, time budgets and the polling primitive (quantconnect_client.retry,
.budget, .cancellation and .polling)."""

from __future__ import annotations

import time
from email.utils import formatdate

import anyio
import pytest
import requests
import urllib3.exceptions

from quantconnect_client import (
    AuthenticationError,
    BudgetExhaustedError,
    ConnectionFailedError,
    NotFoundError,
    QuantConnectClient,
    RateLimitedError,
    RetryPolicy,
    ServiceUnavailableError,
    TransientError,
    WaitTimeoutError,
    operation_budget,
    poll,
)
from quantconnect_client.budget import remaining_budget
from quantconnect_client.retry import retry_call
from quantconnect_client.transport import never_reached_service, retry_after_seconds
from tests.canned_http import CannedResponse, canned_server
from tests.client.conftest import make_client

QUICK = RetryPolicy(max_attempts=3, backoff_seconds=0.001, max_backoff_seconds=0.002)
JSON = {"Content-Type": "application/json"}


def failing(errors: list[BaseException], result: str = "ok"):
    """A callable that raises ``errors`` in turn, then returns ``result``; counts its calls."""

    def call() -> str:
        call.calls += 1  # type: ignore[attr-defined]
        if errors:
            raise errors.pop(0)
        return result

    call.calls = 0  # type: ignore[attr-defined]
    return call


# ------------------------------------------------------------------------------- the engine


def test_transient_failures_are_retried_and_the_last_says_how_often_over_how_long():
    attempt = failing([ServiceUnavailableError("HTTP 503")] * 5)
    with pytest.raises(ServiceUnavailableError) as caught:
        retry_call(attempt, policy=QUICK, what="/x")
    assert attempt.calls == 3
    assert "gave up after 3 attempts over" in str(caught.value)


def test_permanent_failures_are_raised_at_once():
    attempt = failing([NotFoundError("gone")])
    with pytest.raises(NotFoundError):
        retry_call(attempt, policy=QUICK, what="/x")
    assert attempt.calls == 1


def test_a_retry_after_past_the_limit_gives_up_at_once_and_says_so():
    attempt = failing([RateLimitedError("HTTP 429", retry_after=3600)])
    with pytest.raises(RateLimitedError) as caught:
        retry_call(attempt, policy=QUICK, what="/x")
    assert attempt.calls == 1
    assert "asked to wait 3600 s (1 hour)" in str(caught.value)
    assert "limit" in str(caught.value)


def test_a_clock_correction_is_resent_once_at_once():
    corrected = AuthenticationError("Hash doesn't match")
    corrected.clock_corrected = True
    again = AuthenticationError("Hash doesn't match")
    again.clock_corrected = True
    retries: list[int] = []
    attempt = failing([corrected])
    assert retry_call(attempt, policy=RetryPolicy(max_attempts=1), what="/x",
                      on_retry=lambda n, e, d: retries.append(n)) == "ok"
    assert attempt.calls == 2 and retries == [1]
    twice = failing([corrected, again])
    with pytest.raises(AuthenticationError):
        retry_call(twice, policy=QUICK, what="/x")
    assert twice.calls == 2


def test_a_lost_write_is_reconciled_before_it_is_sent_again():
    attempt = failing([ServiceUnavailableError("HTTP 502")], result="sent again")
    found = retry_call(attempt, policy=QUICK, what="/x", reconcile=lambda: "it was applied")
    assert found == "it was applied" and attempt.calls == 1


def test_a_write_that_may_have_been_applied_says_so_even_if_its_last_request_never_left():
    # The write times out (it may have been applied); every later request is refused at the
    # door, the reconciling reads too. The error must not tell the caller "nothing was sent".
    attempt = failing([ConnectionFailedError("timed out", request_sent=True)])
    refused = failing([ConnectionFailedError("refused", request_sent=False)] * 3)
    with pytest.raises(ConnectionFailedError) as caught:
        retry_call(attempt, policy=QUICK, what="/x", reconcile=refused)
    assert caught.value.request_sent is True and "refused" in str(caught.value)
    assert attempt.calls == 1 and refused.calls == 2
    # The same when the reconciling read spends the shared budget.
    attempt = failing([ConnectionFailedError("timed out", request_sent=True)])
    spent = failing([BudgetExhaustedError("budget spent", request_sent=False)])
    with pytest.raises(BudgetExhaustedError) as spent_error:
        retry_call(attempt, policy=QUICK, what="/x", reconcile=spent)
    assert spent_error.value.request_sent is True
    # Without a write in doubt, a request that never left still says so.
    idempotent = failing([ConnectionFailedError("refused", request_sent=False)] * 3)
    with pytest.raises(ConnectionFailedError) as caught:
        retry_call(idempotent, policy=QUICK, what="/x")
    assert caught.value.request_sent is False


def test_the_call_bound_counts_attempts_and_waits():
    assert RetryPolicy().call_bound(35.0) == 3 * 35 + 2 * 60
    assert RetryPolicy(max_attempts=1).call_bound(10.0) == 10.0


# ------------------------------------------------------------------------------- budgets


def test_budgets_nest_and_refuse_nonsense():
    assert remaining_budget() is None
    with operation_budget(5) as outer, operation_budget(100) as inner:
        assert inner.remaining() <= 5
        assert inner.binding is outer
        assert outer.binding is outer
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive number of seconds"), operation_budget(bad):
            pass


def test_a_budget_follows_a_worker_thread():
    async def main() -> float | None:
        with operation_budget(42):
            return await anyio.to_thread.run_sync(remaining_budget)

    seen = anyio.run(main)
    assert seen is not None and 0 < seen <= 42


def test_a_spent_budget_stops_retries_and_says_how_many_attempts_over_how_long():
    attempt = failing([ServiceUnavailableError("HTTP 503")] * 50)
    policy = RetryPolicy(max_attempts=50, backoff_seconds=0.05, max_backoff_seconds=0.05)
    with operation_budget(0.3), pytest.raises(BudgetExhaustedError) as caught:
        retry_call(attempt, policy=policy, what="/x")
    assert caught.value.retryable
    assert "time budget of 0.3 s" in str(caught.value)
    assert 1 < attempt.calls < 50


def test_a_slow_answer_cannot_outlast_the_budget(qc_emulator):
    qc_emulator.set_faults(slow_response_seconds=3)
    qc_emulator.inject("slow_response", path="/authenticate", count=5)
    with (
        make_client(qc_emulator) as client,  # read timeout 2 s, 3 attempts
        operation_budget(1.0),
        pytest.raises(BudgetExhaustedError) as caught,
    ):
        client.authenticate()
    assert "attempt(s) over" in str(caught.value)
    assert client.metrics.requests == 1


def test_a_retry_after_longer_than_the_budget_gives_up_at_once(qc_emulator):
    qc_emulator.set_faults(retry_after_seconds=30)
    qc_emulator.inject("http_429", path="/authenticate", count=1)
    with (
        make_client(qc_emulator, retry=RetryPolicy()) as client,
        operation_budget(5),
        pytest.raises(BudgetExhaustedError) as caught,
    ):
        client.authenticate()
    assert "asked to wait 30 s" in str(caught.value)
    assert caught.value.retry_after == 30
    assert qc_emulator.stats()["requests_total"] == 1


# --------------------------------------------------------------- what reached the service


def test_metrics_count_every_attempt_the_service_received_clock_correction_included(
    qc_emulator,
):
    slow = lambda: time.time() - 3 * 3600  # noqa: E731 - a clock three hours behind
    with make_client(qc_emulator, clock=slow) as client:
        client.authenticate()  # refused once, re-signed after learning the offset
        project = client.projects.create("Tests/Counted", "Py")
        qc_emulator.inject("http_500_empty", path="/projects/read", count=2)
        client.projects.read(project.project_id)
        client.projects.purge(project.project_id)
        assert client.metrics.requests == qc_emulator.stats()["requests_total"]
        assert client.metrics.unsent == 0
        assert client.metrics.retries == 3  # the re-sign and two 500s


def test_retry_after_as_an_http_date_is_honoured():
    refusal = CannedResponse(
        429, b"", {"Retry-After": formatdate(time.time() + 2, usegmt=True)}
    )
    with canned_server(refusal, CannedResponse(200, b'{"success": true}', JSON)) as srv:
        client = QuantConnectClient(1, "t", base_url=srv.url, retry=RetryPolicy())
        assert client.authenticate()
        first, second = (float(r["at"]) for r in srv.requests)
    assert second - first >= 1.0  # an HTTP date has whole seconds: at least 1 s of the 2


def test_retry_after_dates_and_numbers_parse():
    assert retry_after_seconds("3") == 3.0
    soon = retry_after_seconds(formatdate(time.time() + 120, usegmt=True))
    assert soon is not None and 100 < soon <= 121
    assert retry_after_seconds(formatdate(0, usegmt=True)) == 0.0
    assert retry_after_seconds("whenever") is None


def test_whether_a_request_went_out_is_decided_by_exception_types_not_text():
    # Text that looks like a failed connect, but nothing typed says so: the request may be out.
    looks_refused = requests.exceptions.ConnectionError("Failed to establish a new connection")
    assert not never_reached_service(looks_refused)
    # A typed refusal in the cause chain, with none of the usual words in any message.
    typed = requests.exceptions.ConnectionError("broken")
    typed.__cause__ = ConnectionRefusedError(111, "nope")
    assert never_reached_service(typed)
    wrapped = requests.exceptions.ConnectionError(
        urllib3.exceptions.MaxRetryError(
            None,  # type: ignore[arg-type]
            "/",
            urllib3.exceptions.NewConnectionError(None, "boom"),  # type: ignore[arg-type]
        )
    )
    assert never_reached_service(wrapped)
    dropped = requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", ConnectionResetError(104, "x"))
    )
    assert not never_reached_service(dropped)


# ------------------------------------------------------------------------------- polling


def test_poll_reads_until_done_and_reports_progress():
    values = iter([0.1, 0.5, 0.9, 1.0, 1.0])
    seen: list[float] = []
    result = poll(
        lambda: next(values),
        done=lambda v: v >= 1.0,
        schedule=lambda v: 0.001,
        timeout=5,
        on_progress=seen.append,
    )
    assert result == 1.0 and seen == [0.1, 0.5, 0.9, 1.0]


def test_poll_retries_transient_reads_and_raises_permanent_ones():
    read = failing([ServiceUnavailableError("HTTP 502"), TransientError("empty")], "done")
    assert poll(read, done=lambda v: v == "done", schedule=[0.001], timeout=5,
                policy=QUICK) == "done"
    assert read.calls == 3
    gone = failing([NotFoundError("no such backtest")])
    with pytest.raises(NotFoundError):
        poll(gone, done=lambda v: True, schedule=[0.001], timeout=5)
    assert gone.calls == 1


def test_poll_raises_a_typed_timeout_with_the_last_value():
    reads = iter(range(10_000))
    with pytest.raises(WaitTimeoutError) as caught:
        poll(lambda: next(reads), done=lambda v: False, schedule=[0.05], timeout=0.3,
             what="the test wait")
    assert caught.value.last == caught.value.reads - 1
    assert "the test wait did not finish within 0.3 s" in str(caught.value)
    assert not caught.value.retryable


def test_poll_survives_a_failing_progress_callback_and_follows_a_schedule_list():
    delays: list[float] = []
    values = iter([1, 2, 3, 4])

    def broken(_: int) -> None:
        raise RuntimeError("display broke")

    assert poll(lambda: next(values), done=lambda v: v == 4, schedule=[0.01, 0.02],
                timeout=5, on_progress=broken, sleep=delays.append) == 4
    assert delays == [0.01, 0.02, 0.02]


def test_poll_inside_a_shorter_budget_raises_budget_exhausted():
    with operation_budget(0.2), pytest.raises(BudgetExhaustedError):
        poll(lambda: 0, done=lambda v: False, schedule=[0.05], timeout=60)
