"""Projects: create, read, list, paginate, update, soft delete, purge, name rules."""

from __future__ import annotations

import re

import pytest

from quantconnect_emulator import EmulatorServer

PROJECT_KEYS = {
    "projectId", "organizationId", "name", "modified", "created", "ownerId", "language",
    "collaborators", "leanVersionId", "leanPinnedToMaster", "owner", "description", "channelId",
    "parameters", "libraries", "grid", "liveGrid", "paperEquity", "lastLiveDeployment",
    "liveForm", "encrypted", "codeRunning", "leanEnvironment", "encryptionKey",
}  # fmt: skip
VERSION_KEYS = {
    "id", "created", "description", "leanHash", "leanCloudHash", "name", "ref", "public",
}  # fmt: skip
COLLABORATOR_KEYS = {
    "uid", "liveControl", "permission", "publicId", "profileImage", "email", "name", "bio",
    "owner",
}  # fmt: skip
#: The form the live service sends project and LEAN version dates in (mcp-server issue 11).
PLAIN = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


def _names(body):
    return [p["name"] for p in body["projects"]]


def test_create_returns_project_and_versions(api, qc_emulator):
    body = api.ok("/projects/create", {"name": "Alpha", "language": "Py"})
    assert set(body) == {"projects", "versions", "success", "errors"}
    [project] = body["projects"]
    assert set(project) == PROJECT_KEYS
    assert isinstance(project["projectId"], int) and 10_000_000 <= project["projectId"] < 10**8
    assert re.fullmatch(r"[0-9a-f]{32}", project["organizationId"])
    assert project["organizationId"] == qc_emulator.organization_id
    assert project["name"] == "Alpha"
    assert project["ownerId"] == qc_emulator.user_id
    assert project["language"] == "Py"
    assert PLAIN.match(project["created"]) and PLAIN.match(project["modified"])
    assert project["parameters"] == [] and project["libraries"] == []
    assert project["description"] == ""
    assert project["encrypted"] is False and project["codeRunning"] is False
    assert project["channelId"].startswith(f"P{project['projectId']}-")
    assert set(project["collaborators"][0]) == COLLABORATOR_KEYS
    assert project["collaborators"][0]["uid"] == qc_emulator.user_id
    assert body["versions"] and all(set(v) == VERSION_KEYS for v in body["versions"])
    assert all(PLAIN.match(v["created"]) for v in body["versions"])
    assert project["leanVersionId"] == body["versions"][0]["id"]


def test_ids_increase_and_are_reproducible_with_seed(make_api):
    dealt = []
    for _ in range(2):  # two fresh servers with one seed deal the same ids
        with EmulatorServer(seed=77) as server:
            caller = make_api(server)
            dealt.append([caller.create_project(f"P{i}")["projectId"] for i in range(4)])
            caller.close()
    assert dealt[0] == dealt[1] == sorted(dealt[0]) and len(set(dealt[0])) == 4


def test_ids_never_repeat_across_resets(api, qc_emulator):
    first = [api.create_project(f"P{i}")["projectId"] for i in range(4)]
    file_ids = [f["id"] for f in api.ok("/files/read", {"projectId": first[0]})["files"]]
    qc_emulator.reset()
    again = [api.create_project(f"P{i}")["projectId"] for i in range(4)]
    assert not set(first) & set(again) and min(again) > max(first)
    new_files = [f["id"] for f in api.ok("/files/read", {"projectId": again[0]})["files"]]
    assert not set(file_ids) & set(new_files)
    # A stale id from before the reset reaches nothing.
    assert "Project not found" in api.fail("/projects/read", {"projectId": first[0]})


def test_create_with_organization(api, qc_emulator):
    body = api.ok(
        "/projects/create",
        {"name": "Org", "language": "C#", "organizationId": qc_emulator.organization_id},
    )
    assert body["projects"][0]["language"] == "C#"
    message = api.fail(
        "/projects/create", {"name": "Org", "language": "Py", "organizationId": "f" * 32}
    )
    assert "Organization" in message


@pytest.mark.parametrize("language", ["Python", "py", "CSharp", "c#", "", "Java"])
def test_create_rejects_unknown_language(api, language):
    message = api.fail("/projects/create", {"name": "Lang", "language": language})
    assert "language" in message.lower()
    assert api.ok("/projects/read")["projects"] == []


@pytest.mark.parametrize("missing", ["name", "language"])
def test_create_requires_name_and_language(api, missing):
    body = {"name": "X", "language": "Py"}
    del body[missing]
    assert f"'{missing}'" in api.fail("/projects/create", body)


def test_read_by_project_id(api):
    alpha = api.create_project("Alpha")
    api.create_project("Beta")
    body = api.ok("/projects/read", {"projectId": alpha["projectId"]})
    assert [p["projectId"] for p in body["projects"]] == [alpha["projectId"]]
    assert body["projects"][0] == alpha
    assert body["versions"]


@pytest.mark.parametrize("project_id", [-1, 0, 99_999_999])
def test_read_missing_project_fails(api, project_id):
    api.create_project()
    message = api.fail("/projects/read", {"projectId": project_id})
    assert message == f"Project not found. ProjectId: {project_id}"


def test_read_with_unknown_id_key_returns_all_projects(api):
    """QuantConnect's docs example sends {"id": ...}: unknown keys are ignored."""
    alpha = api.create_project("Alpha")
    api.create_project("Beta")
    body = api.ok("/projects/read", {"id": alpha["projectId"]})
    assert _names(body) == ["Alpha", "Beta"]


def test_read_all_with_empty_body(api):
    assert api.ok("/projects/read")["projects"] == []
    for name in ("A", "B", "C"):
        api.create_project(name)
    assert _names(api.ok("/projects/read")) == ["A", "B", "C"]
    assert _names(api.ok("/projects/read", {})) == ["A", "B", "C"]


def test_pagination(api):
    for i in range(5):
        api.create_project(f"P{i}")
    assert _names(api.ok("/projects/read", {"start": 0, "end": 2})) == ["P0", "P1"]
    assert _names(api.ok("/projects/read", {"start": 2, "end": 5})) == ["P2", "P3", "P4"]
    assert _names(api.ok("/projects/read", {"start": 3, "end": 100})) == ["P3", "P4"]
    assert _names(api.ok("/projects/read", {"start": 3})) == ["P3", "P4"]
    assert _names(api.ok("/projects/read", {"end": 1})) == ["P0"]
    assert _names(api.ok("/projects/read", {"start": 10, "end": 20})) == []


@pytest.mark.parametrize(("start", "end"), [(3, 3), (4, 2), (-1, 2), (None, 0)])
def test_pagination_rejects_bad_range(api, start, end):
    api.create_project()
    body = {key: value for key, value in {"start": start, "end": end}.items() if value is not None}
    api.fail("/projects/read", body)  # a missing start counts as 0


def test_update_name_and_description(api):
    project = api.create_project("Old Name")
    api.ok(
        "/projects/update",
        {"projectId": project["projectId"], "name": "New Name", "description": "Described"},
    )
    [updated] = api.ok("/projects/read", {"projectId": project["projectId"]})["projects"]
    assert updated["name"] == "New Name"
    assert updated["description"] == "Described"
    assert updated["modified"] >= project["modified"]
    assert updated["created"] == project["created"]
    api.ok("/projects/update", {"projectId": project["projectId"], "description": "Only"})
    [updated] = api.ok("/projects/read", {"projectId": project["projectId"]})["projects"]
    assert (updated["name"], updated["description"]) == ("New Name", "Only")


def test_rename_onto_live_name_fails_but_own_name_is_fine(api):
    alpha = api.create_project("Alpha")
    beta = api.create_project("Beta")
    assert "already" in api.fail(
        "/projects/update", {"projectId": beta["projectId"], "name": "Alpha"}
    )
    api.ok("/projects/update", {"projectId": alpha["projectId"], "name": "Alpha"})
    api.ok("/projects/delete", {"projectId": alpha["projectId"]})
    # "Alpha" is now only held by a project in the Recycle Bin.
    api.ok("/projects/update", {"projectId": beta["projectId"], "name": "Alpha"})


def test_update_errors(api):
    assert "'projectId'" in api.fail("/projects/update", {"name": "X"})
    assert api.fail("/projects/update", {"projectId": 12345678, "name": "X"}).startswith(
        "Project not found"
    )
    project = api.create_project()
    message = api.fail("/projects/update", {"projectId": project["projectId"], "name": "a.b"})
    assert message == "Project name contains unsupported special character (.)"


def test_soft_delete_then_purge(api, qc_emulator):
    project = api.create_project("Doomed")
    keep = api.create_project("Kept")
    pid = project["projectId"]
    api.ok("/projects/delete", {"projectId": pid})
    [deleted] = api.ok("/projects/read", {"projectId": pid})["projects"]
    assert deleted["name"] == "Recycle Bin/Doomed"
    assert _names(api.ok("/projects/read")) == ["Recycle Bin/Doomed", "Kept"]
    # Files of a project in the Recycle Bin stay readable.
    assert api.ok("/files/read", {"projectId": pid})["files"]

    api.ok("/projects/delete", {"projectId": pid})
    assert api.fail("/projects/read", {"projectId": pid}).startswith("Project not found")
    assert _names(api.ok("/projects/read")) == ["Kept"]
    api.fail("/projects/delete", {"projectId": pid})
    assert "'projectId'" in api.fail("/projects/delete", {})

    counters = qc_emulator.stats()["store"]
    assert counters["projects_soft_deleted"] == 1
    assert counters["projects_purged"] == 1
    assert [p["projectId"] for p in qc_emulator.projects()] == [keep["projectId"]]


def test_duplicate_names_allowed_on_create(api):
    first = api.create_project("Same")
    second = api.create_project("Same")
    assert first["projectId"] != second["projectId"]
    assert first["name"] == second["name"] == "Same"


def test_duplicate_names_renamed_when_configured(make_api):
    with EmulatorServer(rename_duplicates_on_create=True) as server:
        caller = make_api(server)
        try:
            names = [caller.create_project("Same")["name"] for _ in range(3)]
            assert names == ["Same", "Same 1", "Same 2"]
        finally:
            caller.close()


VALID_NAMES = [
    "My Project",
    "Folder/Sub Folder/Project_1-2",
    "a" * 200,
    "CONSOLE",
    "Recycle Binder/Not Deleted",
    "123",
]
INVALID_NAMES = {
    "dot": ("v1.2", "Project name contains unsupported special character (.)"),
    "recycle-bin-folder": ("Recycle Bin", "inside the Recycle Bin"),
    "in-recycle-bin": ("Recycle Bin/Looks Deleted", "inside the Recycle Bin"),
    "at": ("a@b", "Project name contains unsupported special character (@)"),
    "colon": ("a:b", "Project name contains unsupported special character (:)"),
    "backslash": ("a\\b", "Project name contains unsupported special character (\\)"),
    "unicode": ("café", "Project name contains unsupported special character (é)"),
    "leading-space": (" lead", "start or end with a space"),
    "trailing-space": ("trail ", "start or end with a space"),
    "component-space": ("Folder/ x", "start or end with a space"),
    "component-trailing-space": ("x /y", "start or end with a space"),
    "device": ("CON", "reserved name (CON)"),
    "device-lower": ("folder/lpt1", "reserved name (lpt1)"),
    "device-com9": ("Com9", "reserved name (Com9)"),
    "device-nul": ("a/NUL/b", "reserved name (NUL)"),
    "empty-component": ("a//b", "empty folder name"),
    "leading-slash": ("/a", "empty folder name"),
    "trailing-slash": ("a/", "empty folder name"),
    "empty": ("", "cannot be empty"),
    "blank": ("   ", "cannot be empty"),
    "too-long": ("a" * 201, "too long"),
}


@pytest.mark.parametrize("name", VALID_NAMES)
def test_valid_project_names(api, name):
    assert api.create_project(name)["name"] == name


@pytest.mark.parametrize("case", sorted(INVALID_NAMES))
def test_invalid_project_names(api, case):
    name, expected = INVALID_NAMES[case]
    message = api.fail("/projects/create", {"name": name, "language": "Py"})
    assert expected in message
    project = api.create_project("Valid")
    message = api.fail("/projects/update", {"projectId": project["projectId"], "name": name})
    assert expected in message
    assert _names(api.ok("/projects/read")) == ["Valid"]


def test_max_name_length_is_configurable(make_api):
    with EmulatorServer(max_name_length=10) as server:
        caller = make_api(server)
        try:
            caller.create_project("a" * 10)
            assert "too long" in caller.fail(
                "/projects/create", {"name": "a" * 11, "language": "Py"}
            )
        finally:
            caller.close()


def test_account_read_names_the_organization_projects_belong_to(api):
    account = api.ok("/account/read")
    project = api.create_project()
    assert account["organizationId"] == project["organizationId"]
    assert isinstance(account["creditBalance"], float)
    assert account["card"] is None  # no card on file: null, not an empty card (LEAN's tests)
