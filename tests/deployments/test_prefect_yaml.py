"""``prefect.yaml`` and the ``deployments`` package, checked without a server (fast)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.client.schemas.objects import ConcurrencyLimitStrategy

from deployments import CREDENTIALS_BLOCK_NAME, PREFECT_YAML, WORK_POOL_NAME
from deployments.serve import runner_deployments
from deployments.setup import main as setup_main
from deployments.spec import load_deployment_specs
from flows.projects.forms import LifecycleOptions

SPECS = {spec.name: spec for spec in load_deployment_specs()}


def test_the_file_defines_the_deployments_on_the_process_pool() -> None:
    assert list(SPECS) == [
        "lifecycle-check", "sweeper", "inventory", "bulk-update", "object-store-sync",
        "nightly-backtest", "grid", "optimizer", "deploy-live", "monitor-live", "stop-live",
    ]
    for spec in SPECS.values():
        assert spec.work_pool["name"] == WORK_POOL_NAME
        assert spec.enforce_parameter_schema is True
        assert spec.env == {"PREFECT_LOGGING_EXTRA_LOGGERS": "quantconnect_client"}


@pytest.mark.parametrize("name", [name for name in SPECS if name != "bulk-update"])
def test_default_parameters_validate_against_the_flow(name: str) -> None:
    spec = SPECS[name]
    validated = spec.load_flow().validate_parameters(spec.parameters)
    assert validated["credentials_block"] == CREDENTIALS_BLOCK_NAME
    assert validated["credentials"] is None


def test_credentials_are_referenced_by_block_name_only() -> None:
    text = PREFECT_YAML.read_text()
    assert "api_token" not in text and "QC_API_TOKEN" not in text
    for spec in SPECS.values():
        assert set(spec.parameters) - {"options"} == {"credentials_block"}


def test_backtests_cost_nodes_so_the_nightly_ships_switched_off_with_a_gate() -> None:
    [nightly] = SPECS["nightly-backtest"].prefect_schedules()
    assert nightly.cron == "0 2 * * *" and not nightly.active
    assert SPECS["grid"].prefect_schedules() == []
    options = SPECS["nightly-backtest"].load_flow().validate_parameters(
        SPECS["nightly-backtest"].parameters
    )["options"]
    assert options.gate is not None and options.gate.compare_to_baseline
    assert options.gate.accept_baseline == "if passed"
    assert options.strategy.strategy_folder == "strategies/sma_crossover_py"
    grid = SPECS["grid"].load_flow().validate_parameters(SPECS["grid"].parameters)["options"]
    assert len(grid.sets()) == 6


def test_the_optimizer_bills_so_it_ships_unscheduled_with_its_guard() -> None:
    spec = SPECS["optimizer"]
    assert spec.prefect_schedules() == []
    options = spec.load_flow().validate_parameters(spec.parameters)["options"]
    assert options.points() == 12 and options.guard.max_dollars == 5
    limit = spec.prefect_concurrency_limit()
    assert limit is not None and not isinstance(limit, int) and limit.limit == 1


def test_the_object_store_sync_ships_on_demand_as_a_dry_run_one_at_a_time() -> None:
    spec = SPECS["object-store-sync"]
    assert spec.prefect_schedules() == []
    options = spec.load_flow().validate_parameters(spec.parameters)["options"]
    assert options.dry_run is True and options.delete_missing is False
    assert options.prefix == "data" and not options.whole_store
    limit = spec.prefect_concurrency_limit()
    assert limit is not None and not isinstance(limit, int) and limit.limit == 1


def test_schedules_sweeper_every_30_minutes_and_lifecycle_only_if_switched_on() -> None:
    [sweep] = SPECS["sweeper"].prefect_schedules()
    assert sweep.interval is not None and sweep.interval.total_seconds() == 1800 and sweep.active
    [hourly] = SPECS["lifecycle-check"].prefect_schedules()
    assert hourly.cron == "0 * * * *" and hourly.active is False
    assert SPECS["inventory"].prefect_schedules() == []
    assert SPECS["bulk-update"].prefect_schedules() == []


def test_live_deployments_are_paper_on_demand_and_the_monitor_ships_switched_off() -> None:
    from prefect.exceptions import ParameterTypeError

    [monitor] = SPECS["monitor-live"].prefect_schedules()
    assert monitor.interval is not None and monitor.interval.total_seconds() == 300
    assert monitor.active is False
    assert SPECS["deploy-live"].prefect_schedules() == []
    assert SPECS["stop-live"].prefect_schedules() == []
    validate = {name: SPECS[name].load_flow().validate_parameters for name in SPECS}
    deploy = validate["deploy-live"](SPECS["deploy-live"].parameters)["options"]
    assert deploy.is_paper and deploy.gate_backtest and not deploy.replace
    with pytest.raises(ParameterTypeError, match="REAL MONEY"):
        validate["deploy-live"]({**SPECS["deploy-live"].parameters,
                                 "options": {"brokerage": "InteractiveBrokersBrokerage"}})
    monitor_options = validate["monitor-live"](SPECS["monitor-live"].parameters)["options"]
    assert monitor_options.on_alarm == "none" and monitor_options.selects_everything()
    stop = validate["stop-live"](SPECS["stop-live"].parameters)["options"]
    assert stop.dry_run is True
    with pytest.raises(ParameterTypeError, match="all_algorithms"):
        validate["stop-live"]({**SPECS["stop-live"].parameters, "options": {}})
    for name in ("deploy-live", "monitor-live", "stop-live"):
        limit = SPECS[name].prefect_concurrency_limit()
        assert limit is not None and not isinstance(limit, int) and limit.limit == 1


def test_bulk_update_asks_for_a_change_and_defaults_to_a_dry_run_one_at_a_time() -> None:
    from prefect.exceptions import ParameterTypeError

    spec = SPECS["bulk-update"]
    flow = spec.load_flow()
    with pytest.raises(ParameterTypeError, match="options"):
        flow.validate_parameters(spec.parameters)  # no default change to apply
    chosen = {**spec.parameters, "options": {"description": "Reviewed"}}
    assert flow.validate_parameters(chosen)["options"].dry_run is True
    with pytest.raises(ParameterTypeError, match="all_projects"):
        flow.validate_parameters({**chosen, "options": {"description": "x", "dry_run": False}})
    limit = spec.prefect_concurrency_limit()
    assert limit is not None and not isinstance(limit, int) and limit.limit == 1
    assert limit.collision_strategy == ConcurrencyLimitStrategy.ENQUEUE


def test_an_invalid_parameter_does_not_validate() -> None:
    from prefect.exceptions import ParameterTypeError

    flow = SPECS["lifecycle-check"].load_flow()
    with pytest.raises(ParameterTypeError):
        flow.validate_parameters({"options": {"language": "Java"}})
    assert LifecycleOptions().language == "Py"


def test_pull_step_uses_the_checkout_the_deploy_runs_in() -> None:
    document = yaml.safe_load(PREFECT_YAML.read_text())
    [build] = document["build"]
    assert build["prefect.deployments.steps.run_shell_script"]["id"] == "checkout"
    assert document["pull"] == [
        {"prefect.deployments.steps.set_working_directory": {"directory": "{{ checkout.stdout }}"}}
    ]


def test_serve_builds_every_deployment_for_the_async_flows() -> None:
    deployments = runner_deployments()
    assert [d.name for d in deployments] == list(SPECS)
    for deployment, spec in zip(deployments, SPECS.values(), strict=True):
        assert deployment.entrypoint == spec.module_path
        assert deployment.parameters == spec.parameters
        assert deployment.enforce_parameter_schema is True
        assert [s.active for s in deployment.schedules or []] == [
            s.get("active", True) for s in spec.schedules
        ]
    with pytest.raises(ValueError, match="no-such"):
        runner_deployments(["no-such"])


def test_setup_refuses_without_qc_credentials(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # tests/conftest.py removed QC_*, and no .env here: it stops before touching any server.
    monkeypatch.chdir(tmp_path)
    assert setup_main([]) == 2
    assert "QC_API_TOKEN" in capsys.readouterr().out
