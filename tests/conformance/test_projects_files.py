"""Every answer of ``/authenticate``, ``/projects/*``, ``/files/*`` and ``/lean/versions/read``
against the strict contract models (contract §2, §4, §5)."""

from __future__ import annotations

import pytest

from tests.conformance.contract import AuthenticateOk, Files, LeanVersions, Ok, ProjectList


def test_authenticate_answers_exactly_success_true(world):
    world.expect(world.call("/authenticate", {}), AuthenticateOk)


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_lean_versions_read(world, method):
    world.expect(world.call("/lean/versions/read", None, method=method), LeanVersions)


@pytest.mark.parametrize("language", ["Py", "C#"])
def test_projects_create(world, language):
    body = {"name": f"New {language.strip('#')}", "language": language}
    answer = world.expect(world.call("/projects/create", body), ProjectList)
    assert [p.language for p in answer.projects] == [language]


@pytest.mark.parametrize("selection", ["one", "all", "page", "recycled"])
def test_projects_read(world, selection):
    pid = world.project()
    world.project(name="Other")
    if selection == "recycled":
        world.ok("/projects/delete", {"projectId": pid})
    body = {
        "one": {"projectId": pid},
        "all": {},
        "page": {"start": 0, "end": 1},
        "recycled": {"projectId": pid},
    }[selection]
    answer = world.expect(world.call("/projects/read", body), ProjectList)
    if selection in ("one", "recycled"):
        assert [p.projectId for p in answer.projects] == [pid]
    if selection == "recycled":
        assert answer.projects[0].name.startswith("Recycle Bin/")


@pytest.mark.parametrize("encoding", ["get-query", "form"])
def test_projects_read_other_encodings(world, encoding):
    """The service also takes form bodies and, for reads, GET with a query (contract §1)."""
    pid = world.project()
    if encoding == "get-query":
        response = world.call("/projects/read", None, method="GET", params={"projectId": pid})
    else:
        response = world.call("/projects/read", None, data={"projectId": str(pid)})
    answer = world.expect(response, ProjectList)
    assert [p.projectId for p in answer.projects] == [pid]


@pytest.mark.parametrize("change", [{"name": "Renamed"}, {"description": "about it"}])
def test_projects_update(world, change):
    pid = world.project()
    world.expect(world.call("/projects/update", {"projectId": pid, **change}), Ok)


@pytest.mark.parametrize("times", [1, 2], ids=["to-recycle-bin", "for-good"])
def test_projects_delete(world, times):
    pid = world.project()
    for _ in range(times - 1):
        world.ok("/projects/delete", {"projectId": pid})
    world.expect(world.call("/projects/delete", {"projectId": pid}), Ok)


@pytest.mark.parametrize("which", ["all", "one"])
def test_files_read(world, which):
    pid = world.project()
    body = {"projectId": pid} if which == "all" else {"projectId": pid, "name": "main.py"}
    answer = world.expect(world.call("/files/read", body), Files)
    assert answer.files and all(f.projectId == pid for f in answer.files)


@pytest.mark.parametrize("content", ["x = 1\n", None], ids=["with-content", "empty-file"])
def test_files_create(world, content):
    pid = world.project()
    body = {"projectId": pid, "name": "lib/helpers.py"}
    if content is not None:
        body["content"] = content
    answer = world.expect(world.call("/files/create", body), Files)
    assert [(f.name, f.content) for f in answer.files] == [("lib/helpers.py", content or "")]


def test_files_update_content(world):
    pid = world.project()
    body = {"projectId": pid, "name": "main.py", "content": "# new\n"}
    world.expect(world.call("/files/update", body), Files)


def test_files_update_rename(world):
    pid = world.project()
    world.ok("/files/create", {"projectId": pid, "name": "a.py", "content": "a = 1\n"})
    body = {"projectId": pid, "name": "a.py", "newName": "b.py"}
    world.expect(world.call("/files/update", body), Ok)


def test_files_delete(world):
    pid = world.project()
    world.ok("/files/create", {"projectId": pid, "name": "a.py", "content": "a = 1\n"})
    world.expect(world.call("/files/delete", {"projectId": pid, "name": "a.py"}), Ok)
