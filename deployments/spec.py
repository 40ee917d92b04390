"""Read the deployments of ``prefect.yaml``, so ``serve`` and the tests use the same definitions
as ``prefect deploy``.

Example:
    >>> from deployments.spec import load_deployment_specs
    >>> sweeper = {s.name: s for s in load_deployment_specs()}["sweeper"]
    >>> sweeper.parameters["credentials_block"]
    'quantconnect'
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.schedules import Cron, Interval, RRule, Schedule

from . import PREFECT_YAML


@dataclass(frozen=True)
class DeploymentSpec:
    """One entry of ``deployments:`` in ``prefect.yaml``."""

    name: str
    entrypoint: str
    parameters: dict[str, Any] = field(default_factory=dict)
    description: str | None = None
    tags: list[str] = field(default_factory=list)
    schedules: list[dict[str, Any]] = field(default_factory=list)
    concurrency_limit: int | dict[str, Any] | None = None
    enforce_parameter_schema: bool = True
    work_pool: dict[str, Any] = field(default_factory=dict)

    @property
    def module_path(self) -> str:
        """The entrypoint as ``package.module.function`` (``flows/x.py:f`` -> ``flows.x.f``)."""
        path, function = self.entrypoint.split(":")
        return f"{path.removesuffix('.py').replace('/', '.')}.{function}"

    def load_flow(self) -> Flow[..., Any]:
        """Import the flow the entrypoint names (the checkout's module, not a copy of it)."""
        module_name, _, function = self.module_path.rpartition(".")
        flow = getattr(importlib.import_module(module_name), function)
        if not isinstance(flow, Flow):
            raise TypeError(f"{self.entrypoint} is not a Prefect flow")
        return flow

    def prefect_schedules(self) -> list[Schedule]:
        """The schedules as ``prefect.schedules`` objects, ``active`` flags included."""
        return [_schedule(config) for config in self.schedules]

    def prefect_concurrency_limit(self) -> int | ConcurrencyLimitConfig | None:
        """The deployment's concurrency limit as ``to_deployment`` takes it."""
        limit = self.concurrency_limit
        if not isinstance(limit, dict):
            return limit
        return ConcurrencyLimitConfig(
            limit=int(limit["limit"]),
            collision_strategy=ConcurrencyLimitStrategy(limit.get("collision_strategy", "ENQUEUE")),
        )

    @property
    def env(self) -> dict[str, str]:
        """Environment variables the work pool's jobs get."""
        job_variables = self.work_pool.get("job_variables") or {}
        return {str(k): str(v) for k, v in (job_variables.get("env") or {}).items()}


def _schedule(config: dict[str, Any]) -> Schedule:
    common: dict[str, Any] = {
        "timezone": config.get("timezone"),
        "active": config.get("active", True),
    }
    if "cron" in config:
        return Cron(config["cron"], **common)
    if "interval" in config:
        return Interval(timedelta(seconds=float(config["interval"])), **common)
    if "rrule" in config:
        return RRule(config["rrule"], **common)
    raise ValueError(f"a schedule needs one of cron, interval or rrule: {config}")


def load_deployment_specs(path: Path = PREFECT_YAML) -> list[DeploymentSpec]:
    """The deployments a ``prefect.yaml`` defines, in file order.

    Raises:
        FileNotFoundError: There is no such file.
        KeyError: A deployment lacks ``name`` or ``entrypoint``.
    """
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    specs = []
    for entry in document.get("deployments") or []:
        specs.append(
            DeploymentSpec(
                name=entry["name"],
                entrypoint=entry["entrypoint"],
                parameters=dict(entry.get("parameters") or {}),
                description=entry.get("description"),
                tags=list(entry.get("tags") or []),
                schedules=list(entry.get("schedules") or []),
                concurrency_limit=entry.get("concurrency_limit"),
                enforce_parameter_schema=bool(entry.get("enforce_parameter_schema", True)),
                work_pool=dict(entry.get("work_pool") or {}),
            )
        )
    return specs
