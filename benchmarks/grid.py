"""Section 6: filling the nodes: a grid of parameter sets on an account with few backtest nodes.

The emulated account has ``nodes`` backtest nodes and each backtest runs ``seconds``; the floor
is ``ceil(sets / nodes)`` rounds of ``seconds`` plus one compile. Compared, in both node modes
(``queue``: a backtest without a free node waits; ``reject``: its start is refused):

- the ``backtest-grid`` flow on the example strategy folder (one compile, as many at once as
  there are nodes, refused starts submitted again);
- a plain script with this project's client that runs the sets one by one (the same in both
  modes: it never has two running, so it runs once);
- a plain script that submits every set at once and waits for those that started (in ``reject``
  mode the refused ones are lost: "failed because a node was busy").

Each variant makes its own project, compiles once and removes the project at the end; its wall
time (the makespan) runs from its first request to its return. The emulator's
``peak_running_backtests`` (reset before each variant) must never exceed the nodes.
"""

from __future__ import annotations

import itertools
import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from quantconnect_client import NO_RETRY, QuantConnectClient
from quantconnect_client.errors import TransientError

from .backtest_wait import STRATEGY, BacktestWatcher
from .services import EmulatorProcess
from .timing import median, settle

#: Target per node mode: the flow's makespan within this multiple of the floor (#28). Reject
#: mode's is looser: a refused start is only known to be refused once it is answered.
TARGET_MAKESPAN_RATIO = {"queue": 1.08, "reject": 1.12}


def parameter_sets(count: int) -> list[dict[str, str | int | float | bool]]:
    """``count`` distinct (fast, slow) pairs for the example strategy."""
    pairs = itertools.product(range(5, 100, 5), range(30, 300, 10))
    return [{"fast": fast, "slow": slow} for fast, slow in itertools.islice(pairs, count)]


def _plain_setup(client: QuantConnectClient, label: str) -> tuple[int, str]:
    name = f"Benchmarks/Grid {label} {time.time_ns()}"
    project_id = client.projects.create(name, "Py").project_id
    main = (STRATEGY / "main.py").read_text(encoding="utf-8")
    client.files.update(project_id, "main.py", main)
    compiled = client.compiles.create(project_id)
    client.compiles.wait(project_id, compiled.compile_id)
    return project_id, compiled.compile_id


def plain_one_by_one(client: QuantConnectClient, sets: list[dict[str, Any]]) -> dict[str, Any]:
    """Each set started after the previous one's results are in."""
    project_id, compile_id = _plain_setup(client, "one by one")
    done = 0
    try:
        for index, parameters in enumerate(sets):
            backtest = client.backtests.create(project_id, compile_id, f"set {index}", parameters)
            client.backtests.wait(project_id, backtest.backtest_id, timeout=900)
            done += 1
    finally:
        client.projects.delete(project_id)
    return {"completed_sets": done, "refused": 0, "resubmissions": 0}


def plain_all_at_once(client: QuantConnectClient, sets: list[dict[str, Any]]) -> dict[str, Any]:
    """Every set started at once; those refused for lack of a node are lost."""
    project_id, compile_id = _plain_setup(client, "all at once")
    started: list[str] = []
    refused = 0
    try:
        for index, parameters in enumerate(sets):
            try:
                backtest = client.backtests.create(project_id, compile_id, f"set {index}",
                                                   parameters)
            except TransientError:
                # Refused for lack of a node (NoNodeAvailableError), or a node came free
                # between the refusal and the client's look at the nodes: lost either way.
                refused += 1
                continue
            started.append(backtest.backtest_id)
        with ThreadPoolExecutor(max_workers=max(1, len(started))) as pool:
            list(pool.map(lambda b: client.backtests.wait(project_id, b, timeout=900), started))
    finally:
        client.projects.delete(project_id)
    return {"completed_sets": len(started), "refused": refused, "resubmissions": 0}


async def _grid_flow(emulator: EmulatorProcess, sets: list[dict[str, Any]], nodes: int
                     ) -> dict[str, Any]:
    from flows.backtests.forms import GridOptions, StrategyChoice
    from flows.backtests.grid import backtest_grid
    from tasks.credentials import QuantConnectCredentials

    credentials = QuantConnectCredentials(
        user_id=emulator.user_id, api_token=emulator.api_token, base_url=emulator.base_url
    )
    options = GridOptions(strategy=StrategyChoice(strategy_folder=str(STRATEGY)),
                          parameter_sets=sets, max_concurrency=nodes, max_sets=max(50, len(sets)))
    report = await backtest_grid(options, credentials)
    busy = [r for r in report.rows if r.outcome != "completed" and "NoNode" in (r.error or "")]
    return {
        "completed_sets": sum(r.outcome == "completed" for r in report.rows),
        "refused": len(busy),
        "resubmissions": sum(r.resubmissions for r in report.rows),
        "concurrency": report.concurrency,
    }


def timeline(records: list[dict[str, Any]], width: int, began: float, ended: float
             ) -> dict[str, float | None]:
    """Where a variant's makespan went, from the emulator's moments of its backtests.

    ``width`` backtests run at once (the peak seen): the j-th start took the node the
    (j - width)-th completion freed, so ``start - completion`` is how long a node stood idle
    and ``start - settlement`` how long the caller took from having one set's results to
    starting the next one.
    """
    runs = [r for r in records if r.get("started_at") and r.get("completed_at")]
    if not runs or width < 1:
        return {"before_first_start_s": None, "after_last_settle_s": None,
                "node_idle_s": None, "next_start_after_settle_s": None}
    starts = sorted(float(r["started_at"]) for r in runs)
    completions = sorted(float(r["completed_at"]) for r in runs)
    settles = sorted(float(r["settled_at"] or r["completed_at"]) for r in runs)
    idle = [starts[j] - completions[j - width] for j in range(width, len(starts))]
    after = [starts[j] - settles[j - width] for j in range(width, len(starts))]
    return {
        "before_first_start_s": round(starts[0] - began, 3),
        "after_last_settle_s": round(ended - settles[-1], 3),
        "node_idle_s": round(median(idle), 3) if idle else None,
        "next_start_after_settle_s": round(median(after), 3) if after else None,
    }


async def run_grid(
    emulator: EmulatorProcess, count: int, nodes: int, seconds: float, lag: float,
    compile_seconds: float = 1.0, kinds: tuple[str, ...] = ("flow", "all", "one"),
) -> dict[str, Any]:
    """Every variant once (of ``kinds``: ``flow``, ``all``, ``one``); figures per variant (see
    the module docstring)."""
    import asyncio

    from flows.common.session import prefect_api_session

    sets = parameter_sets(count)
    floor = math.ceil(count / nodes) * seconds + compile_seconds
    client = QuantConnectClient(emulator.user_id, emulator.api_token, base_url=emulator.base_url,
                                retry=NO_RETRY, pool_size=max(10, count))
    plan: list[tuple[str, str, str]] = [
        ("backtest-grid flow", "queue", "flow"),
        ("backtest-grid flow", "reject", "flow"),
        ("plain script, all at once", "queue", "all"),
        ("plain script, all at once", "reject", "all"),
        ("plain script, one by one", "queue", "one"),
    ]
    plan = [step for step in plan if step[2] in kinds]
    scripts: dict[str, Callable[[QuantConnectClient, list[dict[str, Any]]], dict[str, Any]]] = {
        "all": plain_all_at_once, "one": plain_one_by_one,
    }
    variants: list[dict[str, Any]] = []
    async with prefect_api_session():
        if "flow" in kinds:
            # Untimed: the process's first grid run pays imports and the flow's first
            # registration, which would otherwise land on whichever flow variant comes first.
            emulator.reset()
            emulator.set_jobs(backtest_nodes=nodes, node_mode="queue", backtest_seconds=0.2,
                              compile_seconds=0.2, total_performance_lag_seconds=0.0)
            warm = await _grid_flow(emulator, sets[:1], nodes)
            if warm["completed_sets"] != 1:
                raise RuntimeError(f"the untimed warm-up grid did not complete: {warm}")
        for label, mode, kind in plan:
            emulator.reset()
            emulator.set_jobs(backtest_nodes=nodes, node_mode=mode, backtest_seconds=seconds,
                              compile_seconds=compile_seconds,
                              total_performance_lag_seconds=lag)
            settle()
            async with BacktestWatcher(emulator) as watcher:
                began, started = time.time(), time.monotonic()
                if kind == "flow":
                    outcome = await _grid_flow(emulator, sets, nodes)
                else:
                    outcome = await asyncio.to_thread(scripts[kind], client, sets)
                wall, ended = time.monotonic() - started, time.time()
            stats = emulator.stats()
            peak = int(stats.get("peak_running_backtests", 0))
            where = timeline(list(watcher.records.values()), peak, began, ended)
            variants.append({
                "label": label,
                "node_mode": mode,
                "makespan_s": round(wall, 3),
                "floor_s": floor,
                "makespan_to_floor": round(wall / floor, 3),
                "peak_running_backtests": peak,
                "within_nodes": peak <= nodes,
                "requests": stats["requests_total"],
                **where,
                **outcome,
            })
            print(f"  {label} ({mode}): {wall:.1f} s", flush=True, file=sys.stderr)
    client.close()
    return {
        "sets": count,
        "nodes": nodes,
        "backtest_s": seconds,
        "total_performance_lag_s": lag,
        "compile_s": compile_seconds,
        "latency_ms": emulator.latency_ms,
        "floor_s": floor,
        "variants": variants,
        "target_makespan_to_floor": TARGET_MAKESPAN_RATIO,  # per node mode
    }
