"""Object Store answers against strict models of the contract (more §2).

The models live here, beside their cases, until the lead merges them into ``contract.py``.
"""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import Field

from tests.conformance.contract import (
    AnyDate,
    EmptyList,
    Failure,
    Hex32,
    NonEmptyText,
    Ok,
    Strict,
    TrueValue,
)

Md5 = Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]


class ObjectMetadata(Strict):
    """``ObjectStoreProperties``: the seven keys of ``metadata``."""

    key: NonEmptyText
    modified: AnyDate
    created: AnyDate
    size: Annotated[int, Field(ge=0)]
    md5: Md5
    mime: NonEmptyText
    preview: str | None


class Properties(Strict):
    metadata: ObjectMetadata
    success: TrueValue
    errors: EmptyList


class ListedObject(Strict):
    key: NonEmptyText
    name: NonEmptyText
    modified: AnyDate
    mime: NonEmptyText
    folder: bool
    size: Annotated[int, Field(ge=0)]


class Listing(Strict):
    path: NonEmptyText
    objects: list[ListedObject]
    page: int
    totalPages: int
    objectStorageUsed: Annotated[int, Field(ge=0)]
    objectStorageUsedHuman: NonEmptyText
    success: TrueValue
    errors: EmptyList


class GetJob(Strict):
    jobId: Hex32
    url: NonEmptyText | None
    success: TrueValue
    errors: EmptyList


SET = "/object/set"


def _upload(world: Any, key: str, data: bytes) -> Any:
    return world.api.session.post(
        f"{world.server.base_url}{SET}",
        data={"organizationId": world.server.organization_id, "key": key},
        files={"objectData": ("blob", data)},
        headers=world.api.headers(),
        timeout=10,
    )


def _org(world: Any, **fields: Any) -> dict[str, Any]:
    return {"organizationId": world.server.organization_id, **fields}


def test_object_set(world: Any) -> None:
    world.expect(_upload(world, "a/b.txt", b"hello"), Ok)
    world.expect(_upload(world, "a/b.txt/c", b"x"), Failure)  # inside a file


@pytest.mark.parametrize("data", [b"Hello, world!", bytes(range(256))], ids=["text", "binary"])
def test_object_properties(world: Any, data: bytes) -> None:
    world.expect(_upload(world, "k", data), Ok)
    world.expect(world.call("/object/properties", _org(world, key="k")), Properties)
    world.expect(world.call("/object/properties", _org(world, key="missing")), Failure)


@pytest.mark.parametrize("path", [None, "root", "/root", "nothing"])
def test_object_list(world: Any, path: str | None) -> None:
    world.expect(_upload(world, "root/file.txt", b"1"), Ok)
    world.expect(_upload(world, "root/child/grand.txt", b"2"), Ok)
    body = _org(world) if path is None else _org(world, path=path)
    world.expect(world.call("/object/list", body), Listing)


def test_object_get_stages(world: Any) -> None:
    world.expect(_upload(world, "a.txt", b"a"), Ok)
    started = world.expect(world.call("/object/get", _org(world, keys=["a.txt"])), GetJob)
    assert started.url is None
    world.advance(60)
    ready = world.expect(world.call("/object/get", _org(world, jobId=started.jobId)), GetJob)
    assert ready.url is not None
    world.expect(world.call("/object/get", _org(world, keys=["missing"])), Failure)


def test_object_delete(world: Any) -> None:
    world.expect(_upload(world, "a.txt", b"a"), Ok)
    world.expect(world.call("/object/delete", _org(world, key="a.txt")), Ok)
    world.expect(world.call("/object/delete", _org(world, key="a.txt")), Failure)
