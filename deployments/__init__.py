"""What a user needs around ``prefect.yaml``: the work pool, the credentials block, a ``serve``
entry point.

- ``python -m deployments.setup`` creates the ``process`` work pool, registers the
  ``QuantConnectCredentials`` block type and saves a block named ``quantconnect`` from ``QC_*``.
- ``python -m deployments.serve`` serves every deployment of ``prefect.yaml`` from one process,
  without a work pool or a worker.

Example:
    >>> from deployments.spec import load_deployment_specs
    >>> names = [spec.name for spec in load_deployment_specs()]
    >>> names[:4], "grid" in names
    (['lifecycle-check', 'sweeper', 'inventory', 'bulk-update'], True)
"""

from __future__ import annotations

from pathlib import Path

#: The repository root, where ``prefect.yaml`` lives and ``prefect deploy`` runs.
REPO_ROOT = Path(__file__).resolve().parent.parent
PREFECT_YAML = REPO_ROOT / "prefect.yaml"
WORK_POOL_NAME = "quantconnect-process"
CREDENTIALS_BLOCK_NAME = "quantconnect"

__all__ = ["CREDENTIALS_BLOCK_NAME", "PREFECT_YAML", "REPO_ROOT", "WORK_POOL_NAME"]
