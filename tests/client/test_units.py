"""Pure-logic pieces of the client: signing, validation, lenient models, retry delays."""

from __future__ import annotations

import base64
import hashlib
from datetime import timezone
from email.utils import formatdate

import pydantic
import pytest
from pydantic import SecretStr

from quantconnect_client import Project, ProjectFile, RetryPolicy, ValidationError, sign
from quantconnect_client.auth import RequestSigner
from quantconnect_client.errors import RateLimitedError
from quantconnect_client.models.projects import ProjectList
from quantconnect_client.validation import (
    validate_id,
    validate_language,
    validate_page,
    validate_project_name,
)


def test_signature_matches_the_documented_scheme():
    headers = sign(123, "tok", 1_700_000_000)
    expected_hash = hashlib.sha256(b"tok:1700000000").hexdigest()
    assert headers["Timestamp"] == "1700000000"
    scheme, encoded = headers["Authorization"].split(" ")
    assert scheme == "Basic"
    assert base64.b64decode(encoded).decode() == f"123:{expected_hash}"
    assert "tok" not in headers["Authorization"]


def test_signer_uses_a_fresh_timestamp_each_time_and_hides_the_token():
    ticks = iter([100.0, 101.0])
    signer = RequestSigner(5, SecretStr("hush-hush"), clock=lambda: next(ticks))
    assert signer.headers()["Timestamp"] == "100"
    assert signer.headers()["Timestamp"] == "101"
    assert "hush-hush" not in repr(signer)


def test_signer_learns_a_large_clock_offset_from_the_date_header_only():
    signer = RequestSigner(5, SecretStr("t"), clock=lambda: 1_000_000.0)
    assert signer.learn_offset_from_date(formatdate(1_000_005.0, usegmt=True)) is None
    assert signer.learn_offset_from_date("not a date") is None
    assert signer.learn_offset_from_date(formatdate(1_010_800.0, usegmt=True)) == 10_800
    assert signer.now() == 1_010_800


@pytest.mark.parametrize(
    "name",
    ["My Project", "Folder/Sub folder/Algo-1_x", "a" * 200, "Research/COM10", "console"],
)
def test_valid_project_names(name):
    assert validate_project_name(name) == name


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "empty"),
        (" lead", "start or end with a space"),
        ("trail ", "start or end with a space"),
        ("Folder/ inner", "start or end with a space"),
        ("v1.2", "unsupported special character (.)"),
        ("a*b", "unsupported special character (*)"),
        ("Résumé", "unsupported special character (é)"),
        ("CON", "reserved device name"),
        ("Folder/lpt1", "reserved device name"),
        ("a//b", "empty folder component"),
        ("/abs", "empty folder component"),
        ("a" * 201, "maximum is 200"),
        ("Recycle Bin/keep me", "deleted projects"),
        (None, "must be a string"),
    ],
)
def test_invalid_project_names_say_why(name, fragment):
    with pytest.raises(ValidationError, match=None) as caught:
        validate_project_name(name)
    assert fragment in str(caught.value)


def test_languages_are_normalised_or_rejected():
    assert validate_language("Py") == "Py"
    assert validate_language("python") == "Py"
    assert validate_language("C#") == "C#"
    assert validate_language("csharp") == "C#"
    for bad in ("Java", "", None, 3):
        with pytest.raises(ValidationError, match="Unsupported project language"):
            validate_language(bad)


@pytest.mark.parametrize("bad", [0, -1, 2**31, True, "12", 1.5, None])
def test_ids_must_be_positive_integers(bad):
    with pytest.raises(ValidationError, match="projectId"):
        validate_id(bad)


def test_pages_must_be_well_formed():
    assert validate_page(0, 10) == (0, 10)
    for start, end in ((5, 5), (6, 2), (-1, 3)):
        with pytest.raises(ValidationError):
            validate_page(start, end)


def test_project_model_is_lenient():
    project = Project.model_validate(
        {
            "projectId": 11,
            "name": "x",
            "created": "2020-09-30 10:30:00",
            "modified": "2021-11-26T15:18:27.693Z",
            "parameters": [{"key": "fast", "value": "10"}, {"name": "slow", "value": "30"}],
            "collaborators": None,
            "brandNewField": {"nested": True},
            "lastLiveDeployment": None,
        }
    )
    assert project.created is not None and project.created.tzinfo == timezone.utc
    assert project.created.hour == 10
    assert project.modified is not None and project.modified.microsecond == 693000
    assert project.parameters == {"fast": "10", "slow": "30"}
    assert project.collaborators == []
    assert Project.model_validate({"projectId": 1, "parameters": []}).parameters == {}
    assert Project.model_validate({"projectId": 1, "parameters": {"a": 1}}).parameters == {"a": 1}
    assert ProjectFile.model_validate({"name": "main.py", "content": None}).content == ""


def test_retry_delay_has_jitter_and_honours_retry_after():
    policy = RetryPolicy(max_attempts=4, backoff_seconds=1.0, max_backoff_seconds=3.0)
    delays = {round(policy.delay(3), 6) for _ in range(50)}
    assert len(delays) > 10  # jittered
    assert all(0 <= d <= 2.0 for d in delays)
    assert all(policy.delay(6) <= 3.0 for _ in range(20))  # capped
    limited = RateLimitedError("429", retry_after=5)
    assert policy.delay(2, limited) >= 5
    assert policy.should_retry(1, limited)
    assert not policy.should_retry(4, limited)
    assert not policy.should_retry(1, RateLimitedError("429", retry_after=3600))


def test_one_odd_value_does_not_make_a_listing_unreadable():
    projects = ProjectList.model_validate(
        {
            "projects": [
                {"projectId": 1, "name": None, "created": ""},
                {"projectId": 2, "organizationId": 123, "encryptionKey": {"id": 5}},
                {"projectId": 3, "name": "fine", "created": "garbage"},
            ]
        }
    ).projects
    assert [(p.project_id, p.name, p.created) for p in projects] == [
        (1, "", None),
        (2, "", None),
        (3, "fine", None),
    ]
    with pytest.raises(pydantic.ValidationError):
        Project.model_validate({"name": "no id"})  # the id is the one thing never guessed
