"""Pure units of the emulator (no server): names, auth, params, token bucket, config."""

from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from pydantic import ValidationError

from quantconnect_emulator.account import Account
from quantconnect_emulator.auth import check_request_auth, expected_hash
from quantconnect_emulator.config import EmulatorConfig, FaultConfig, FaultKind, normalize_api_path
from quantconnect_emulator.faults import FaultEngine, TokenBucket
from quantconnect_emulator.naming import project_name_error
from quantconnect_emulator.params import ParamError, parse_request_params
from quantconnect_emulator.registry import ApiError
from quantconnect_emulator.resources.files import Files
from quantconnect_emulator.resources.projects import Projects
from quantconnect_emulator.templates import algorithm_class_name


def test_expected_hash_is_lowercase_hex_sha256_of_token_colon_timestamp():
    assert expected_hash("token", "1700000000") == (
        "c252f2e416aba35415549badd29726e9f9c0627a5e203639098e51f7caa5bba8"
    )


def test_auth_window_is_configurable():
    ts = "1000"
    digest = expected_hash("t", ts)
    headers = {
        "authorization": "Basic " + base64.b64encode(f"1:{digest}".encode()).decode(),
        "timestamp": ts,
    }

    def check(now: float) -> str | None:
        return check_request_auth(
            headers, user_id=1, api_token="t", now=now, max_age_seconds=60, max_future_seconds=5
        )

    assert check(1060) is None
    assert check(1061) is not None
    assert check(995) is None
    assert check(994) is not None


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("ok name/Sub_1-2", None),
        ("a.b", "Project name contains unsupported special character (.)"),
        ("a#b", "Project name contains unsupported special character (#)"),
        ("LPT9", "Project name contains a reserved name (LPT9)"),
        ("x/aux", "Project name contains a reserved name (aux)"),
        ("COM10", None),
        ("COM0", None),
    ],
)
def test_project_name_rules(name, error):
    assert project_name_error(name, max_length=200) == error


def test_normalize_api_path():
    assert normalize_api_path("projects/read") == "/projects/read"
    assert normalize_api_path("/api/v2//files/Update/") == "/files/update"
    assert FaultConfig(paths=["/api/v2/authenticate"]).paths == ["/authenticate"]


def test_form_values_are_strings_until_typed():
    params = parse_request_params(
        content_type="application/x-www-form-urlencoded; charset=utf-8",
        query_string=b"start=1",
        body=b"end=3&name=a+b&content=",
    )
    assert (params.get_int("start"), params.get_int("end")) == (1, 3)
    assert params.get_str("name") == "a b"
    assert params.get_str("content") == ""
    with pytest.raises(ParamError):
        params.require_int("projectId")


def test_token_bucket_refills():
    bucket = TokenBucket(10.0, now=0.0)
    assert all(bucket.take(now=0.0) is None for _ in range(10))
    assert bucket.take(now=0.0) == pytest.approx(0.1)
    assert bucket.take(now=0.1) is None
    assert FaultEngine.retry_after_header(0.1) == 1
    assert FaultEngine.retry_after_header(2.2) == 3


def test_fault_engine_paths_and_queue():
    engine = FaultEngine(FaultConfig(), seed=5)
    engine.inject("http_429", count=2)
    assert engine.choose_fault("/authenticate") is FaultKind.HTTP_429
    assert engine.pending_injections() == [{"kind": "http_429", "path": None, "count": 1}]
    with pytest.raises(ValueError):
        engine.inject("no_such_fault")
    with pytest.raises(ValueError):
        engine.inject(FaultKind.HTTP_429, count=0)


def test_config_validation_and_secret():
    config = EmulatorConfig(api_token="hush")
    assert "hush" not in repr(config) and "hush" not in str(config.model_dump())
    assert config.with_overrides(port=1).port == 1
    with pytest.raises(ValidationError):
        EmulatorConfig(organization_id="ABC")
    with pytest.raises(ValidationError):
        EmulatorConfig(auth_failure_status=403)
    with pytest.raises(ValidationError):
        FaultConfig(fault_rate=-0.1)


def test_resources_without_http():
    account = Account(EmulatorConfig(user_id=9, organization_id="0" * 32, seed=1))
    projects = Projects.of(account)
    project = projects.create("Unit", "Py")
    with pytest.raises(ApiError, match="already exists"):
        Files(account).create(project.project_id, "main.py", "x")
    projects.delete(project.project_id)
    projects.delete(project.project_id)
    with pytest.raises(ApiError, match="Project not found"):
        projects.require(project.project_id)


def test_class_names():
    assert algorithm_class_name("Folder/my project-2") == "MyProject2"
    assert algorithm_class_name("123") == "Algorithm123"


def test_importing_the_package_is_light():
    code = (
        "import sys, quantconnect_emulator, quantconnect_emulator.pytest_plugin;"
        "print(any(m in sys.modules for m in ('fastapi', 'uvicorn', 'starlette')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_fault_kind_names_are_exact():
    assert [kind.value for kind in FaultKind] == [
        "http_500_empty",
        "http_502_html",
        "http_503_html",
        "http_429",
        "connection_drop",
        "slow_response",
        "ambiguous_write",
    ]
    assert FaultConfig().fault_kinds == list(FaultKind)


def test_cli_sets_the_auth_window_and_duplicate_names():
    from quantconnect_emulator.cli import parse_args

    default = parse_args([])
    assert (default.max_timestamp_age_seconds, default.max_timestamp_future_seconds) == (7200, 300)
    assert default.rename_duplicates_on_create is False
    args = ["--max-timestamp-age", "1800", "--max-timestamp-future", "0", "--rename-duplicates"]
    config = parse_args(args)
    assert (config.max_timestamp_age_seconds, config.max_timestamp_future_seconds) == (1800, 0)
    assert config.rename_duplicates_on_create is True


def test_a_resource_listed_in_the_registry_hears_every_account_event(monkeypatch):
    # The recipe of quantconnect_emulator.resources: a new resource is a Resource subclass
    # listed in RESOURCES; the account tells it of its events, with no hook of its own.
    import quantconnect_emulator.account as account_module
    from quantconnect_emulator.config import JobsConfig
    from quantconnect_emulator.registry import Resource
    from quantconnect_emulator.resources import RESOURCES

    heard: list[object] = []

    class Listener(Resource):
        def project_removed(self, project_id: int) -> None:
            heard.append(("removed", project_id))

        def jobs_changed(self) -> None:
            heard.append(("jobs", self.account.jobs_config.backtest_nodes))

        def stats(self) -> dict[str, int]:
            return {"listener_events": len(heard)}

    monkeypatch.setattr(account_module, "RESOURCES", (*RESOURCES, Listener))
    account = Account(EmulatorConfig(seed=4))
    project = Projects.of(account).create("Heard", "Py")
    Projects.of(account).delete(project.project_id)  # to the Recycle Bin
    Projects.of(account).delete(project.project_id)  # purged
    account.jobs_config = JobsConfig(backtest_nodes=5)
    account.jobs_changed()
    stats = account.extra_stats()
    assert heard == [("removed", project.project_id)] * 2 + [("jobs", 5)]
    assert stats["listener_events"] == 3
    assert stats["backtest_nodes"] == 5  # the listed resources still answer alongside
