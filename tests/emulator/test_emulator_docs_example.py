"""QuantConnect's own documentation example, run unchanged against the emulator.

The Python script at the end of QuantConnect's "Delete Project" page
(``<repo>/../shared/reference/quantconnect-docs-delete-project.txt``) creates,
reads (with ``{"id": ...}``), updates and deletes a project. Only its
``BASE_URL``, ``USER_ID`` and ``API_TOKEN`` lines are replaced. Its
``BASE_URL`` ends with ``/`` and it appends ``/authenticate``, so the emulator
also has to accept ``.../api/v2//authenticate`` like the real service does.
"""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

REFERENCE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "reference"
    / "quantconnect-docs-delete-project.txt"
)


def _extract_script(text: str) -> str:
    start = text.index("from base64 import b64encode")
    delete_section = text.index("### Delete Project", start)
    end_marker = "print(result)"
    end = text.index(end_marker, delete_section) + len(end_marker)
    return text[start:end] + "\n"


def _configure(script: str, base_url: str, user_id: int, api_token: str) -> str:
    replacements = {
        r"^BASE_URL = .*$": f"BASE_URL = {base_url!r}",
        r"^USER_ID = .*$": f"USER_ID = {user_id!r}",
        r"^API_TOKEN = .*$": f"API_TOKEN = {api_token!r}",
    }
    for pattern, line in replacements.items():
        # Escape so that backslashes in the URL/token are taken literally.
        script, count = re.subn(pattern, line.replace("\\", "\\\\"), script, flags=re.MULTILINE)
        assert count == 1, f"expected exactly one line matching {pattern!r} in the docs example"
    return script


@pytest.mark.skipif(not REFERENCE.is_file(), reason=f"docs example not found at {REFERENCE}")
def test_quantconnect_docs_example_runs_against_the_emulator(qc_emulator):
    script = _configure(
        _extract_script(REFERENCE.read_text(encoding="utf-8")),
        base_url=qc_emulator.base_url + "/",  # the docs' BASE_URL ends with a slash
        user_id=qc_emulator.user_id,
        api_token=qc_emulator.api_token,
    )
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        exec(compile(script, str(REFERENCE), "exec"), {"__name__": "qc_docs_example"})
    output = stdout.getvalue()

    assert output.splitlines()[0] == "{'success': True}"  # /authenticate
    for step in (
        "Project Created Successfully:",
        "Project Details:",
        "Project Updated Successfully:",
        "Project Deleted Successfully:",
    ):
        assert step in output, output

    [project] = qc_emulator.projects()
    project_id = project["projectId"]
    assert project["name"] == f"Recycle Bin/Project_{project_id}"
    assert project["description"] == "The new project name is awesome!"
    assert project["inRecycleBin"] is True

    log = qc_emulator.requests_log()
    assert [entry["path"] for entry in log] == [
        "/authenticate",
        "/projects/create",
        "/projects/read",
        "/projects/update",
        "/projects/delete",
    ]
    assert all(entry["status"] == 200 for entry in log)
    store = qc_emulator.stats()["store"]
    assert (store["projects_created"], store["projects_updated"]) == (1, 1)
    assert store["projects_soft_deleted"] == 1
