"""Secret hygiene: after a suite of flow runs with a distinctive token, the token is nowhere in
clear text, nor base64-encoded, nor as its SHA-256: not in logs, flow or task run parameters,
artifacts, results, exception texts, a subprocess's output, nor the bytes of the Prefect database
and Prefect home.

Block documents are stored encrypted by the Prefect server, so a saved block is no exception.
"""

from __future__ import annotations

import base64
import hashlib
import json
import traceback
import uuid
from pathlib import Path
from typing import Any

import prefect.settings
import pytest
from prefect.client.orchestration import PrefectClient, get_client
from prefect.client.schemas.objects import FlowRun
from prefect.exceptions import PrefectHTTPStatusError
from prefect.logging.handlers import APILogHandler

from flows.common.options import RetryOptions
from flows.projects.forms import InventoryOptions, LifecycleOptions, SweepOptions
from flows.projects.inventory import project_inventory
from flows.projects.lifecycle import temporary_project_lifecycle
from flows.projects.sweep import sweep_temporary_projects
from quantconnect_emulator import EmulatorServer
from tests.helpers import credentials_for
from tests.reliability.conftest import (
    report_figures,
    start_python,
    subprocess_env,
)

pytestmark = pytest.mark.anyio

TOKEN = f"qc-SECRET-{uuid.uuid4().hex}"
WRONG_TOKEN = f"qc-WRONG-{uuid.uuid4().hex}"
BLOCK = "reliability-secret"
PREFIX = "secret-tmp-"

SUBPROCESS_RUN = f"""
import asyncio
from flows.projects.lifecycle import temporary_project_lifecycle
from flows.projects.forms import LifecycleOptions
report = asyncio.run(temporary_project_lifecycle(
    LifecycleOptions(name_prefix="{PREFIX}"), credentials_block="{BLOCK}"))
print(report.model_dump_json())
"""


def needles(secret: str) -> dict[str, bytes]:
    """What the secret looks like in clear, hex, SHA-256 and base64 at any alignment."""
    raw = secret.encode()
    found = {
        "clear": raw,
        "hex": raw.hex().encode(),
        "sha256": hashlib.sha256(raw).hexdigest().encode(),
    }
    for skip in range(3):
        # The whole 3-byte groups of the secret encode the same wherever it sits in a blob.
        part = raw[skip:]
        whole = len(part) // 3 * 3
        found[f"base64+{skip}"] = base64.b64encode(part[:whole])
        found[f"base64url+{skip}"] = base64.urlsafe_b64encode(part[:whole])
    return found


def leaks(blob: bytes, secret: str) -> list[str]:
    lowered = blob.lower()
    hits = []
    for kind, needle in needles(secret).items():
        haystack = lowered if kind in ("hex", "sha256") else blob
        if needle in haystack:
            hits.append(kind)
    return hits


async def _all_api_records() -> dict[str, bytes]:
    """Everything the Prefect API holds for the runs: flow runs (parameters), task runs, logs,
    artifacts, block documents (as the API shows them), variables."""
    await APILogHandler.aflush()
    records: dict[str, list[str]] = {}
    async with get_client() as client:
        records["flow runs"] = [r.model_dump_json() for r in await _flow_runs(client)]
        records["task runs"], records["logs"] = [], []
        offset = 0
        while task_runs := await client.read_task_runs(limit=200, offset=offset):
            records["task runs"] += [t.model_dump_json() for t in task_runs]
            offset += len(task_runs)
        offset = 0
        while logs := await client.read_logs(limit=200, offset=offset):
            records["logs"] += [log.model_dump_json() for log in logs]
            offset += len(logs)
        records["artifacts"] = [a.model_dump_json() for a in await client.read_artifacts()]
        # As listed (a loader asking with include_secrets=True gets the token, by design).
        listed = await client.read_block_documents(include_secrets=False)
        records["block documents"] = [b.model_dump_json() for b in listed]
        records["variables"] = [v.model_dump_json() for v in await client.read_variables()]
    return {key: "\n".join(values).encode() for key, values in records.items()}


async def _flow_runs(client: PrefectClient) -> list[FlowRun]:
    """Every flow run the API lists, a page at a time.

    Prefect 3.8's server (the newest on Python 3.10) answers HTTP 500 for a page holding a run
    whose parameters have an integer beyond 64 bits (its JSON encoder refuses it; 3.9 falls
    back): a bad-input test makes such runs. Such a page is read one run at a time and the
    unreadable run is left to the scan of the database file, which holds it too.
    """
    runs: list[FlowRun] = []
    offset = 0
    while True:
        try:
            page = await client.read_flow_runs(limit=50, offset=offset)
            count = len(page)
        except PrefectHTTPStatusError:
            page, count = [], 0
            for index in range(offset, offset + 50):
                try:
                    one = await client.read_flow_runs(limit=1, offset=index)
                except PrefectHTTPStatusError:
                    count += 1  # unreadable by this server: the database scan covers it
                    continue
                if not one:
                    break
                page += one
                count += 1
        runs += page
        if count < 50:
            return runs
        offset += 50


def _files_under(*roots: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                files[str(path)] = path.read_bytes()
    return files


def _database_path() -> Path:
    url = prefect.settings.PREFECT_SERVER_DATABASE_CONNECTION_URL.value() or ""
    assert url.startswith("sqlite"), f"expected the harness's SQLite database, got {url!r}"
    return Path(url.split("///", 1)[1])


def _exception_texts(error: BaseException) -> str:
    return "\n".join([str(error), repr(error), *traceback.format_exception(error)])


async def test_token_appears_nowhere(prefect_server, tmp_path: Path) -> None:
    outcomes: dict[str, Any] = {}
    texts: dict[str, bytes] = {}
    fast = RetryOptions(task_retries=1, retry_delay_seconds=0)
    with EmulatorServer(seed=7, api_token=TOKEN) as emulator:
        saved = credentials_for(emulator)
        await saved.asave(BLOCK, overwrite=True)
        unsaved = credentials_for(emulator)
        options = LifecycleOptions(name_prefix=PREFIX, retries=fast)

        # Lifecycle: success from the saved block and from an unsaved block parameter.
        outcomes["lifecycle, saved block"] = await temporary_project_lifecycle(
            options, credentials_block=BLOCK, return_state=True
        )
        emulator.inject("http_502_html", path="/projects/read", count=1)
        outcomes["lifecycle, block parameter"] = await temporary_project_lifecycle(
            options, credentials=unsaved, return_state=True
        )
        # Lifecycle failures: a failed verification, and a wrong (also distinctive) token.
        failing = options.model_copy(update={"expected_files": ["strategy.py"]})
        outcomes["lifecycle, failed verification"] = await temporary_project_lifecycle(
            failing, credentials=unsaved, return_state=True
        )
        outcomes["lifecycle, wrong token"] = await temporary_project_lifecycle(
            options,
            credentials=credentials_for(emulator, api_token=WRONG_TOKEN),
            return_state=True,
        )
        # Sweep (two orphans) and inventory.
        client = saved.get_client()
        for name in (f"{PREFIX}{uuid.uuid4()}", f"{PREFIX}{uuid.uuid4()}"):
            client.projects.create(name, "Py")
        outcomes["sweep"] = await sweep_temporary_projects(
            SweepOptions(name_prefix=PREFIX, ttl_minutes=0, purge=True, retries=fast),
            credentials_block=BLOCK,
            return_state=True,
        )
        outcomes["inventory"] = await project_inventory(
            InventoryOptions(include_deleted=True), credentials=unsaved, return_state=True
        )

        # A run in a process of its own, with debug logging: its whole output is kept.
        log = tmp_path / "subprocess.log"
        process = start_python(
            SUBPROCESS_RUN, subprocess_env(prefect_server, PREFECT_LOGGING_LEVEL="DEBUG"), log
        )
        assert process.wait(timeout=120) == 0, log.read_text()[-3000:]
        texts["subprocess output"] = log.read_bytes()
        assert emulator.projects() == []
        texts["emulator request log"] = json.dumps(emulator.requests_log()).encode()

    assert [name for name, state in outcomes.items() if not state.is_completed()] == [
        "lifecycle, failed verification",
        "lifecycle, wrong token",
    ]
    for name, state in outcomes.items():
        result = await state.result(raise_on_failure=False)  # type: ignore[misc]
        if isinstance(result, BaseException):
            texts[f"exception: {name}"] = _exception_texts(result).encode()
        else:
            texts[f"result: {name}"] = json.dumps(result, default=str).encode()
        texts[f"state: {name}"] = f"{state!r} {state.message}".encode()

    texts.update(await _all_api_records())
    database = _database_path()
    home = Path(str(prefect.settings.PREFECT_HOME.value()))
    files = _files_under(database.parent, home)
    database_bytes = b"".join(v for k, v in files.items() if k.startswith(str(database)))
    assert PREFIX.encode() in database_bytes, "the scan does not see these runs in the database"
    texts.update(files)

    found = {
        where: hits
        for where, blob in texts.items()
        for secret in (TOKEN, WRONG_TOKEN)
        if (hits := leaks(blob, secret))
    }
    scanned = sum(len(blob) for blob in texts.values())
    report_figures(
        "secret hygiene (token searched in clear, hex, SHA-256, base64 at 3 alignments)",
        [
            f"runs: {len(outcomes) + 1} ({', '.join(outcomes)}, subprocess lifecycle)",
            f"places scanned: {len(texts)} ({len(files)} files in the Prefect database "
            f"directory and PREFECT_HOME), {scanned / 1e6:.1f} MB",
            f"places holding a token: {len(found)}",
        ],
    )
    assert found == {}
    # The check can see a token when one is there.
    assert leaks(b"x" + base64.b64encode(b"ab" + TOKEN.encode()), TOKEN)
    # The block parameter was stored masked, not dropped.
    assert b"**********" in texts["flow runs"]
