"""Prepare a Prefect server for ``prefect deploy``: the work pool and the credentials block.

Idempotent: run it again to update the pool's limit or the saved credentials.

Usage, from the checkout's root (the Prefect project runs from its checkout)::

    export QC_USER_ID=123456 QC_API_TOKEN=...      # or a .env file
    python -m deployments.setup                    # pool + block type + block "quantconnect"
    python -m deployments.setup --pool-limit 2 --skip-credentials

The equivalent by hand::

    prefect work-pool create quantconnect-process --type process
    prefect work-pool set-concurrency-limit quantconnect-process 4
    prefect block register -f tasks/credentials.py   # from the checkout's root
    # then save a QuantConnectCredentials block named "quantconnect" in the UI

Example:
    >>> import asyncio
    >>> from deployments.setup import ensure_work_pool
    >>> asyncio.run(ensure_work_pool("quantconnect-process", concurrency_limit=4))  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate, WorkPoolUpdate
from prefect.exceptions import ObjectNotFound

from quantconnect_client import ConfigurationError
from tasks.credentials import QuantConnectCredentials

from . import CREDENTIALS_BLOCK_NAME, WORK_POOL_NAME

#: Flow runs at once across all workers of the pool. Each lifecycle run keeps about one API call
#: in flight at a time and a sweep at most ``max_concurrency`` (4): together they stay well below
#: the per-account rate QuantConnect tolerates (see the README).
DEFAULT_POOL_LIMIT = 4


@dataclass(frozen=True)
class SetupResult:
    """What :func:`setup` did, safe to print (no secrets)."""

    work_pool: str
    pool_created: bool
    pool_limit: int | None
    block_type: str
    block_name: str | None
    user_id: int | None
    base_url: str | None

    def summary(self) -> str:
        """Human-readable lines for the console."""
        lines = [
            f"work pool {self.work_pool!r} ({'created' if self.pool_created else 'updated'}, "
            f"concurrency limit {self.pool_limit if self.pool_limit is not None else 'none'})",
            f"block type {self.block_type!r} registered",
        ]
        if self.block_name:
            lines.append(
                f"credentials block {self.block_name!r} saved "
                f"(user {self.user_id}, {self.base_url}; token stored encrypted)"
            )
        return "\n".join(lines)


async def ensure_work_pool(name: str, concurrency_limit: int | None = DEFAULT_POOL_LIMIT) -> bool:
    """Create the ``process`` work pool, or set its concurrency limit if it exists.

    Returns:
        True if the pool was created.
    """
    from prefect.workers.process import ProcessWorker

    async with get_client() as client:
        try:
            pool = await client.read_work_pool(name)
        except ObjectNotFound:
            await client.create_work_pool(
                WorkPoolCreate(
                    name=name,
                    type="process",
                    description="Runs the QuantConnect flows as local processes.",
                    base_job_template=ProcessWorker.get_default_base_job_template(),
                    concurrency_limit=concurrency_limit,
                )
            )
            return True
        if pool.type != "process":
            raise ValueError(f"work pool {name!r} exists with type {pool.type!r}, not 'process'")
        await client.update_work_pool(name, WorkPoolUpdate(concurrency_limit=concurrency_limit))
        return False


async def setup(
    pool_name: str = WORK_POOL_NAME,
    pool_limit: int | None = DEFAULT_POOL_LIMIT,
    block_name: str | None = CREDENTIALS_BLOCK_NAME,
) -> SetupResult:
    """Create the work pool, register the block type and save the credentials block.

    Args:
        pool_name: The ``process`` work pool ``prefect.yaml`` deploys to.
        pool_limit: Flow runs at once in the pool (None: unlimited).
        block_name: Save ``QC_*`` credentials under this name; None skips it.

    Raises:
        ConfigurationError: A block is to be saved but ``QC_*`` holds no credentials.
    """
    # Read QC_* first: a missing token fails before anything on the server changes.
    saved = QuantConnectCredentials.from_settings() if block_name else None
    created = await ensure_work_pool(pool_name, pool_limit)
    await QuantConnectCredentials.aregister_type_and_schema()
    if saved is not None and block_name:
        await saved.asave(block_name, overwrite=True)
    return SetupResult(
        work_pool=pool_name,
        pool_created=created,
        pool_limit=pool_limit,
        block_type=QuantConnectCredentials.get_block_type_slug(),
        block_name=block_name if saved else None,
        user_id=saved.user_id if saved else None,
        base_url=saved.to_settings().base_url if saved else None,
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deployments.setup",
        description="Create the work pool and save the QuantConnect credentials block from QC_*.",
    )
    parser.add_argument("--pool", default=WORK_POOL_NAME, help="work pool name")
    parser.add_argument(
        "--pool-limit",
        type=int,
        default=DEFAULT_POOL_LIMIT,
        help="flow runs at once in the pool; 0 for no limit (default %(default)s)",
    )
    parser.add_argument("--block-name", default=CREDENTIALS_BLOCK_NAME, help="credentials block")
    parser.add_argument(
        "--skip-credentials", action="store_true", help="do not save a credentials block"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        result = asyncio.run(
            setup(
                pool_name=args.pool,
                pool_limit=args.pool_limit or None,
                block_name=None if args.skip_credentials else args.block_name,
            )
        )
    except ConfigurationError as error:
        print(f"error: {error} (or pass --skip-credentials)")
        return 2
    print(result.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
