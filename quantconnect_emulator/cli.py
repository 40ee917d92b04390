"""``qc-emulator``: serve the QuantConnect API emulator until SIGINT/SIGTERM.

Example:
    $ qc-emulator --port 8765 --latency-ms 50 --fault-rate 0.1 --faults http_500_empty,http_429
    QuantConnect API emulator listening on http://127.0.0.1:8765/api/v2
    ...

The token is echoed only when it is the well-known default ``emulator-token``;
a token given with ``--api-token`` or ``QC_EMULATOR_API_TOKEN`` is never printed.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from types import FrameType

from quantconnect_emulator.config import (
    API_PREFIX,
    CONTROL_PREFIX,
    DEFAULT_API_TOKEN,
    DEFAULT_USER_ID,
    EmulatorConfig,
    FaultConfig,
    FaultKind,
)

TOKEN_ENV = "QC_EMULATOR_API_TOKEN"
_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
USER_ID_ENV = "QC_EMULATOR_USER_ID"


def _exit_quietly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _fault_kinds(value: str) -> list[FaultKind]:
    try:
        return [FaultKind(item.strip()) for item in value.split(",") if item.strip()]
    except ValueError as exc:
        choices = ", ".join(kind.value for kind in FaultKind)
        raise argparse.ArgumentTypeError(f"{exc}; choose from: {choices}") from exc


def build_parser() -> argparse.ArgumentParser:
    """The command-line parser of ``qc-emulator``."""
    parser = argparse.ArgumentParser(
        prog="qc-emulator",
        description="Offline emulator of the QuantConnect REST API v2 (projects and files).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8765, help="port, 0 = free (default: %(default)s)"
    )
    parser.add_argument(
        "--user-id",
        type=int,
        default=int(os.environ.get(USER_ID_ENV, DEFAULT_USER_ID)),
        help=f"user id to accept (env {USER_ID_ENV}; default: {DEFAULT_USER_ID})",
    )
    parser.add_argument(
        "--api-token",
        default=None,
        help=f"API token to accept (env {TOKEN_ENV}; default: {DEFAULT_API_TOKEN})",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fixed latency per request")
    parser.add_argument("--latency-jitter-ms", type=float, default=0.0, help="extra random latency")
    parser.add_argument(
        "--fault-rate", type=float, default=0.0, help="probability of a random fault"
    )
    parser.add_argument(
        "--faults",
        type=_fault_kinds,
        default=list(FaultKind),
        help="comma-separated fault kinds: " + ", ".join(kind.value for kind in FaultKind),
    )
    parser.add_argument(
        "--slow-response-seconds", type=float, default=30.0, help="stall of a slow_response"
    )
    parser.add_argument(
        "--rate-limit", type=float, default=None, help="requests per second (429 above it)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for ids, jitter and faults")
    parser.add_argument(
        "--auth-failure-status",
        type=int,
        choices=[401, 200],
        default=401,
        help="HTTP status of authentication failures (default: %(default)s)",
    )
    parser.add_argument(
        "--max-timestamp-age",
        type=int,
        default=7200,
        help="oldest Timestamp accepted, in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--max-timestamp-future",
        type=int,
        default=300,
        help="how far ahead of this clock a Timestamp may be, in seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--rename-duplicates",
        action="store_true",
        help="creating a project with a name in use gets a new name (as the service sometimes "
        "does) instead of a second project of the same name",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Turn parsed arguments into an :class:`EmulatorConfig`."""
    token = args.api_token or os.environ.get(TOKEN_ENV) or DEFAULT_API_TOKEN
    faults = FaultConfig(
        latency_ms=args.latency_ms,
        latency_jitter_ms=args.latency_jitter_ms,
        fault_rate=args.fault_rate,
        fault_kinds=args.faults,
        slow_response_seconds=args.slow_response_seconds,
        rate_limit_per_second=args.rate_limit,
    )
    return EmulatorConfig(
        host=args.host,
        port=args.port,
        user_id=args.user_id,
        api_token=token,
        seed=args.seed,
        auth_failure_status=args.auth_failure_status,
        max_timestamp_age_seconds=args.max_timestamp_age,
        max_timestamp_future_seconds=args.max_timestamp_future,
        rename_duplicates_on_create=args.rename_duplicates,
        faults=faults,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``qc-emulator`` and ``python -m quantconnect_emulator``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))

    import uvicorn

    from quantconnect_emulator.app import create_app
    from quantconnect_emulator.server import bind_socket, uvicorn_config

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
    print(f"QuantConnect API emulator listening on {root}{API_PREFIX}")
    print(f"  user id:   {config.user_id}")
    print(f"  api token: {shown_token}")
    print(f"  control:   {root}{CONTROL_PREFIX}/health, /state, /stats, /requests, /faults")
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
