"""Turn the figures into text tables, check the bounds, and compare with an earlier run."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"
    separator = "| " + " | ".join("-" * w for w in widths) + " |"
    return "\n".join([line(headers), separator, *(line(r) for r in rows)])


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


def lifecycle_table(section: dict[str, Any]) -> str:
    """Section 1 as a markdown table, then the ratios."""
    rows = []
    for data in section["variants"].values():
        rows.append([
            data["label"], _ms(data["wall_s"]), str(data["requests"]), _ms(data["floor_s"]),
            _ms(data["overhead_s"]), _ms(data["before_first_request_s"]),
            _ms(data["between_requests_s"]), _ms(data["after_last_request_s"]),
            f"{data['wall_s'] / (section['variants']['plain']['wall_s'] or 1e-9):.2f}",
        ])
    table = _table(
        ["variant", "wall ms", "requests", "floor ms", "over floor ms", "before 1st ms",
         "between ms", "after last ms", "÷ (a)"],
        rows,
    )
    target = section["target_ratio_flow_to_plain"]
    ratio = section["ratio_flow_to_plain"]
    verdict = "met" if ratio <= target else "NOT met"
    rounds = section.get("round_ratios_flow_to_plain") or [ratio]
    within = sum(r <= target for r in rounds)
    lines = [
        f"(c)/(a) = {ratio:.2f} (target <= {target}: {verdict}); per round "
        f"{min(rounds):.2f}-{max(rounds):.2f}, {within} of {len(rounds)} rounds within target; "
        f"(b)/(a) = {section['ratio_client_to_plain']:.2f}",
        f"one Prefect API session saves {section['session_saves_s'] * 1000:.0f} ms per run: "
        f"(c1)/(a) = {section['ratio_flow_cold_to_plain']:.2f}; with the default delete check "
        f"(one more read): (c2)/(a) = {section['ratio_flow_verified_to_plain']:.2f}",
    ]
    if ratio > target and section["break_even_latency_ms"] is not None:
        lines.append("the target would be met from ~"
                     f"{section['break_even_latency_ms']:g} ms per request")
    lines.append(f"medians of {section['repetitions']} at {section['latency_ms']:g} ms per "
                 f"request; flow requests: {', '.join(section['variants']['flow']['paths'])}")
    return table + "\n\n" + "\n".join(lines)


def bulk_table(section: dict[str, Any]) -> str:
    """Section 2 as a markdown table, then the headline speed-up."""
    rows = [[
        v["label"], f"{v['wall_s']:.2f}", f"{v['floor_s']:.2f}", f"{v['wall_to_floor']:.2f}",
        f"{v.get('before_first_request_s', 0.0):.2f}",
        str(v["requests"]), f"{v['requests_per_second']:.1f}", f"{v['speedup_vs_plain']:.1f}x",
        f"{v['peak_in_flight']} / {v['bound']}" + ("" if v["within_bound"] else " EXCEEDED"),
        "yes" if v["completed"] else "NO",
    ] for v in section["variants"]]
    table = _table(
        ["variant", "wall s", "floor s", "wall ÷ floor", "before 1st s", "requests", "req/s",
         "speed-up", "peak in flight / bound", "all removed"],
        rows,
    )
    at16 = [v for v in section["variants"] if v["label"].startswith("sweeper")
            and v["concurrency"] == 16]
    headline = ""
    if at16:
        target = section["target_speedup_at_16"]
        speedup = at16[0]["speedup_vs_plain"]
        headline = (f"\n\nsweeper at 16 vs plain loop: {speedup:.1f}x "
                    f"(target >= {target:g}x: {'met' if speedup >= target else 'NOT met'})")
    return (f"{table}{headline}\nN = {section['n']}, {section['latency_ms']:g} ms per request, "
            f"medians of {section['repetitions']}; floor = (1 list + N deletes ÷ concurrency) x "
            "latency")


def overhead_table(section: dict[str, Any]) -> str:
    """Section 3 as a markdown table."""
    names = {
        "bare_session": "bare requests session (keep-alive, signed)",
        "docs_new_connection": "docs style: requests.post, new connection",
        "client": "project client (projects.read)",
        "task_in_flow": "Prefect task run (read_project) in one flow",
        "flow_run_one_task": "whole async flow run around one task",
        "flow_run_in_session": "the same, in one Prefect API session",
    }
    rows = [[label, f"{section['per_op_ms'][key]:.2f}", f"{section['over_bare_ms'][key]:+.2f}"]
            for key, label in names.items()]
    return (_table(["layer (latency 0)", "ms per op", "ms over bare"], rows)
            + f"\nmedians of {section['batches']} batches of {section['reads_per_batch']} reads; "
            f"flow runs: medians of {section['flow_runs_per_batch']} single runs")


def memory_table(section: dict[str, Any]) -> str:
    """Section 4 as a markdown table."""
    rows = [[label, f"{section[key]['rss_after_imports_mb']:.0f}",
             f"{section[key]['peak_rss_mb']:.0f}", "yes" if section[key]["completed"] else "NO"]
            for key, label in (("plain", "plain script process"), ("flow", "flow process"))]
    return (_table(["process", "RSS after imports MiB", "peak RSS MiB", "completed"], rows)
            + f"\neach: one lifecycle + a sweep of {section['sweep_n']} projects "
            f"(flow side at concurrency {section['sweep_concurrency']}); the benchmark process "
            f"itself peaked at {section['benchmark_process_peak_rss_mb']:.0f} MiB")


def _opt(value: float | None, form: str) -> str:
    return "" if value is None else format(value, form)


def wait_table(section: dict[str, Any]) -> str:
    """Section 5 as a markdown table, then the targets."""
    rows = []
    for row in section["rows"]:
        read = row["results_read_delay_s"]
        target = row.get("target_met")
        rows.append([
            f"{row['duration_s']:g} s", row["method"], f"{row['reads']:g}",
            f"{row.get('reads_vs_lean', 1.0):.2f}", f"{row['delay_s']:.2f}",
            f"{row['max_delay_s']:.2f}", "" if read is None else f"{read:.2f}",
            "" if target is None else ("met" if target else "NOT met"),
        ])
    table = _table(["backtest", "method", "reads", "reads ÷ (a)", "delay after settled s",
                    "max delay s", "(c) results read s", "target"], rows)
    return (f"{table}\nmedians of {section['samples_per_method']} per method and duration at "
            f"{section['latency_ms']:g} ms per request; compile {section['compile_s']:g} s, "
            f"totalPerformance {section['total_performance_lag_s']:g} s after completion; "
            f"target for (b) and (c): delay <= {section['target_delay_s']:g} s and reads <= "
            f"{section['target_reads_vs_lean']:g} x (a)'s; (c)'s delay is to the flow's return "
            "(report, chart, clean-up done), 'results read' to the end of the read that "
            "delivered them")


def grid_table(section: dict[str, Any]) -> str:
    """Section 6 as a markdown table, then the target."""
    rows = [[
        v["label"], v["node_mode"], f"{v['makespan_s']:.1f}", f"{v['makespan_to_floor']:.2f}",
        f"{v['peak_running_backtests']} / {section['nodes']}"
        + ("" if v["within_nodes"] else " EXCEEDED"),
        f"{v['completed_sets']} / {section['sets']}", str(v["refused"]),
        str(v["resubmissions"]), str(v["requests"]),
        _opt(v.get("before_first_start_s"), ".1f"), _opt(v.get("node_idle_s"), ".2f"),
        _opt(v.get("next_start_after_settle_s"), ".2f"), _opt(v.get("after_last_settle_s"), ".1f"),
    ] for v in section["variants"]]
    table = _table(["variant", "node mode", "makespan s", "÷ floor", "peak running / nodes",
                    "sets done", "lost: node busy", "resubmitted", "requests",
                    "to 1st start s", "node idle s", "next start after settle s",
                    "after last settle s"], rows)
    flows = [v for v in section["variants"] if v["label"].startswith("backtest-grid")]
    targets = section["target_makespan_to_floor"]
    if not isinstance(targets, dict):  # results written before the targets were per mode
        targets = {v["node_mode"]: targets for v in flows}

    def verdict(v: dict[str, Any]) -> str:
        target = targets[v["node_mode"]]
        met = v["makespan_to_floor"] <= target and v["within_nodes"] and v["refused"] == 0
        # Three decimals: at two, 1.084 would read "1.08x, NOT met" against a 1.08 target.
        return (f"{v['node_mode']} {v['makespan_to_floor']:.3f}x (target <= {target:g}x: "
                f"{'met' if met else 'NOT met'})")

    verdicts = ", ".join(verdict(v) for v in flows)
    return (f"{table}\n\nbacktest-grid vs floor: {verdicts} (never above "
            f"{section['nodes']} running, none lost)\n{section['sets']} sets, {section['nodes']} "
            f"nodes, {section['backtest_s']:g} s per backtest, totalPerformance "
            f"{section['total_performance_lag_s']:g} s later, {section['latency_ms']:g} ms per "
            f"request; floor = {section['floor_s']:g} s (rounds x backtest + one compile)")


def scale_table(section: dict[str, Any]) -> str:
    """Section 7 as a markdown table, then the profiles' headlines."""
    rows = [[
        r["flow"], f"{r['projects']:,}", f"{r['wall_s']:.2f}", f"{r['wall_ms_per_1000']:.0f}",
        _opt(r["wall_ms_per_1000_more"], ".0f"), str(r["requests"]),
        f"{r.get('list_request_s', 0.0):.2f}",
        f"{r['flow_rss_before_mb']:.0f} → {r['flow_peak_rss_mb']:.0f}",
        _opt(r["flow_peak_mb_per_1000_more"], ".2f"),
        _opt(r["emulator_rss_mb"], ".0f"), _opt(r["emulator_mb_per_1000_more"], ".2f"),
        "yes" if r["completed"] else "NO",
    ] for r in section["rows"]]
    table = _table(["flow", "projects", "wall s", "ms / 1k", "ms / 1k more", "requests",
                    "list answer s", "flow MiB start → peak", "flow growth MiB / 1k more",
                    "emulator MiB", "emulator MiB / 1k more", "completed"], rows)
    lines = [f"{section['orphan_share']:.0%} of each account are orphans (deleted by the sweep, "
             f"concurrency {section['sweep_concurrency']}), the rest ordinary projects; "
             f"{section['latency_ms']:g} ms per request; both flows in one fresh process per "
             "size; flow growth: its peak over its own start; '/ 1k more': growth per 1,000 more "
             "projects since the previous size (flat = linear); 'list answer': the emulator's "
             "time for the one list of every project, latency included"]
    for flow, found in section.get("profiles", {}).items():
        parts = ", ".join(f"{k} {v:.2f}" for k, v in
                          list(found["own_time_by_package_s"].items())[:6])
        top = ", ".join(f"{t['function']} {t['own_s']:.2f}" for t in found["top_own_time"][:4])
        lines.append(f"profile, {flow} over {found['projects']:,} ({found['total_s']:.1f} s "
                     f"under cProfile), own time s by part: {parts}; functions: {top}")
    return table + "\n" + "\n".join(lines)


def optimization_table(section: dict[str, Any]) -> str:
    """Section 8 (see :mod:`benchmarks.optimization_wait`)."""
    from .optimization_wait import table

    return table(section)


def monitor_table(section: dict[str, Any]) -> str:
    """Section 9 (see :mod:`benchmarks.monitor_cost`)."""
    from .monitor_cost import table

    return table(section)


def objectstore_table(section: dict[str, Any]) -> str:
    """Section 10 (see :mod:`benchmarks.objectstore`)."""
    from .objectstore import table

    return table(section)


def render(results: dict[str, Any]) -> str:
    """The whole report as text (markdown tables)."""
    meta = results["meta"]
    parts = [
        f"Benchmark {meta['date']} on {meta['machine']} - Python {meta['python']}, "
        f"Prefect {meta['prefect']}{' (quick mode)' if meta['quick'] else ''}",
    ]
    titles = {
        "lifecycle": ("1. Lifecycle: create → read → update → read → delete", lifecycle_table),
        "bulk": ("2. Bulk: sweep N temporary projects", bulk_table),
        "overhead": ("3. Overhead per operation", overhead_table),
        "memory": ("4. Peak memory", memory_table),
        "wait": ("5. Waiting for a backtest", wait_table),
        "grid": ("6. Filling the nodes: a grid of backtests", grid_table),
        "scale": ("7. How cost grows with the account", scale_table),
        "optimization": ("8. Waiting for an optimization", optimization_table),
        "monitor": ("9. What a monitor-live run costs", monitor_table),
        "objectstore": ("10. Object Store sync", objectstore_table),
    }
    for key, (title, make) in titles.items():
        if key in results:
            parts.append(f"### {title}\n\n{make(results[key])}")
    if results.get("problems"):
        parts.append("PROBLEMS:\n" + "\n".join(f"- {p}" for p in results["problems"]))
    return "\n\n".join(parts)


def problems(results: dict[str, Any]) -> list[str]:
    """What makes a run invalid (never a timing): a bound exceeded, a run not completed."""
    found = []
    for variant in results.get("bulk", {}).get("variants", []):
        if not variant["within_bound"]:
            found.append(f"{variant['label']}: {variant['peak_in_flight']} requests in flight, "
                         f"bound {variant['bound']}")
        if not variant["completed"]:
            found.append(f"{variant['label']}: not every project was removed")
    for name, data in results.get("lifecycle", {}).get("variants", {}).items():
        if not data["completed"]:
            found.append(f"lifecycle {name}: not every repetition completed")
    memory = results.get("memory", {})
    for mode in ("plain", "flow"):
        if mode in memory and not memory[mode]["completed"]:
            found.append(f"memory probe {mode}: did not complete its work")
    for row in results.get("wait", {}).get("rows", []):
        if not row["completed"]:
            found.append(f"wait {row['method']} {row['duration_s']:g} s: results not delivered")
    for variant in results.get("grid", {}).get("variants", []):
        if not variant["within_nodes"]:
            found.append(f"grid {variant['label']} ({variant['node_mode']}): "
                         f"{variant['peak_running_backtests']} backtests running at once")
        if variant["label"].startswith("backtest-grid") and (
            variant["completed_sets"] != results["grid"]["sets"] or variant["refused"]
        ):
            found.append(f"grid {variant['label']} ({variant['node_mode']}): not every set done")
    for row in results.get("optimization", {}).get("rows", []):
        if not row["completed"]:
            found.append(f"optimization {row['points']} points on {row['nodes']} nodes "
                         f"{row['method']}: not completed")
    for row in results.get("monitor", {}).get("rows", []):
        if not row["completed"]:
            found.append(f"monitor over {row['algorithms']}: not one row per algorithm")
    store = results.get("objectstore")
    if store is not None and not store["completed"]:
        found.append("object store: not every file uploaded, or the download differs")
    for row in results.get("scale", {}).get("rows", []):
        if not row["completed"]:
            found.append(f"scale {row['flow']} over {row['projects']}: did not complete")
    return found


def headline(results: dict[str, Any]) -> dict[str, float]:
    """The figures a comparison looks at, by name."""
    figures: dict[str, float] = {}
    for name, data in results.get("lifecycle", {}).get("variants", {}).items():
        figures[f"lifecycle {name} wall s"] = data["wall_s"]
    if "lifecycle" in results:
        figures["lifecycle (c)/(a)"] = results["lifecycle"]["ratio_flow_to_plain"]
    for variant in results.get("bulk", {}).get("variants", []):
        figures[f"bulk {variant['label']} wall s"] = variant["wall_s"]
    for key, value in results.get("overhead", {}).get("per_op_ms", {}).items():
        figures[f"overhead {key} ms/op"] = value
    for mode in ("plain", "flow"):
        if mode in results.get("memory", {}):
            figures[f"memory {mode} peak MiB"] = results["memory"][mode]["peak_rss_mb"]
    for row in results.get("wait", {}).get("rows", []):
        key = f"wait {row['duration_s']:g}s {row['method'][:3]}"
        figures[f"{key} delay s"] = row["delay_s"]
        figures[f"{key} reads"] = row["reads"]
    for variant in results.get("grid", {}).get("variants", []):
        figures[f"grid {variant['label']} {variant['node_mode']} makespan s"] = (
            variant["makespan_s"])
    for row in results.get("optimization", {}).get("rows", []):
        key = f"optimization {row['points']}x{row['nodes']} {row['method'][:3]}"
        figures[f"{key} lag s"] = row["lag_s"]
        figures[f"{key} reads"] = row["reads"]
    for row in results.get("monitor", {}).get("rows", []):
        figures[f"monitor {row['algorithms']} s"] = row["seconds"]
        figures[f"monitor {row['algorithms']} requests"] = row["requests"]
    for key, step in results.get("objectstore", {}).get("steps", {}).items():
        figures[f"objectstore {key} s"] = step["seconds"]
        figures[f"objectstore {key} Python peak MiB"] = step["traced_peak_mib"]
    for row in results.get("scale", {}).get("rows", []):
        figures[f"scale {row['flow']} {row['projects']} ms/1k"] = row["wall_ms_per_1000"]
    return figures


def _deltas(old: dict[str, Any], new: dict[str, Any]) -> Iterator[list[str]]:
    before, after = headline(old), headline(new)
    for name, value in after.items():
        if name in before:
            change = value - before[name]
            percent = f"{change / before[name] * 100:+.0f}%" if before[name] else "n/a"
            yield [name, f"{before[name]:g}", f"{value:g}", f"{change:+.4g}", percent]


def compare(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A table of headline figures: the earlier run's, this run's, and the change."""
    rows = list(_deltas(old, new))
    if not rows:
        return "Nothing to compare: the earlier run has none of these figures."
    settings = [k for k in ("latency_ms", "bulk_n", "quick")
                if old.get("meta", {}).get(k) != new["meta"].get(k)]
    note = f"\n(settings differ: {', '.join(settings)})" if settings else ""
    return (f"Compared with {old.get('meta', {}).get('date', '?')}:\n"
            + _table(["figure", "before", "now", "change", "%"], rows) + note)
