"""The benchmark's quick mode runs end to end, so it cannot rot.

It runs ``python -m benchmarks --quick`` as a user would (its own emulator and Prefect server
processes) and checks only structure and sanity: every section is there, every run completed, no
concurrency bound was exceeded. Timings are never asserted: the machine is shared and noisy.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_quick_benchmark_writes_every_section(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    previous = tmp_path / "previous.json"
    previous.write_text(json.dumps({"meta": {"date": "earlier"}, "overhead": {
        "per_op_ms": {"client": 1.0}}}))
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out),
         "--compare", str(previous)],
        cwd=REPO, capture_output=True, text=True, timeout=240, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    results = json.loads(out.read_text())

    assert results["meta"]["quick"] is True
    assert results["problems"] == []
    sections = ("lifecycle", "bulk", "overhead", "memory", "wait", "grid", "scale",
                "optimization", "monitor", "objectstore")
    for number, section in enumerate(sections, start=1):
        assert section in results, section
        assert f"### {number}. " in completed.stdout  # its table was printed

    lifecycle = results["lifecycle"]
    assert set(lifecycle["variants"]) == {"plain", "client", "flow", "flow_cold",
                                          "flow_verified"}
    plain_paths = lifecycle["variants"]["plain"]["paths"]
    assert len(plain_paths) == 5
    # (b), (c) and (c1) make exactly the plain script's requests; (c2) adds its delete check.
    for name in ("client", "flow", "flow_cold"):
        assert lifecycle["variants"][name]["paths"] == plain_paths, name
    verified = lifecycle["variants"]["flow_verified"]["paths"]
    assert verified[:5] == plain_paths and verified[5:] == [plain_paths[1]]  # one more read
    for variant in lifecycle["variants"].values():
        assert variant["completed"]
        assert len(variant["samples_s"]) == lifecycle["repetitions"]
        assert variant["wall_s"] > 0

    bulk = results["bulk"]
    assert [v["concurrency"] for v in bulk["variants"]] == [1, 1, 4]
    for variant in bulk["variants"]:
        assert variant["completed"], variant
        assert variant["within_bound"], variant
        assert 1 <= variant["peak_in_flight"] <= variant["bound"]
        assert variant["requests"] == bulk["n"] + 1  # one list, one delete per project

    overhead = results["overhead"]["per_op_ms"]
    assert set(overhead) == {"bare_session", "docs_new_connection", "client", "task_in_flow",
                             "flow_run_one_task", "flow_run_in_session"}
    assert all(value > 0 for value in overhead.values())

    memory = results["memory"]
    for mode in ("plain", "flow"):
        assert memory[mode]["completed"]
        assert memory[mode]["peak_rss_mb"] >= memory[mode]["rss_after_imports_mb"] > 0

    wait = results["wait"]
    methods = {"(a) lean CLI schedule", "(b) client wait", "(c) backtest-strategy flow"}
    assert {row["method"] for row in wait["rows"]} == methods
    assert len(wait["samples"]) == len(methods) * wait["samples_per_method"] * len(
        wait["durations_s"])
    for sample in wait["samples"]:
        assert sample["complete"], sample
        assert sample["reads"] >= 1
        # Nobody can have the results before they settled (the clocks are the machine's).
        assert sample["delay_after_settled"] >= -0.05, sample
    flow_samples = [s for s in wait["samples"] if s["method"].startswith("(c)")]
    for sample in flow_samples:  # the flow returns after the read that delivered the results
        assert 0 <= sample["results_read_delay"] <= sample["delay_after_settled"] + 0.05
        assert sample["requests"] > sample["reads"]

    grid = results["grid"]
    labels = [(v["label"], v["node_mode"]) for v in grid["variants"]]
    assert labels == [("backtest-grid flow", "queue"), ("backtest-grid flow", "reject"),
                      ("plain script, all at once", "queue"),
                      ("plain script, all at once", "reject"),
                      ("plain script, one by one", "queue")]
    for variant in grid["variants"]:
        assert 1 <= variant["peak_running_backtests"] <= grid["nodes"], variant
        assert variant["makespan_s"] > 0
    flows, all_at_once = grid["variants"][:2], grid["variants"][2:4]
    for variant in flows:  # every set done, none lost to a busy node
        assert variant["completed_sets"] == grid["sets"] and variant["refused"] == 0
    assert all_at_once[0]["completed_sets"] == grid["sets"]  # queue mode waits
    # Reject mode refuses what does not fit on the free nodes, and the plain script loses it
    # (how many depends on how fast the creates go; at least one of 4 sets on 2 nodes).
    assert all_at_once[1]["refused"] >= 1
    assert all_at_once[1]["completed_sets"] + all_at_once[1]["refused"] == grid["sets"]
    assert grid["variants"][4]["peak_running_backtests"] == 1  # one by one

    scale = results["scale"]
    assert [(r["flow"], r["projects"]) for r in scale["rows"]] == [
        (flow, size) for size in scale["sizes"] for flow in ("inventory", "sweep")]
    for row in scale["rows"]:
        assert row["completed"], row
        assert row["flow_peak_rss_mb"] >= row["flow_rss_before_mb"] > 0
        assert row["emulator_rss_mb"] > 0
    inventories = [r for r in scale["rows"] if r["flow"] == "inventory"]
    assert [r["result"] for r in inventories] == [  # every live project listed
        r["projects"] for r in inventories]
    assert [r["requests"] for r in inventories] == [1] * len(inventories)  # one list
    sweeps = [r for r in scale["rows"] if r["flow"] == "sweep"]
    assert [r["result"] for r in sweeps] == [r["orphans"] for r in sweeps]
    # One list, then the same requests for every orphan: its optimizations and its backtests
    # checked (the defaults), its delete.
    per_orphan = {(r["requests"] - 1) / r["orphans"] for r in sweeps}
    assert per_orphan == {3.0}, sweeps
    assert set(scale["profiles"]) == {"inventory", "sweep"}
    for profile in scale["profiles"].values():
        assert profile["top_own_time"] and profile["own_time_by_package_s"]

    optimization = results["optimization"]
    assert [(r["points"], r["nodes"], r["method"]) for r in optimization["rows"]] == [
        (points, nodes, method) for points in optimization["points"]
        for nodes in optimization["nodes"]
        for method in ("(a) lean CLI schedule", "(b) client wait")]
    for sample in optimization["samples"]:
        assert sample["complete"], sample
        assert sample["reads"] >= 1
        # Nobody can see the optimization finished before its last point ended.
        assert sample["lag_s"] >= -0.05, sample

    monitor = results["monitor"]
    assert [r["algorithms"] for r in monitor["rows"]] == monitor["sizes"]
    for row in monitor["rows"]:
        # One row per algorithm, each read as running; the promise on requests holds once
        # the run's one list is shared by more than one algorithm.
        assert row["completed"] and row["running"] == row["algorithms"], row
        assert row["peak_rss_mb"] > 0
    largest = monitor["rows"][-1]
    assert largest["requests_per_more"] is not None
    assert largest["requests_per_more"] <= monitor["target_requests_per_algorithm"]

    store = results["objectstore"]
    steps = store["steps"]
    assert store["completed"]
    assert steps["small_first_sync"]["uploaded"] == store["small_files"]
    assert steps["small_second_sync"]["uploaded"] == 0  # an unchanged folder: no upload
    assert steps["small_second_sync"]["unchanged"] == store["small_files"]
    assert steps["big_first_sync"]["uploaded"] == 1
    assert store["big_memory_ratio"] < store["target_memory_ratio"]

    assert "Compared with earlier" in completed.stdout
