"""The emulated Object Store over HTTP, with hand-signed requests (no project client).

Each test states one contract line (``quantconnect-api-more.md`` §2) or one emulator choice.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from typing import Any

import pytest
import requests

from tests.emulator.conftest import Api

HELLO = b"Hello, world!"


def upload(api: Api, key: str, data: bytes, org: str | None = None) -> requests.Response:
    """``/object/set`` as the contract sends it: multipart, two fields and ``objectData``."""
    fields = {"organizationId": org or api.server.organization_id, "key": key}
    return api.session.post(
        f"{api.server.base_url}/object/set",
        data=fields,
        files={"objectData": ("blob", data, "application/octet-stream")},
        headers=api.headers(),
        timeout=10,
    )


def ok_upload(api: Api, key: str, data: bytes) -> None:
    response = upload(api, key, data)
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True, response.json()


def org(api: Api, **fields: Any) -> dict[str, Any]:
    return {"organizationId": api.server.organization_id, **fields}


def download(api: Api, keys: list[str]) -> zipfile.ZipFile:
    """Start a get job, finish it on the job clock, fetch the link (no API headers)."""
    started = api.ok("/object/get", org(api, keys=keys))
    assert len(started["jobId"]) == 32 and started["url"] is None
    api.server.emulator.account.clock.advance(60)
    ready = api.ok("/object/get", org(api, jobId=started["jobId"]))
    assert ready["jobId"] == started["jobId"]
    link = requests.get(ready["url"], timeout=10)
    assert link.status_code == 200
    return zipfile.ZipFile(io.BytesIO(link.content))


def test_upload_then_properties_match_the_observed_hello_world(api: Api) -> None:
    ok_upload(api, "test_key_20250101", HELLO)
    metadata = api.ok("/object/properties", org(api, key="test_key_20250101"))["metadata"]
    assert metadata["size"] == 13
    assert metadata["md5"] == "6cd3556deb0da54bca060b4c39479839"
    assert metadata["mime"] == "text/plain"
    assert metadata["preview"] == "Hello, world!"
    assert metadata["key"] == "test_key_20250101"
    assert set(metadata) == {"key", "modified", "created", "size", "md5", "mime", "preview"}


def test_binary_and_json_mime_types(api: Api, qc_object_store: Any) -> None:
    ok_upload(api, "/CI_TEST/l1_model", bytes(range(256)))
    ok_upload(api, "/CI_TEST/trades.json", b'{"a": 1}')
    binary = api.ok("/object/properties", org(api, key="CI_TEST/l1_model"))["metadata"]
    assert binary["mime"] == "application/octet-stream" and binary["preview"] is None
    text = api.ok("/object/properties", org(api, key="/CI_TEST/trades.json"))["metadata"]
    assert text["mime"] == "application/json"
    assert qc_object_store.content("CI_TEST/l1_model") == bytes(range(256))


def test_a_json_body_upload_is_refused(api: Api) -> None:
    message = api.fail("/object/set", org(api, key="a.txt", objectData="aGk="))
    assert "objectData" in message and "multipart" in message


def test_unknown_organization_is_refused(api: Api) -> None:
    response = upload(api, "a.txt", b"x", org=" ")
    assert response.json()["success"] is False
    assert "Organization" in response.json()["errors"][0]
    assert "Organization" in api.fail("/object/list", {"organizationId": "f" * 32})


def test_overwrite_keeps_created_renews_modified(api: Api, qc_object_store: Any) -> None:
    ok_upload(api, "a/b.txt", b"one")
    first = qc_object_store.snapshot()["a/b.txt"]
    ok_upload(api, "/a/b.txt", b"second")  # the same object: keys are normalized
    second = qc_object_store.snapshot()["a/b.txt"]
    assert list(qc_object_store.snapshot()) == ["a/b.txt"]
    assert second["created"] == first["created"]
    assert second["modified"] >= first["modified"]
    assert second["md5"] == hashlib.md5(b"second").hexdigest()


def test_quota_of_bytes_refuses_and_changes_nothing(api: Api, qc_object_store: Any) -> None:
    qc_object_store.configure(quota_bytes=10)
    ok_upload(api, "a.bin", b"12345678")
    response = upload(api, "b.bin", b"123")
    assert response.json()["success"] is False
    assert "quota" in response.json()["errors"][0]
    assert list(qc_object_store.snapshot()) == ["a.bin"]
    ok_upload(api, "a.bin", b"1234567890")  # replacing counts the new size only


def test_quota_of_files(api: Api, qc_object_store: Any) -> None:
    qc_object_store.configure(quota_files=1)
    ok_upload(api, "a.bin", b"1")
    assert upload(api, "b.bin", b"2").json()["success"] is False
    ok_upload(api, "a.bin", b"3")  # an overwrite adds no file


def test_truncated_multipart_body_stores_nothing(api: Api, qc_object_store: Any) -> None:
    body = (
        b'--b\r\nContent-Disposition: form-data; name="organizationId"\r\n\r\n'
        + api.server.organization_id.encode()
        + b'\r\n--b\r\nContent-Disposition: form-data; name="key"\r\n\r\nhalf.bin\r\n'
        b'--b\r\nContent-Disposition: form-data; name="objectData"; filename="x"\r\n\r\n'
        b"only the first half"
    )
    response = api.session.post(
        f"{api.server.base_url}/object/set",
        data=body,
        headers={**api.headers(), "Content-Type": "multipart/form-data; boundary=b"},
        timeout=10,
    )
    assert response.json()["success"] is False
    assert "truncated" in response.json()["errors"][0]
    assert qc_object_store.snapshot() == {}


@pytest.mark.parametrize("key", ["", "a/../b", "a//b", "x?y", "a.b.c", "/"])
def test_bad_keys_are_refused(api: Api, key: str) -> None:
    assert upload(api, key, b"x").json()["success"] is False


def test_missing_key_and_folder_key_properties_are_refused(api: Api) -> None:
    ok_upload(api, "root/child/file.txt", b"x")
    assert "does not exist" in api.fail("/object/properties", org(api, key="nope"))
    assert "folder" in api.fail("/object/properties", org(api, key="root/child"))


def test_list_root_and_folder_not_recursive(api: Api) -> None:
    ok_upload(api, "root/file.txt", b"abc")
    ok_upload(api, "root/child/grandchild.txt", b"de")
    root = api.ok("/object/list", org(api))
    assert root["path"] == "/"
    assert [(o["key"], o["folder"], o["mime"]) for o in root["objects"]] == [
        ("root", True, "directory")
    ]
    assert root["objectStorageUsed"] == 5 and root["objectStorageUsedHuman"] == "5 B"
    assert root["page"] == 1 and root["totalPages"] == 1
    inner = api.ok("/object/list", org(api, path="root"))
    assert inner["path"] == "root"
    assert sorted((o["key"], o["folder"]) for o in inner["objects"]) == [
        ("root/child", True),
        ("root/file.txt", False),
    ]
    assert set(inner["objects"][0]) == {"key", "name", "modified", "mime", "folder", "size"}
    slashed = api.ok("/object/list", org(api, path="/root"))
    assert slashed["path"] == "/root"
    assert all(o["key"].startswith("/root/") for o in slashed["objects"])
    assert api.ok("/object/list", org(api, path="empty"))["objects"] == []


def test_delete_file_folder_and_missing(api: Api, qc_object_store: Any) -> None:
    ok_upload(api, "d/one.txt", b"1")
    ok_upload(api, "d/sub/two.txt", b"2")
    ok_upload(api, "keep.txt", b"3")
    api.ok("/object/delete", org(api, key="d/one.txt"))
    assert "does not exist" in api.fail("/object/delete", org(api, key="d/one.txt"))
    api.ok("/object/delete", org(api, key="/d"))  # a folder: recursive
    assert list(qc_object_store.snapshot()) == ["keep.txt"]


def test_list_lag_after_delete_when_configured(api: Api, qc_object_store: Any) -> None:
    qc_object_store.configure(list_lag_seconds=30)
    ok_upload(api, "gone.txt", b"1")
    api.ok("/object/delete", org(api, key="gone.txt"))
    assert [o["key"] for o in api.ok("/object/list", org(api))["objects"]] == ["gone.txt"]
    api.server.advance(31)
    assert api.ok("/object/list", org(api))["objects"] == []


def test_get_job_stages_and_zip_entries_follow_keys(api: Api) -> None:
    ok_upload(api, "/CI_TEST/trades_test.json", b"[1, 2]")
    ok_upload(api, "test_key_1", HELLO)
    archive = download(api, ["/CI_TEST/trades_test.json", "test_key_1", "missing"])
    assert sorted(archive.namelist()) == ["CI_TEST/trades_test.json", "test_key_1"]
    assert archive.read("test_key_1") == HELLO


def test_get_job_waits_on_the_job_clock(api: Api, qc_object_store: Any) -> None:
    qc_object_store.configure(get_seconds=10)
    ok_upload(api, "a.txt", b"a")
    job = api.ok("/object/get", org(api, keys=["a.txt"]))["jobId"]
    api.server.advance(9)
    assert api.ok("/object/get", org(api, jobId=job))["url"] is None
    api.server.advance(1.5)
    assert api.ok("/object/get", org(api, jobId=job))["url"].startswith(api.server.root_url)


def test_a_folder_key_downloads_its_files(api: Api) -> None:
    ok_upload(api, "f/a.txt", b"a")
    ok_upload(api, "f/g/b.txt", b"b")
    assert sorted(download(api, ["f"]).namelist()) == ["f/a.txt", "f/g/b.txt"]


def test_get_refusals(api: Api, qc_object_store: Any) -> None:
    assert "keys" in api.fail("/object/get", org(api, keys=[]))
    assert "none of the requested" in api.fail("/object/get", org(api, keys=["nope"]))
    assert "not found" in api.fail("/object/get", org(api, jobId="0" * 32))
    ok_upload(api, "a.txt", b"a")
    qc_object_store.configure(downloads_enabled=False)
    assert api.fail("/object/get", org(api, keys=["a.txt"])) == (
        "Organization does not have derivative export enabled"
    )


def test_download_link_needs_its_token_and_expires(api: Api, qc_object_store: Any) -> None:
    qc_object_store.configure(get_seconds=0, url_seconds=60)
    ok_upload(api, "a.txt", b"a")
    url = api.ok("/object/get", org(api, keys=["a.txt"]))["url"]
    assert requests.get(url.split("?")[0] + "?token=wrong", timeout=5).status_code == 403
    assert requests.get(url, timeout=5).status_code == 200
    api.server.advance(61)
    assert requests.get(url, timeout=5).status_code == 403


def test_the_zip_holds_the_objects_as_they_were_at_the_start(api: Api) -> None:
    ok_upload(api, "a.txt", b"before")
    started = api.ok("/object/get", org(api, keys=["a.txt"]))
    ok_upload(api, "a.txt", b"after")
    api.server.advance(60)
    url = api.ok("/object/get", org(api, jobId=started["jobId"]))["url"]
    assert zipfile.ZipFile(io.BytesIO(requests.get(url, timeout=5).content)).read("a.txt") == (
        b"before"
    )


def test_ambiguous_upload_is_applied_once(api: Api, qc_object_store: Any) -> None:
    api.server.inject("ambiguous_write", path="/object/set", count=1)
    with pytest.raises(requests.exceptions.RequestException):
        upload(api, "a.txt", b"payload")
    assert qc_object_store.snapshot()["a.txt"]["size"] == 7


def test_injected_fault_leaves_the_store_unchanged(api: Api, qc_object_store: Any) -> None:
    api.server.inject("http_503_html", path="/object/set", count=1)
    assert upload(api, "a.txt", b"payload").status_code == 503
    assert qc_object_store.snapshot() == {}


def test_control_plane_inspects_and_configures(api: Api) -> None:
    ok_upload(api, "a.txt", b"a")
    control = api.server.control_url
    settings = requests.put(f"{control}/objectstore/settings", json={"quota_files": 5}, timeout=5)
    assert settings.status_code == 200 and settings.json()["quota_files"] == 5
    seen = requests.get(f"{control}/objectstore", timeout=5).json()
    assert list(seen["objects"]) == ["a.txt"] and seen["settings"]["quota_files"] == 5
    bad = requests.put(f"{control}/objectstore/settings", json={"quota_files": -1}, timeout=5)
    assert bad.status_code == 422
