"""Serve every deployment of ``prefect.yaml`` from this one process: no work pool, no worker.

The deployments get the same names, parameters, schedules and limits as with ``prefect deploy``;
their runs execute in subprocesses of this process, at most ``--limit`` at once.

Usage, from the checkout's root (the Prefect project runs from its checkout; it is not
installed)::

    python -m deployments.setup --skip-credentials   # only if the block is saved already
    python -m deployments.serve --limit 4
    python -m deployments.serve --only lifecycle-check --only inventory

Example:
    >>> from deployments.serve import runner_deployments
    >>> [d.name for d in runner_deployments()]  # doctest: +SKIP
    ['lifecycle-check', 'sweeper', 'inventory']
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from prefect.deployments.runner import RunnerDeployment
from prefect.types.entrypoint import EntrypointType

from . import PREFECT_YAML, REPO_ROOT
from .spec import DeploymentSpec, load_deployment_specs

#: Flow runs at once in this process, as the work pool's limit does for workers.
DEFAULT_LIMIT = 4


def to_runner_deployment(spec: DeploymentSpec) -> RunnerDeployment:
    """The deployment ``spec`` describes, bound to its flow for serving."""
    flow = spec.load_flow()
    deployment: Any = flow.to_deployment(
        name=spec.name,
        parameters=spec.parameters,
        description=spec.description,
        tags=spec.tags,
        schedules=spec.prefect_schedules(),
        concurrency_limit=spec.prefect_concurrency_limit(),
        enforce_parameter_schema=spec.enforce_parameter_schema,
        # By module path: the runs import the flow from the checkout, which `main` puts on
        # their import path, whatever their working directory.
        entrypoint_type=EntrypointType.MODULE_PATH,
    )
    assert isinstance(deployment, RunnerDeployment)
    return deployment


def runner_deployments(
    only: Iterable[str] = (), path: Path = PREFECT_YAML
) -> list[RunnerDeployment]:
    """The deployments of ``prefect.yaml`` (or those named in ``only``), ready for ``serve``.

    Raises:
        ValueError: A name in ``only`` is not in the file.
    """
    specs = load_deployment_specs(path)
    wanted = set(only)
    unknown = wanted - {spec.name for spec in specs}
    if unknown:
        raise ValueError(f"no such deployment in {path.name}: {', '.join(sorted(unknown))}")
    return [to_runner_deployment(s) for s in specs if not wanted or s.name in wanted]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.serve",
        description="Serve the prefect.yaml deployments from this process, without a worker.",
    )
    parser.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        help="flow runs at once in this process (default %(default)s)",
    )
    parser.add_argument(
        "--only", action="append", default=[], metavar="NAME", help="serve only this deployment"
    )
    parser.add_argument("--prefect-file", type=Path, default=PREFECT_YAML, help="deployment file")
    return parser


def _import_from_checkout() -> None:
    """Let this process and the runs it starts import ``flows`` and ``tasks`` from the checkout:
    they are not installed (only the client and the emulator are)."""
    root = str(REPO_ROOT)
    if root not in sys.path:
        sys.path.insert(0, root)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if root not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([root, *paths])


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point: serve until interrupted (schedules are paused on shutdown)."""
    from prefect import serve

    args = _parser().parse_args(argv)
    _import_from_checkout()
    deployments = runner_deployments(args.only, args.prefect_file)
    # The work pool's job variables do not apply to a served run: it inherits this process's
    # environment, so set the same variables here when they are not set already.
    for spec in load_deployment_specs(args.prefect_file):
        for key, value in spec.env.items():
            os.environ.setdefault(key, value)
    serve(*deployments, limit=args.limit)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
