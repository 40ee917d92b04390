"""Compile over HTTP against the emulator: create, read, wait, build errors with their logs."""

from __future__ import annotations

import pytest

from quantconnect_client import (
    BuildError,
    NotFoundError,
    QuantConnectClient,
    ValidationError,
    WaitTimeoutError,
)
from quantconnect_client.compiles import read_build_log


def test_a_python_project_compiles(client: QuantConnectClient, fast_jobs):
    pid = client.projects.create("Tests/Compile Py", "Py").project_id
    started = client.compiles.create(pid)
    assert started.state == "InQueue" and started.project_id == pid
    assert "main.py" in started.signature_order
    seen: list[str | None] = []
    done = client.compiles.wait(pid, started.compile_id, on_progress=lambda c: seen.append(c.state))
    assert done.succeeded and done.state == "BuildSuccess"
    assert any("Build Request Successful" in line for line in done.logs)
    assert seen[-1] == "BuildSuccess"
    assert client.compiles.read(pid, started.compile_id).state == "BuildSuccess"


def test_a_python_syntax_error_is_a_build_error_with_file_and_line(client, fast_jobs):
    pid = client.projects.create("Tests/Compile Broken", "Py").project_id
    client.files.create(pid, "lib/broken.py", "def oops(:\n    pass\n")
    compiled = client.compiles.create(pid)
    with pytest.raises(BuildError) as caught:
        client.compiles.wait(pid, compiled.compile_id)
    error = caught.value
    assert not error.retryable and error.compile_id == compiled.compile_id
    assert error.logs
    entry = next(e for e in error.entries if e.file == "lib/broken.py")
    assert entry.line == 1 and entry.message
    assert "lib/broken.py:1" in str(error)


def test_a_csharp_error_is_a_build_error_with_file_and_line(client, fast_jobs):
    pid = client.projects.create("Tests/Compile Cs", "C#").project_id
    client.files.update(pid, "Main.cs", "public class Broken : QCAlgorithm {\n")
    compiled = client.compiles.create(pid)
    with pytest.raises(BuildError) as caught:
        client.compiles.wait(pid, compiled.compile_id)
    assert any(e.file == "Main.cs" and e.line for e in caught.value.entries)


def test_a_forced_build_error_carries_its_message(client, fast_jobs):
    pid = client.projects.create("Tests/Compile Forced", "Py").project_id
    fast_jobs.force_build_error(pid, "forced for the test")
    compiled = client.compiles.create(pid)
    with pytest.raises(BuildError, match="did not compile"):
        client.compiles.wait(pid, compiled.compile_id)


def test_a_compile_still_queued_at_the_deadline_times_out(client, qc_emulator):
    qc_emulator.set_jobs(compile_seconds=60)
    pid = client.projects.create("Tests/Compile Slow", "Py").project_id
    compiled = client.compiles.create(pid)
    with pytest.raises(WaitTimeoutError) as caught:
        client.compiles.wait(pid, compiled.compile_id, timeout=0.6)
    assert caught.value.last.state == "InQueue"


def test_unknown_compiles_and_bad_ids(client, qc_emulator):
    pid = client.projects.create("Tests/Compile Ids", "Py").project_id
    with pytest.raises(NotFoundError):
        client.compiles.read(pid, "a" * 32 + "-" + "b" * 32)
    before = len(qc_emulator.requests_log())
    for bad in ("", "has space", None, "x" * 201):
        with pytest.raises(ValidationError):
            client.compiles.read(pid, bad)  # type: ignore[arg-type]
    assert len(qc_emulator.requests_log()) == before


def test_build_logs_are_read_in_both_formats():
    entries = read_build_log(
        [
            "Build Error File: main.py Line 12 Column 8 - invalid syntax",
            "error: Main.cs Line 3 Column 1 - } expected",
            "Some other error without a place",
            "Build Request Successful",
        ]
    )
    assert [(e.file, e.line, e.column) for e in entries] == [
        ("main.py", 12, 8),
        ("Main.cs", 3, 1),
        (None, None, None),
    ]
    assert entries[1].message == "} expected"


def test_a_cloud_build_line_with_colons_is_read_and_its_text_kept():
    # Seen from the cloud once: "Line:1 Column:25", no space after the colons.
    line = "Build Error File: Main.cs Line:1 Column:25 - } expected"
    [entry] = read_build_log([line])
    assert (entry.file, entry.line, entry.column, entry.message) == ("Main.cs", 1, 25,
                                                                     "} expected")
    assert entry.text == line  # the service's words, verbatim
    unknown = "Compiler crashed: error CS9999 somewhere"
    [kept] = read_build_log([unknown])
    assert (kept.file, kept.line, kept.text) == (None, None, unknown)
