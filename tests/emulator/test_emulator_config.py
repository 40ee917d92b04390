"""EmulatorConfig from the environment, and the qc-emulator command line generated from it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pydantic
import pytest
import requests

from quantconnect_emulator.cli import parse_args
from quantconnect_emulator.config import EmulatorConfig, FaultKind


def test_environment_fills_fields_and_nested_fields(monkeypatch):
    monkeypatch.setenv("QC_EMULATOR_SEED", "11")
    monkeypatch.setenv("QC_EMULATOR_FAULTS__FAULT_RATE", "0.25")
    monkeypatch.setenv("QC_EMULATOR_JOBS__BACKTEST_NODES", "3")
    monkeypatch.setenv("QC_EMULATOR_API_TOKEN", "from-env")
    config = EmulatorConfig()
    assert (config.seed, config.faults.fault_rate, config.jobs.backtest_nodes) == (11, 0.25, 3)
    assert config.api_token.get_secret_value() == "from-env"
    assert EmulatorConfig(seed=5).seed == 5  # code wins over the environment


def test_settings_errors_hide_the_input(monkeypatch):
    monkeypatch.setenv("QC_EMULATOR_USER_ID", "pasted-token-1234567890")
    with pytest.raises(pydantic.ValidationError) as caught:
        EmulatorConfig()
    assert "pasted-token-1234567890" not in str(caught.value)


def test_the_readme_flags_parse():
    config = parse_args(
        [
            "--port", "0", "--latency-ms", "50", "--latency-jitter-ms", "5",
            "--fault-rate", "0.1", "--faults", "http_502_html,http_429",
            "--slow-response-seconds", "2", "--rate-limit", "20", "--seed", "3",
            "--auth-failure-status", "200", "--max-timestamp-age", "1800",
            "--max-timestamp-future", "60", "--rename-duplicates", "--user-id", "777",
            "--api-token", "t0k",
        ]
    )  # fmt: skip
    faults = config.faults
    assert (faults.latency_ms, faults.latency_jitter_ms, faults.fault_rate) == (50, 5, 0.1)
    assert faults.fault_kinds == [FaultKind.HTTP_502_HTML, FaultKind.HTTP_429]
    assert (faults.slow_response_seconds, faults.rate_limit_per_second) == (2, 20)
    assert (config.port, config.seed, config.auth_failure_status, config.user_id) == (
        0,
        3,
        200,
        777,
    )
    assert (config.max_timestamp_age_seconds, config.max_timestamp_future_seconds) == (1800, 60)
    assert config.rename_duplicates_on_create is True
    assert config.api_token.get_secret_value() == "t0k"
    assert type(config) is EmulatorConfig


def test_job_flags_and_generated_long_forms():
    config = parse_args(
        ["--backtest-seconds", "5", "--backtest-nodes", "4", "--node-mode", "reject",
         "--compile-seconds", "0.5", "--total-performance-lag", "2",
         "--faults.retry-after-seconds", "7", "--max-name-length", "50"]
    )  # fmt: skip
    jobs = config.jobs
    assert (jobs.backtest_seconds, jobs.backtest_nodes, jobs.node_mode) == (5, 4, "reject")
    assert (jobs.compile_seconds, jobs.total_performance_lag_seconds) == (0.5, 2)
    assert (config.faults.retry_after_seconds, config.max_name_length) == (7, 50)
    assert parse_args([]).port == 8765  # the command's default port; in-process servers pick 0


@pytest.mark.parametrize(
    "args", [["--backtest-nodes", "0"], ["--node-mode", "later"], ["--latency-ms", "1e12"]]
)
def test_out_of_range_flags_exit_2(args):
    result = subprocess.run(
        [sys.executable, "-m", "quantconnect_emulator", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr


def test_a_real_start_on_port_0_answers_health_with_the_flags_applied():
    process = subprocess.Popen(
        [sys.executable, "-m", "quantconnect_emulator", "--port", "0", "--faults", "http_429",
         "--rate-limit", "50", "--backtest-nodes", "4", "--node-mode", "reject"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("QC_")},
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        root = first.rsplit(" ", 1)[1].strip().removesuffix("/api/v2")
        deadline = time.monotonic() + 15
        while True:
            try:
                health = requests.get(f"{root}/_emulator/health", timeout=2)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
        assert health.json()["status"] == "ok"
        faults = requests.get(f"{root}/_emulator/faults", timeout=2).json()
        assert faults["fault_kinds"] == ["http_429"] and faults["rate_limit_per_second"] == 50
        jobs = requests.get(f"{root}/_emulator/jobs", timeout=2).json()["config"]
        assert (jobs["backtest_nodes"], jobs["node_mode"]) == (4, "reject")
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
