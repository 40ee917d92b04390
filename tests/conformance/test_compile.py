"""Every stage of a compile against the strict contract models (backtests §2)."""

from __future__ import annotations

import pytest

from tests.conformance.contract import BuildError, BuildSuccess, CompileCreated, CompileInQueue

#: Turns a new project's code into code that does not build (both are parsed, never run).
BREAKERS = {
    "Py": ("main.py", lambda text: text + "\njunk junk }\n"),
    "C#": ("Main.cs", lambda text: text.rstrip().removesuffix("}")),
}


@pytest.mark.parametrize("language", ["Py", "C#"])
def test_compile_create(world, language):
    pid = world.project(language)
    answer = world.expect(world.call("/compile/create", {"projectId": pid}), CompileCreated)
    assert answer.projectId == pid


def test_compile_read_in_queue(world):
    world.jobs(compile_seconds=1_000)
    pid = world.project()
    compile_id = world.ok("/compile/create", {"projectId": pid})["compileId"]
    body = {"projectId": pid, "compileId": compile_id}
    world.expect(world.call("/compile/read", body), CompileInQueue)


@pytest.mark.parametrize("language", ["Py", "C#"])
def test_compile_read_build_success(world, language):
    pid = world.project(language)
    compile_id = world.ok("/compile/create", {"projectId": pid})["compileId"]
    world.advance(60)
    body = {"projectId": pid, "compileId": compile_id}
    world.expect(world.call("/compile/read", body), BuildSuccess)


@pytest.mark.parametrize("language", ["Py", "C#"])
def test_compile_read_build_error(world, language):
    pid = world.project(language)
    name, breaker = BREAKERS[language]
    text = world.ok("/files/read", {"projectId": pid, "name": name})["files"][0]["content"]
    world.ok("/files/update", {"projectId": pid, "name": name, "content": breaker(text)})
    compile_id = world.ok("/compile/create", {"projectId": pid})["compileId"]
    world.advance(60)
    body = {"projectId": pid, "compileId": compile_id}
    world.expect(world.call("/compile/read", body), BuildError)
