"""``/compile/create`` and ``/compile/read`` over HTTP, for both languages (contract §2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests

COMPILE_ID = re.compile(r"^[0-9a-f]{32}-[0-9a-f]{32}$")
SUCCESS_LOG = re.compile(
    r"^Build Request Successful for Project ID: (\d+), with CompileID: (\S+), "
    r"Lean Version: 2\.5\.0\.0\.\d+$"
)
PY_ERROR = re.compile(r"^Build Error File: (\S+) Line (\d+) Column (\d+) - (.+)$")
CS_ERROR = re.compile(r"^error: (\S+) Line (\d+) Column (\d+) - (.+)$")


@pytest.mark.parametrize("language", ["Py", "C#"])
def test_create_answers_in_queue_then_read_builds(api, language):
    pid = api.create_project(f"Build {language.strip('#')}", language)["projectId"]
    created = api.compile(pid, finish=False)
    assert COMPILE_ID.match(created["compileId"])
    assert (created["state"], created["projectId"]) == ("InQueue", pid)
    assert isinstance(created["signature"], str) and created["signature"]
    main = "main.py" if language == "Py" else "Main.cs"
    assert main in created["signatureOrder"]
    body = {"projectId": pid, "compileId": created["compileId"]}
    queued = api.ok("/compile/read", body)
    assert (queued["state"], queued["logs"]) == ("InQueue", [])
    api.server.advance(1.5)
    done = api.ok("/compile/read", body)
    assert done["state"] == "BuildSuccess" and done["projectId"] == pid
    match = SUCCESS_LOG.match(done["logs"][0])
    assert match and match.groups() == (str(pid), created["compileId"])


@pytest.mark.parametrize("language", ["Py", "C#"])
def test_file_parameters_name_the_literal_lean_api_calls(api, language):
    pid = api.create_project("Hints", language)["projectId"]
    created = api.compile(pid, finish=False)
    (entry,) = created["parameters"]
    assert entry["file"] == ("main.py" if language == "Py" else "Main.cs")
    start = "self.set_start_date(2024, 1, 1)" if language == "Py" else "SetStartDate(2024, 1, 1);"
    types = [p["type"] for p in entry["parameters"]]
    assert f'3 LEAN API parameters detected near "{start}".' in types
    assert all(isinstance(p["line"], int) and p["line"] > 0 for p in entry["parameters"])


def test_python_syntax_error_is_a_build_error_with_file_line_and_column(api):
    pid = api.create_project("Broken")["projectId"]
    api.put_file(pid, "utils/helpers.py", "def helper(:\n    return 1\n")
    done = api.compile(pid)
    assert done["state"] == "BuildError"  # success:true with state BuildError (api.ok checked)
    (line,) = done["logs"]
    match = PY_ERROR.match(line)
    assert match and match.groups() == ("utils/helpers.py", "1", "12", "invalid syntax")


def test_junk_appended_to_main_py_fails_the_build(api):
    pid = api.create_project("Junk")["projectId"]
    main = api.ok("/files/read", {"projectId": pid, "name": "main.py"})["files"][0]["content"]
    api.put_file(pid, "main.py", main + "\njunk junk }\n")
    done = api.compile(pid)
    assert done["state"] == "BuildError" and PY_ERROR.match(done["logs"][0])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda text: text.rstrip().removesuffix("}"), "'}' expected"),
        (lambda text: text.replace("SetCash(100000);", "SetCash(100000));"), "unexpected ')'"),
        (lambda text: text.replace('"SPY"', '"SPY'), "newline in constant"),
        (lambda text: text.replace(": QCAlgorithm", ""), "no class deriving from QCAlgorithm"),
    ],
    ids=["unbalanced-brace", "extra-paren", "unterminated-string", "no-algorithm"],
)
def test_csharp_lighter_check(api, change, message):
    pid = api.create_project("Sharp", "C#")["projectId"]
    main = api.ok("/files/read", {"projectId": pid, "name": "Main.cs"})["files"][0]["content"]
    api.put_file(pid, "Main.cs", change(main))
    done = api.compile(pid)
    assert done["state"] == "BuildError"
    match = CS_ERROR.match(done["logs"][0])
    assert match and match.group(1) == "Main.cs" and message in match.group(4)


def test_csharp_braces_in_strings_and_comments_do_not_count(api):
    pid = api.create_project("Sharp Strings", "C#")["projectId"]
    main = api.ok("/files/read", {"projectId": pid, "name": "Main.cs"})["files"][0]["content"]
    tricky = main.replace(
        'Debug("Purchased Stock");', "Debug(\"}}} ((( {\");  // }}} ) \n /* { */ var c = '}';"
    )
    api.put_file(pid, "Main.cs", tricky)
    assert api.compile(pid)["state"] == "BuildSuccess"


def test_uploaded_code_is_never_executed(api, tmp_path: Path):
    marker = tmp_path / "executed"
    pid = api.create_project("Hostile")["projectId"]
    code = (
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from AlgorithmImports import *\n\n"
        "class Hostile(QCAlgorithm):\n"
        "    def initialize(self):\n"
        f"        open({str(marker)!r}, 'w').write('ran')\n"
    )
    api.put_file(pid, "main.py", code)
    done = api.compile(pid)
    assert done["state"] == "BuildSuccess"
    backtest = api.backtest(pid, done["compileId"])
    api.server.advance(60)
    assert api.read_backtest(pid, backtest["backtestId"])["completed"] is True
    assert not marker.exists()


def test_compile_errors_for_missing_things(api):
    assert "Project not found" in api.fail("/compile/create", {"projectId": -1})
    pid = api.create_project("Mine")["projectId"]
    other = api.create_project("Other")["projectId"]
    compile_id = api.compile(pid, finish=False)["compileId"]
    assert api.fail("/compile/read", {"projectId": pid, "compileId": "f" * 32}) == (
        "Compile id not found"
    )
    assert api.fail("/compile/read", {"projectId": other, "compileId": compile_id}) == (
        "Compile id not found"
    )
    assert "compileId" in api.fail("/compile/read", {"projectId": pid})


def test_compile_time_is_configurable_and_jobs_can_be_finished_on_demand(api, qc_emulator):
    qc_emulator.set_jobs(compile_seconds=600)
    pid = api.create_project("Slow")["projectId"]
    created = api.compile(pid, finish=False)
    qc_emulator.advance(10)
    body = {"projectId": pid, "compileId": created["compileId"]}
    assert api.ok("/compile/read", body)["state"] == "InQueue"
    url = f"{qc_emulator.control_url}/jobs/{created['compileId']}/finish"
    assert requests.post(url, timeout=5).json()["state"] == "done"
    assert api.ok("/compile/read", body)["state"] == "BuildSuccess"


def test_a_forced_build_error(api, qc_emulator):
    pid = api.create_project("Forced")["projectId"]
    qc_emulator.force_build_error(pid, "name 'x' is not defined")
    done = api.compile(pid)
    assert done["state"] == "BuildError"
    assert done["logs"] == ["Build Error File: main.py Line 1 Column 1 - name 'x' is not defined"]
    assert api.compile(pid)["state"] == "BuildSuccess"  # only the next compile
    cs = api.create_project("Forced CS", "C#")["projectId"]
    answer = requests.post(
        f"{qc_emulator.control_url}/compile/force-error",
        json={"projectId": cs, "message": "CS1002: ; expected"},
        timeout=5,
    ).json()
    assert answer["status"] == "armed"
    assert api.compile(cs)["logs"] == ["error: Main.cs Line 1 Column 1 - CS1002: ; expected"]
