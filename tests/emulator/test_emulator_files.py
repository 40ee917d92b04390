"""Files: default files per language, create/read/update/rename/delete, errors."""

from __future__ import annotations

import json
import re

import pytest
import requests

FILE_KEYS = {"id", "projectId", "name", "content", "modified", "open", "isLibrary"}


def _files(api, project_id, name=None):
    body = {"projectId": project_id} if name is None else {"projectId": project_id, "name": name}
    return api.ok("/files/read", body)["files"]


def test_python_project_default_files(api):
    project = api.create_project("Py Proj", "Py")
    files = _files(api, project["projectId"])
    assert [f["name"] for f in files] == ["main.py", "research.ipynb"]
    for file in files:
        assert set(file) == FILE_KEYS
        assert file["projectId"] == project["projectId"]
        assert isinstance(file["id"], int)
        assert file["isLibrary"] is False
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", file["modified"])  # service's form
    main, notebook = files
    assert "from AlgorithmImports import *" in main["content"]
    assert "class PyProj(QCAlgorithm):" in main["content"]
    assert "def initialize(self):" in main["content"]
    assert main["open"] is True
    nb = json.loads(notebook["content"])
    assert nb["nbformat"] == 4 and "QuantBook()" in "".join(nb["cells"][0]["source"])


def test_csharp_project_default_files(api):
    project = api.create_project("Sharp", "C#")
    files = _files(api, project["projectId"])
    assert [f["name"] for f in files] == ["Main.cs", "Research.ipynb"]
    assert "public class Sharp : QCAlgorithm" in files[0]["content"]
    assert "namespace QuantConnect.Algorithm.CSharp" in files[0]["content"]
    json.loads(files[1]["content"])


def test_create_read_file(api):
    pid = api.create_project()["projectId"]
    body = api.ok("/files/create", {"projectId": pid, "name": "utils.py", "content": "X = 1\n"})
    [created] = body["files"]
    assert set(created) == FILE_KEYS
    assert (created["name"], created["content"]) == ("utils.py", "X = 1\n")
    assert _files(api, pid, "utils.py") == [created]
    assert [f["name"] for f in _files(api, pid)] == ["main.py", "research.ipynb", "utils.py"]


def test_create_file_in_folder(api):
    pid = api.create_project()["projectId"]
    api.ok("/files/create", {"projectId": pid, "name": "lib/helpers.py", "content": "pass"})
    assert _files(api, pid, "lib/helpers.py")[0]["content"] == "pass"


def test_create_without_content_makes_an_empty_file(api):
    pid = api.create_project()["projectId"]
    [created] = api.ok("/files/create", {"projectId": pid, "name": "empty.py"})["files"]
    assert created["content"] == ""


def test_create_with_explicit_empty_content_fails(api):
    pid = api.create_project()["projectId"]
    assert "empty" in api.fail("/files/create", {"projectId": pid, "name": "e.py", "content": ""})
    api.fail("/files/read", {"projectId": pid, "name": "e.py"})


def test_create_existing_file_fails(api):
    pid = api.create_project()["projectId"]
    message = api.fail("/files/create", {"projectId": pid, "name": "main.py", "content": "x"})
    assert "already exists" in message
    api.ok("/files/create", {"projectId": pid, "name": "a.py", "content": "1"})
    api.fail("/files/create", {"projectId": pid, "name": "a.py", "content": "2"})
    assert _files(api, pid, "a.py")[0]["content"] == "1"


@pytest.mark.parametrize("name", ["", "a//b.py", "/abs.py", "../up.py", "bad|name.py"])
def test_create_file_with_bad_name_fails(api, name):
    pid = api.create_project()["projectId"]
    api.fail("/files/create", {"projectId": pid, "name": name, "content": "x"})


def test_update_content(api):
    pid = api.create_project()["projectId"]
    body = api.ok("/files/update", {"projectId": pid, "name": "main.py", "content": "# new"})
    assert body["files"][0]["content"] == "# new"
    assert _files(api, pid, "main.py")[0]["content"] == "# new"


def test_rename_file(api):
    pid = api.create_project()["projectId"]
    original = _files(api, pid, "main.py")[0]
    api.ok("/files/update", {"projectId": pid, "name": "main.py", "newName": "algo.py"})
    assert "not found" in api.fail("/files/read", {"projectId": pid, "name": "main.py"})
    renamed = _files(api, pid, "algo.py")[0]
    assert renamed["content"] == original["content"]
    assert renamed["id"] == original["id"]


def test_rename_errors(api):
    pid = api.create_project()["projectId"]
    message = api.fail(
        "/files/update", {"projectId": pid, "name": "main.py", "newName": "research.ipynb"}
    )
    assert "already exists" in message
    message = api.fail("/files/update", {"projectId": pid, "name": "nope.py", "newName": "x.py"})
    assert "not found" in message
    message = api.fail("/files/update", {"projectId": pid, "name": "nope.py", "content": "x"})
    assert "not found" in message
    assert "'content' or 'newName'" in api.fail(
        "/files/update", {"projectId": pid, "name": "main.py"}
    )


def test_content_and_rename_together_change_both_or_nothing(api):
    pid = api.create_project()["projectId"]
    original = _files(api, pid, "main.py")[0]["content"]
    taken = {"projectId": pid, "name": "main.py", "content": "# lost?", "newName": "research.ipynb"}
    assert "already exists" in api.fail("/files/update", taken)
    assert _files(api, pid, "main.py")[0]["content"] == original  # the failed call changed nothing
    both = {"projectId": pid, "name": "main.py", "content": "# moved", "newName": "algo.py"}
    body = api.ok("/files/update", both)
    assert body["files"][0]["name"] == "algo.py" and body["files"][0]["content"] == "# moved"
    assert _files(api, pid, "algo.py")[0]["content"] == "# moved"


def test_update_with_empty_content_fails_and_changes_nothing(api):
    pid = api.create_project()["projectId"]
    original = _files(api, pid, "main.py")[0]["content"]
    message = api.fail("/files/update", {"projectId": pid, "name": "main.py", "content": ""})
    assert "cannot be empty" in message
    both = {"projectId": pid, "name": "main.py", "content": "", "newName": "algo.py"}
    assert "cannot be empty" in api.fail("/files/update", both)
    assert [f["name"] for f in _files(api, pid)] == ["main.py", "research.ipynb"]
    assert _files(api, pid, "main.py")[0]["content"] == original


LONE_SURROGATE = "x = 1  # \ud800\n"  # valid escaped JSON, but no text


@pytest.mark.parametrize(
    ("path", "extra"),
    [
        ("/files/update", {"name": "main.py", "content": LONE_SURROGATE}),
        ("/files/create", {"name": "helpers.py", "content": LONE_SURROGATE}),
        ("/files/create", {"name": "bad\udc00.py", "content": "x = 1\n"}),
        ("/files/update", {"name": "main.py", "newName": "\ud800.py"}),
    ],
    ids=["update-content", "create-content", "create-name", "rename"],
)
def test_a_lone_surrogate_is_refused_and_the_project_stays_readable(api, qc_emulator, path, extra):
    pid = api.create_project()["projectId"]
    original = _files(api, pid, "main.py")[0]["content"]
    message = api.fail(path, {"projectId": pid, **extra})
    assert "is not valid text: it holds a lone surrogate (U+D" in message
    assert [f["name"] for f in _files(api, pid)] == ["main.py", "research.ipynb"]
    assert _files(api, pid, "main.py")[0]["content"] == original
    # What a stored surrogate made answer HTTP 500 until the project was purged:
    assert api.compile(pid)["state"] == "BuildSuccess"
    assert requests.get(f"{qc_emulator.control_url}/state", timeout=5).status_code == 200


def test_concurrent_renames_with_content_are_atomic(api, qc_emulator):
    """Many callers move one file at once: exactly one wins, no content lands on a lost name."""
    from concurrent.futures import ThreadPoolExecutor

    from tests.emulator.conftest import Api

    pid = api.create_project()["projectId"]

    def move(i: int) -> bool:
        caller = Api(qc_emulator)
        try:
            body = {"projectId": pid, "name": "main.py", "content": f"# {i}", "newName": f"m{i}.py"}
            return bool(caller.call("/files/update", body).json()["success"])
        finally:
            caller.close()

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(move, range(16)))
    assert outcomes.count(True) == 1
    winner = outcomes.index(True)
    names = [f["name"] for f in _files(api, pid)]
    assert sorted(names) == sorted([f"m{winner}.py", "research.ipynb"])
    assert _files(api, pid, f"m{winner}.py")[0]["content"] == f"# {winner}"


def test_delete_file(api):
    pid = api.create_project()["projectId"]
    api.ok("/files/delete", {"projectId": pid, "name": "research.ipynb"})
    assert [f["name"] for f in _files(api, pid)] == ["main.py"]
    assert "not found" in api.fail("/files/delete", {"projectId": pid, "name": "research.ipynb"})


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/files/create", {"name": "a.py", "content": "x"}),
        ("/files/read", {}),
        ("/files/read", {"name": "main.py"}),
        ("/files/update", {"name": "main.py", "content": "x"}),
        ("/files/update", {"name": "main.py", "newName": "b.py"}),
        ("/files/delete", {"name": "main.py"}),
    ],
)
def test_file_calls_on_missing_project_fail(api, path, body):
    api.create_project()
    message = api.fail(path, {"projectId": 87654321, **body})
    assert message == "Project not found. ProjectId: 87654321"


@pytest.mark.parametrize(
    ("path", "body", "missing"),
    [
        ("/files/create", {"name": "a.py"}, "projectId"),
        ("/files/create", {}, "name"),
        ("/files/read", {}, "projectId"),
        ("/files/update", {"content": "x"}, "name"),
        ("/files/delete", {}, "name"),
    ],
)
def test_missing_required_file_parameters(api, path, body, missing):
    pid = api.create_project()["projectId"]
    if missing != "projectId":
        body = {"projectId": pid, **body}
    assert api.fail(path, body) == f"Missing required parameter '{missing}'"


def test_file_counters(api, qc_emulator):
    pid = api.create_project()["projectId"]
    api.ok("/files/create", {"projectId": pid, "name": "a.py", "content": "1"})
    api.ok("/files/update", {"projectId": pid, "name": "a.py", "content": "2"})
    api.ok("/files/update", {"projectId": pid, "name": "a.py", "newName": "b.py"})
    api.ok("/files/delete", {"projectId": pid, "name": "b.py"})
    store = qc_emulator.stats()["store"]
    assert (store["files_created"], store["files_updated"]) == (1, 1)
    assert (store["files_renamed"], store["files_deleted"]) == (1, 1)
