"""Test-wide set-up: Prefect never touches the user's own Prefect home."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Before anything imports Prefect: its settings are read at import time.
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="qc-tests-prefect-home-")
atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_EXTRA_LOGGERS", "quantconnect_client")
# Client log lines outside a flow run stay local instead of warning about the API.
os.environ.setdefault("PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW", "ignore")
for _key in ("QC_USER_ID", "QC_API_TOKEN", "QC_BASE_URL", "QC_ORGANIZATION_ID"):
    os.environ.pop(_key, None)
