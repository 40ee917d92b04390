"""Every project and file operation of the client, over HTTP against the emulator."""

from __future__ import annotations

import pytest

from quantconnect_client import (
    NotFoundError,
    QuantConnectClient,
    RequestRejectedError,
    ValidationError,
)


def test_authenticate(client: QuantConnectClient):
    assert client.authenticate() is True


def test_create_read_update_delete_purge(client: QuantConnectClient, qc_emulator):
    created = client.projects.create("Tests/Lifecycle One", "Py")
    assert created.name == "Tests/Lifecycle One"
    assert created.language == "Py"
    assert created.project_id > 0
    assert created.owner_id and created.organization_id and created.created

    read = client.projects.read(created.project_id)
    assert read.project_id == created.project_id and read.name == created.name

    client.projects.update(created.project_id, name="Tests/Renamed", description="why not")
    updated = client.projects.read(created.project_id)
    assert (updated.name, updated.description) == ("Tests/Renamed", "why not")

    client.projects.delete(created.project_id)
    deleted = client.projects.read(created.project_id)
    assert deleted.is_deleted and deleted.name.startswith("Recycle Bin/")
    assert created.project_id not in [p.project_id for p in client.projects.list()]
    listed = client.projects.list(include_deleted=True)
    assert created.project_id in [p.project_id for p in listed]

    client.projects.purge(created.project_id)
    with pytest.raises(NotFoundError):
        client.projects.read(created.project_id)
    client.projects.purge(created.project_id)  # already gone: quietly fine


def _sent(emulator, before: int) -> list[str]:
    return [r["path"] for r in emulator.requests_log()[before:]]


def test_purge_of_a_live_project_removes_it_for_good(client: QuantConnectClient, qc_emulator):
    project = client.projects.create("Tests/Purge Me", "C#")
    before = len(qc_emulator.requests_log())
    client.projects.purge(project.project_id)
    # Into the bin and out of it, then the read that shows it gone: nothing read in between.
    assert _sent(qc_emulator, before) == ["/projects/delete", "/projects/delete",
                                          "/projects/read"]
    with pytest.raises(NotFoundError):
        client.projects.read(project.project_id)


def test_purge_of_a_project_seen_in_the_bin_takes_one_delete(client: QuantConnectClient,
                                                              qc_emulator):
    project = client.projects.create("Tests/Purge Binned", "Py")
    client.projects.delete(project.project_id)
    before = len(qc_emulator.requests_log())
    client.projects.purge(project.project_id, in_recycle_bin=True)
    assert _sent(qc_emulator, before) == ["/projects/delete", "/projects/read"]
    assert qc_emulator.projects() == []


def test_a_wrong_guess_costs_a_request_never_an_error(client: QuantConnectClient, qc_emulator):
    binned = client.projects.create("Tests/Purge Guess Bin", "Py").project_id
    live = client.projects.create("Tests/Purge Guess Live", "Py").project_id
    client.projects.delete(binned)
    # Taken for live while in the bin: the second delete is refused ("not found") and the
    # read settles it at once.
    before = len(qc_emulator.requests_log())
    client.projects.purge(binned)
    assert _sent(qc_emulator, before) == ["/projects/delete", "/projects/delete",
                                          "/projects/read"]
    # Taken for one in the bin while live: the first read finds it in the bin, one more round.
    before = len(qc_emulator.requests_log())
    client.projects.purge(live, in_recycle_bin=True)
    assert _sent(qc_emulator, before) == ["/projects/delete", "/projects/read"] * 2
    assert qc_emulator.projects() == []


@pytest.mark.parametrize("in_recycle_bin", [False, True])
def test_purge_of_a_project_already_gone_is_quiet(client: QuantConnectClient, qc_emulator,
                                                  in_recycle_bin: bool):
    project = client.projects.create("Tests/Purge Twice", "Py")
    client.projects.purge(project.project_id)
    before = len(qc_emulator.requests_log())
    client.projects.purge(project.project_id, in_recycle_bin=in_recycle_bin)
    assert _sent(qc_emulator, before) == ["/projects/delete", "/projects/read"]


def test_list_and_pages(client: QuantConnectClient):
    ids = [client.projects.create(f"Tests/Page {i}", "Py").project_id for i in range(5)]
    everything = client.projects.list()
    assert {p.project_id for p in everything} >= set(ids)
    page = client.projects.list(start=1, end=3)
    assert len(page) == 2
    assert [p.project_id for p in page] == [p.project_id for p in everything[1:3]]
    with pytest.raises(ValidationError):
        client.projects.list(start=3, end=3)


def test_find_by_name_and_duplicate_names(client: QuantConnectClient):
    first = client.projects.create("Tests/Same Name", "Py")
    second = client.projects.create("Tests/Same Name", "Py")
    found = client.projects.find_by_name("Tests/Same Name")
    assert {p.project_id for p in found} == {first.project_id, second.project_id}


def test_read_missing_project_is_not_found(client: QuantConnectClient):
    with pytest.raises(NotFoundError) as caught:
        client.projects.read(99_999_999)
    assert caught.value.service_errors  # the service's own words are kept


def test_rename_onto_a_live_name_is_rejected_with_the_service_message(client):
    client.projects.create("Tests/Taken", "Py")
    other = client.projects.create("Tests/Other", "Py")
    with pytest.raises(RequestRejectedError) as caught:
        client.projects.update(other.project_id, name="Tests/Taken")
    assert not isinstance(caught.value, NotFoundError)
    assert caught.value.service_errors
    assert caught.value.service_errors[0] in str(caught.value)


def test_default_files_per_language(client: QuantConnectClient):
    python = client.projects.create("Tests/Py Files", "Py")
    csharp = client.projects.create("Tests/Cs Files", "C#")
    assert {f.name for f in client.files.list(python.project_id)} >= {"main.py", "research.ipynb"}
    assert {f.name for f in client.files.list(csharp.project_id)} >= {"Main.cs", "Research.ipynb"}
    assert "QCAlgorithm" in client.files.read(python.project_id, "main.py").content


def test_file_operations(client: QuantConnectClient):
    project = client.projects.create("Tests/Files", "Py")
    pid = project.project_id
    made = client.files.create(pid, "lib/helpers.py", "X = 1\n")
    assert made.name == "lib/helpers.py"
    assert client.files.read(pid, "lib/helpers.py").content == "X = 1\n"
    empty = client.files.create(pid, "empty.py")
    assert empty.content == ""
    with pytest.raises(ValidationError):
        client.files.create(pid, "blank.py", "")
    with pytest.raises(RequestRejectedError):
        client.files.create(pid, "main.py", "print(1)\n")  # new projects hold main.py already

    client.files.update(pid, "main.py", "# replaced\n")
    assert client.files.read(pid, "main.py").content == "# replaced\n"

    client.files.rename(pid, "lib/helpers.py", "lib/tools.py")
    names = {f.name for f in client.files.list(pid)}
    assert "lib/tools.py" in names and "lib/helpers.py" not in names

    client.files.delete(pid, "lib/tools.py")
    with pytest.raises(NotFoundError):
        client.files.read(pid, "lib/tools.py")
    with pytest.raises(RequestRejectedError):
        client.files.list(99_999_999)


def test_bad_input_is_rejected_before_any_request(client: QuantConnectClient, qc_emulator):
    before = len(qc_emulator.requests_log())
    bad_calls = [
        lambda: client.projects.create("has.dot", "Py"),
        lambda: client.projects.create("ok name", "Java"),
        lambda: client.projects.create(" space", "Py"),
        lambda: client.projects.read(0),
        lambda: client.projects.read(-5),
        lambda: client.projects.delete(2**40),
        lambda: client.projects.update(1, name="AUX"),
        lambda: client.files.read(1, ""),
        lambda: client.files.create(1, "x.py", ""),
    ]
    for call in bad_calls:
        with pytest.raises(ValidationError):
            call()
    assert len(qc_emulator.requests_log()) == before
    assert qc_emulator.projects() == []
