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
    for number, section in enumerate(("lifecycle", "bulk", "overhead", "memory"), start=1):
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

    assert "Compared with earlier" in completed.stdout
