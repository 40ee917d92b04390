"""``qc-emulator``: serve the QuantConnect API emulator until SIGINT/SIGTERM.

The command line is generated from :class:`~quantconnect_emulator.config.EmulatorConfig`
by pydantic-settings (``CliApp``): every field is a flag (``--max-name-length``,
``--faults.fault-rate``, ``--jobs.backtest-nodes``...), environment variables
``QC_EMULATOR_*`` fill what the command line leaves out, and the short forms the
README uses are aliases (:data:`SHORTCUTS`): ``--latency-ms``, ``--fault-rate``,
``--faults a,b`` (the fault kinds), ``--rate-limit``, ``--max-timestamp-age``,
``--rename-duplicates``, ``--backtest-seconds``, ``--backtest-nodes``,
``--node-mode``...

Example:
    $ qc-emulator --port 8765 --latency-ms 50 --fault-rate 0.1 --faults http_500_empty,http_429
    QuantConnect API emulator listening on http://127.0.0.1:8765/api/v2
    ...

The token is echoed only when it is the well-known default ``emulator-token``;
a token given with ``--api-token`` or ``QC_EMULATOR_API_TOKEN`` is never printed.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Sequence
from types import FrameType

from pydantic import Field, ValidationError
from pydantic_settings import CliApp, SettingsConfigDict, SettingsError

from quantconnect_emulator.config import (
    API_PREFIX,
    CONTROL_PREFIX,
    DEFAULT_API_TOKEN,
    EmulatorConfig,
)

#: Port of ``qc-emulator`` when none is given (an in-process server picks a free one).
DEFAULT_CLI_PORT = 8765
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

#: Short flags (the README's) for generated ones: generated name -> alias.
SHORTCUTS: dict[str, str] = {
    "faults.latency-ms": "latency-ms",
    "faults.latency-jitter-ms": "latency-jitter-ms",
    "faults.fault-rate": "fault-rate",
    "faults.slow-response-seconds": "slow-response-seconds",
    "faults.retry-after-seconds": "retry-after-seconds",
    "faults.rate-limit-per-second": "rate-limit",
    "max-timestamp-age-seconds": "max-timestamp-age",
    "max-timestamp-future-seconds": "max-timestamp-future",
    "rename-duplicates-on-create": "rename-duplicates",
    "jobs.compile-seconds": "compile-seconds",
    "jobs.backtest-seconds": "backtest-seconds",
    "jobs.backtest-nodes": "backtest-nodes",
    "jobs.node-mode": "node-mode",
    "jobs.total-performance-lag-seconds": "total-performance-lag",
    "jobs.chart-loading-seconds": "chart-loading-seconds",
    "jobs.compile-not-found-seconds": "compile-not-found-seconds",
    "jobs.results-lag-seconds": "results-lag-seconds",
    "jobs.results-lag-missing": "results-lag-missing",
    "jobs.queued-statistics": "queued-statistics",
    "jobs.running-statistics": "running-statistics",
}

#: ``--faults`` is the name pydantic-settings gives the whole nested model (as JSON);
#: the README's ``--faults a,b`` means the kinds, so that one flag is renamed before parsing.
_FAULT_KINDS_FLAG = "--faults.fault-kinds"


class EmulatorCommand(EmulatorConfig):
    """Offline emulator of the QuantConnect REST API v2 (results of backtests are simulated).

    Every flag can also come from QC_EMULATOR_<FIELD> (nested fields with __, e.g.
    QC_EMULATOR_FAULTS__FAULT_RATE=0.1, QC_EMULATOR_JOBS__BACKTEST_NODES=4).
    """

    model_config = SettingsConfigDict(
        cli_prog_name="qc-emulator",
        cli_kebab_case=True,
        cli_implicit_flags=True,
        cli_avoid_json=True,
        cli_hide_none_type=True,
        cli_exit_on_error=True,
        cli_shortcuts=SHORTCUTS,
    )

    port: int = Field(default=DEFAULT_CLI_PORT, ge=0, le=65535)
    """TCP port; ``0`` picks a free port."""

    def config(self) -> EmulatorConfig:
        """The plain configuration (what :func:`serve` runs)."""
        data = self.model_dump()
        data["api_token"] = self.api_token
        return EmulatorConfig.model_validate(data)


def _translate(argv: Sequence[str]) -> list[str]:
    """Rename ``--faults X`` / ``--faults=X`` to the generated kinds flag."""
    result: list[str] = []
    for arg in argv:
        if arg == "--faults":
            result.append(_FAULT_KINDS_FLAG)
        elif arg.startswith("--faults="):
            result.append(_FAULT_KINDS_FLAG + arg[len("--faults") :])
        else:
            result.append(arg)
    return result


def parse_args(argv: Sequence[str] | None = None) -> EmulatorConfig:
    """Parse a command line (``None``: ``sys.argv[1:]``) into a configuration.

    Raises:
        SystemExit: ``--help``, or a flag argparse cannot parse (status 2).
        ValidationError: A value out of range or of the wrong kind (input hidden).

    Example:
        >>> config = parse_args(
        ...     ["--faults", "http_429", "--rate-limit", "5", "--backtest-nodes", "4"]
        ... )
        >>> [k.value for k in config.faults.fault_kinds], config.faults.rate_limit_per_second
        (['http_429'], 5.0)
        >>> config.jobs.backtest_nodes, config.port
        (4, 8765)
    """
    args = list(sys.argv[1:] if argv is None else argv)
    command = CliApp.run(EmulatorCommand, cli_args=_translate(args), cli_cmd_method_name="_none")
    return command.config()


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(config: EmulatorConfig) -> int:
    """Listen, print the banner, and serve until SIGINT/SIGTERM."""
    import uvicorn

    from quantconnect_emulator.app import create_app
    from quantconnect_emulator.server import bind_socket, uvicorn_config

    try:
        warning = config.check_bind()
    except ValueError as exc:
        print(f"qc-emulator: {exc}", file=sys.stderr)
        return 2
    if warning:
        print(warning, file=sys.stderr)
    try:
        sock = bind_socket(config.host, config.port)
    except OSError as exc:
        print(f"qc-emulator: cannot listen on {config.host}:{config.port}: {exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    host = f"[{config.host}]" if ":" in config.host else config.host
    root = f"http://{host}:{port}"
    token = config.api_token.get_secret_value()
    shown_token = token if token == DEFAULT_API_TOKEN else "(as configured; not shown)"
    jobs = config.jobs
    print(f"QuantConnect API emulator listening on {root}{API_PREFIX}")
    print(f"  user id:   {config.user_id}")
    print(f"  api token: {shown_token}")
    print(
        f"  jobs:      compile {jobs.compile_seconds:g} s, backtest {jobs.backtest_seconds:g} s, "
        f"{jobs.backtest_nodes} node(s), mode {jobs.node_mode} (results simulated)"
    )
    print(f"  control:   {root}{CONTROL_PREFIX}/health, /state, /stats, /requests, /faults, /jobs")
    print("Press Ctrl+C to stop.", flush=True)
    server = uvicorn.Server(uvicorn_config(create_app(config)))
    # uvicorn handles SIGINT/SIGTERM (graceful shutdown), then re-raises the
    # signal to the previous handler: make that a clean exit, not a traceback.
    previous = {sig: signal.signal(sig, _exit_quietly) for sig in _STOP_SIGNALS}
    try:
        server.run(sockets=[sock])
    except SystemExit:
        pass
    finally:
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``qc-emulator`` and ``python -m quantconnect_emulator``."""
    try:
        config = parse_args(argv)
    except (ValidationError, SettingsError) as exc:
        print(f"qc-emulator: error: invalid settings: {exc}", file=sys.stderr)
        return 2
    return serve(config)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
