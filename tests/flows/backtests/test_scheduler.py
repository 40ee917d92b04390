"""The grid's scheduler without Prefect or a service: its two tables, each race fix as a row,
and the start loop driven by scripted answers. The board has no clock of its own; the loop's
waits run on anyio's clock with deadlines of hundredths of a second."""

from __future__ import annotations

import itertools
import logging

import anyio
import pytest

from flows.backtests import scheduler
from flows.backtests.scheduler import (
    NODE_MODE_TRANSITIONS,
    SET_TRANSITIONS,
    Answer,
    Board,
    Evidence,
    IllegalTransitionError,
    NodeBoard,
    NodeMode,
    Refused,
    SetEvent,
    SetState,
    StartCounts,
    Started,
    Unanswered,
    start_set,
)
from quantconnect_client.errors import TransientError
from quantconnect_client.models import Backtest

LOG = logging.getLogger("test-scheduler")
_ids = itertools.count()


def backtest(status: str = "Running") -> Backtest:
    return Backtest.model_validate({"backtestId": f"{next(_ids):032x}", "status": status})


# ------------------------------------------------------------------------- the node mode


def test_the_node_mode_table_has_a_row_for_every_mode_and_evidence():
    assert set(NODE_MODE_TRANSITIONS) == set(itertools.product(NodeMode, Evidence))


def test_only_the_probe_read_in_queue_shows_that_the_service_queues():  # 3de6083
    board = Board(nodes=1, extra=1, sets=3)
    board.take(0)
    board.started(0, queued=True)  # a set within the nodes: its queueing shows nothing
    assert board.mode is NodeMode.UNKNOWN
    assert board.take(1) is SetState.PROBING
    board.started(1, queued=True)
    assert board.mode.value == "queue" and board.limit() == 2


def test_a_probe_that_found_a_node_free_says_nothing_and_a_later_set_probes():  # 95c0a8d
    board = Board(nodes=1, extra=1, sets=3)
    board.take(0)
    board.started(0)
    board.take(1)
    board.started(1, queued=False)
    assert board.mode is NodeMode.UNKNOWN
    board.end(0, released=True)
    assert board.take(2) is SetState.PROBING


def test_a_refusal_means_reject_and_nothing_beyond_the_nodes_again():  # e279bae
    board = Board(nodes=2, extra=2, sets=4)
    for index in (0, 1):
        board.take(index)
        board.started(index)
    assert board.take(2) is SetState.PROBING and board.limit() == 4
    board.refused(2)
    assert board.mode is NodeMode.REJECT and board.limit() == 2 and not board.may_take()


def test_a_refusal_after_queueing_was_seen_switches_to_reject():
    board = Board(nodes=1, extra=1, sets=3)
    board.take(0)
    board.started(0)
    board.take(1)
    board.started(1, queued=True)
    board.end(0, released=True)
    board.take(2)
    board.refused(2)
    assert board.mode is NodeMode.REJECT


def test_a_probe_answered_after_a_refusal_does_not_make_the_run_queue():
    board = Board(nodes=1, extra=1, sets=3)
    board.take(0)
    board.started(0)
    board.take(1)  # the probe, on its way
    board.end(0, released=True)
    board.take(2)
    board.refused(2)  # a node held outside the run
    board.started(1, queued=True)
    assert board.mode is NodeMode.REJECT


# ---------------------------------------------------------------------- a set's places


def test_an_answered_probe_ending_does_not_end_a_later_probe_s_turn():  # c04abb5
    board = Board(nodes=1, extra=1, sets=3)
    board.take(0)
    board.started(0)
    board.take(1)
    board.started(1)  # a node had come free on its way: nothing learnt
    board.end(0, released=True)
    assert board.take(2) is SetState.PROBING
    board.end(1, released=True)  # the answered probe ends
    assert board.probe == 2 and not board.may_take()  # the new probe goes on alone


def test_the_extra_probe_waits_for_the_answers_of_the_sets_within_the_nodes():
    board = Board(nodes=2, extra=2, sets=3)
    board.take(0)
    board.take(1)
    assert not board.may_take()  # set 1's answer is due: an extra start must not take its node
    board.started(1)
    assert not board.may_take()
    board.started(0)
    assert board.may_take()


def test_a_probe_without_an_answer_lets_a_later_set_probe():  # 7b37c27
    board = Board(nodes=1, extra=1, sets=3)
    board.take(0)
    board.started(0)
    board.take(1)
    board.unanswered(1)
    assert board.state(1) is SetState.WAITING and board.probe is None
    assert board.take(2) is SetState.PROBING


def test_an_adopted_probe_ends_the_probe_and_shows_nothing():  # 2deab81
    board = Board(nodes=1, extra=1, sets=2)
    board.take(0)
    board.started(0)
    board.take(1)
    board.adopted(1)
    assert board.state(1) is SetState.ADOPTED and board.probe is None
    assert board.mode is NodeMode.UNKNOWN and board.holding == 2


def test_a_failed_set_counts_as_given_up_so_the_last_round_is_seen():  # 0c04fe8
    board = Board(nodes=1, extra=0, sets=2)
    board.take(0)
    board.started(0)
    assert not board.last_round
    board.end(1)  # refused for good while waiting
    assert board.last_round and board.state(1) is SetState.ENDED


def test_an_event_without_a_row_is_a_defect():
    board = Board(nodes=1, extra=0, sets=1)
    with pytest.raises(IllegalTransitionError, match="set 0 is waiting"):
        board.started(0)
    assert (SetState.REFUSED, SetEvent.TOOK_PROBE) not in SET_TRANSITIONS


def test_every_state_but_the_last_two_can_end():
    ending = {state for (state, event), to in SET_TRANSITIONS.items()
              if to in (SetState.ENDED, SetState.NEVER_STARTED)}
    assert ending == set(SetState) - {SetState.ENDED, SetState.NEVER_STARTED}


# --------------------------------------------------------------------------- the waiting


@pytest.mark.anyio
async def test_places_go_by_set_index():  # 44b8b11
    nodes = NodeBoard(nodes=1, extra=0, no_node_wait=1, sets=3)
    await nodes.take(0)
    order: list[int] = []

    async def take(index: int) -> None:
        await nodes.take(index)
        order.append(index)
        nodes.change(lambda b: b.started(index))

    async with anyio.create_task_group() as group:
        group.start_soon(take, 2)
        await anyio.sleep(0.01)
        group.start_soon(take, 1)
        await anyio.sleep(0.01)
        nodes.change(lambda b: b.started(0))
        nodes.change(lambda b: b.end(0, released=True))
        await anyio.sleep(0.01)
        nodes.change(lambda b: b.end(1, released=True))
    assert order == [1, 2]


@pytest.mark.anyio
async def test_refused_sets_wake_on_a_released_node_not_on_other_changes():  # 7b37c27
    nodes = NodeBoard(nodes=2, extra=0, no_node_wait=10, sets=3)
    for index in (0, 1):
        await nodes.take(index)
    nodes.change(lambda b: b.started(0))
    woke: list[float] = []

    async def refused_set() -> None:
        began = anyio.current_time()
        await nodes.wait_for_release(5)
        woke.append(anyio.current_time() - began)

    async with anyio.create_task_group() as group:
        group.start_soon(refused_set)
        await anyio.sleep(0.01)
        nodes.change(lambda b: b.refused(1))  # another refusal: not a free node
        await anyio.sleep(0.05)
        assert woke == []
        nodes.change(lambda b: b.end(0, released=True))
    assert len(woke) == 1 and woke[0] < 1


@pytest.mark.anyio
async def test_a_take_past_its_deadline_raises():
    nodes = NodeBoard(nodes=1, extra=0, no_node_wait=1, sets=2)
    await nodes.take(0)
    with pytest.raises(TimeoutError):
        await nodes.take(1, anyio.current_time() + 0.02)


# ------------------------------------------------------------------------ the start loop


class Script:
    """A start that answers from a list, recording whether each call looked first."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.looked_first: list[bool] = []

    async def __call__(self, look_first: bool) -> Answer:
        self.looked_first.append(look_first)
        return self.answers.pop(0)


async def never_queued(started: Backtest) -> bool:
    return False


def lost(message: str = "no answer") -> TransientError:
    return TransientError(message, endpoint="/backtests/create")


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    monkeypatch.setattr(scheduler, "UNSURE_RESUBMIT_SECONDS", 0.0)


@pytest.mark.anyio
async def test_a_start_is_answered_with_its_backtest():
    nodes = NodeBoard(nodes=1, extra=0, no_node_wait=1, sets=1)
    mine = backtest()
    counts = StartCounts()
    got = await start_set(nodes, 0, 1.0, Script(Started(mine)), never_queued, counts, LOG)
    assert got == mine and nodes.board.state(0) is SetState.RUNNING
    assert counts == StartCounts() and nodes.last_round


@pytest.mark.anyio
async def test_an_unanswered_start_is_sent_again_and_one_not_looked_up_looks_first():
    nodes = NodeBoard(nodes=1, extra=0, no_node_wait=1, sets=1)
    # Lost and looked up; lost with its look-up lost too; then only the look-up, lost again.
    script = Script(Unanswered(lost()), Unanswered(lost(), looked_up=False, requests=2),
                    Unanswered(lost(), looked_up=False, requests=1), Started(backtest()))
    counts = StartCounts()
    with pytest.raises(TransientError):  # 1 + 2 requests unanswered: the limit
        await start_set(nodes, 0, 1.0, Script(*script.answers), never_queued, counts, LOG)
    nodes = NodeBoard(nodes=1, extra=0, no_node_wait=1, sets=1)
    script = Script(Unanswered(lost()), Started(backtest()))
    counts = StartCounts()
    assert await start_set(nodes, 0, 1.0, script, never_queued, counts, LOG) is not None
    assert script.looked_first == [False, False]
    assert (counts.unanswered, counts.resubmissions) == (1, 1)
    nodes = NodeBoard(nodes=1, extra=0, no_node_wait=1, sets=1)
    script = Script(Unanswered(lost(), looked_up=False, requests=2), Started(backtest()))
    counts = StartCounts()
    assert await start_set(nodes, 0, 1.0, script, never_queued, counts, LOG) is not None
    assert script.looked_first == [False, True]  # the start is unknown: look first
    assert (counts.unanswered, counts.resubmissions) == (1, 1)


@pytest.mark.anyio
async def test_requests_without_an_answer_end_the_set_at_the_limit():  # 2deab81
    nodes = NodeBoard(nodes=1, extra=0, no_node_wait=1, sets=1)
    script = Script(Unanswered(lost("first")), Unanswered(lost("second"), looked_up=False,
                                                          requests=2))
    with pytest.raises(TransientError, match="second"):
        await start_set(nodes, 0, 1.0, script, never_queued, StartCounts(), LOG)
    assert nodes.board.state(0) is SetState.ENDED and nodes.last_round


@pytest.mark.anyio
async def test_a_lost_start_found_by_the_task_is_adopted_and_counted():
    nodes = NodeBoard(nodes=1, extra=0, no_node_wait=0.01, sets=1)
    script = Script(Refused("No spare nodes"), Started(backtest(), adopted=True))
    counts = StartCounts()
    assert await start_set(nodes, 0, 1.0, script, never_queued, counts, LOG) is not None
    assert nodes.board.state(0) is SetState.ADOPTED
    assert (counts.refusals, counts.resubmissions, counts.said) == (1, 2, "No spare nodes")


@pytest.mark.anyio
async def test_refusals_end_at_the_deadline_never_started():  # 252d632
    nodes = NodeBoard(nodes=1, extra=0, no_node_wait=0.01, sets=1)
    script = Script(*[Refused("busy")] * 50)
    counts = StartCounts()
    assert await start_set(nodes, 0, 0.05, script, never_queued, counts, LOG) is None
    assert nodes.board.state(0) is SetState.NEVER_STARTED and nodes.last_round
    assert counts.refusals == len(script.looked_first) >= 2


@pytest.mark.anyio
async def test_the_probe_is_read_and_only_its_read_decides():  # 3de6083
    nodes = NodeBoard(nodes=1, extra=1, no_node_wait=1, sets=2)
    await start_set(nodes, 0, 1.0, Script(Started(backtest("In Queue..."))), never_queued,
                    StartCounts(), LOG)
    assert nodes.mode is NodeMode.UNKNOWN  # not the probe: not read
    reads: list[str] = []

    async def read(started: Backtest) -> bool:
        reads.append(started.backtest_id)
        return True

    probe = backtest("In Queue...")
    await start_set(nodes, 1, 1.0, Script(Started(probe)), read, StartCounts(), LOG)
    assert reads == [probe.backtest_id] and nodes.mode.value == "queue"


@pytest.mark.anyio
async def test_a_start_that_breaks_ends_the_set():
    nodes = NodeBoard(nodes=1, extra=0, no_node_wait=1, sets=1)

    async def breaks(look_first: bool) -> Answer:
        raise KeyError("a defect")

    with pytest.raises(KeyError):
        await start_set(nodes, 0, 1.0, breaks, never_queued, StartCounts(), LOG)
    assert nodes.board.state(0) is SetState.ENDED and nodes.board.holding == 0
