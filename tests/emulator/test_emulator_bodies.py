"""Request shapes: JSON, form-encoded, query string, garbled bodies, paths, methods."""

from __future__ import annotations

import pytest
import requests

from quantconnect_emulator import EmulatorServer


def test_form_encoded_body(api):
    response = api.call("/projects/create", data={"name": "Form Made", "language": "Py"})
    assert response.status_code == 200 and response.json()["success"], response.text
    pid = response.json()["projects"][0]["projectId"]
    response = api.call("/files/read", data={"projectId": str(pid), "name": "main.py"})
    body = response.json()
    assert body["success"] and body["files"][0]["name"] == "main.py"
    response = api.call(
        "/files/create", data={"projectId": str(pid), "name": "f.py", "content": ""}
    )
    assert response.json()["success"] is False  # explicit empty content, form-encoded


def test_get_with_query_parameters(api):
    response = api.call("/projects/create", method="GET", params={"name": "Q", "language": "C#"})
    pid = response.json()["projects"][0]["projectId"]
    response = api.call("/projects/read", method="GET", params={"projectId": pid})
    assert [p["projectId"] for p in response.json()["projects"]] == [pid]
    response = api.call("/projects/read", method="GET", params={"start": 0, "end": 1})
    assert len(response.json()["projects"]) == 1


def test_query_and_body_are_merged(api):
    pid = api.create_project()["projectId"]
    response = api.call("/files/read", {"name": "main.py"}, params={"projectId": pid})
    assert response.json()["files"][0]["name"] == "main.py"


def test_numeric_strings_in_json(api):
    pid = api.create_project()["projectId"]
    assert api.ok("/projects/read", {"projectId": str(pid)})["projects"][0]["projectId"] == pid
    assert len(api.ok("/projects/read", {"start": "0", "end": "1"})["projects"]) == 1


def test_non_integer_project_id(api):
    for value in ("abc", 1.5, True, [1]):
        message = api.fail("/projects/read", {"projectId": value})
        assert message == "Invalid value for parameter 'projectId': expected an integer"


def test_null_counts_as_absent(api):
    api.create_project()
    assert len(api.ok("/projects/read", {"projectId": None})["projects"]) == 1
    assert "'name'" in api.fail("/projects/create", {"name": None, "language": "Py"})


def test_garbled_json_body_is_a_business_error(api):
    headers = {**api.headers(), "Content-Type": "application/json"}
    response = api.call("/projects/create", headers=headers, data=b'{"name": "x", "lang')
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is False
    assert body["errors"][0].startswith("Request body is not valid JSON")


def test_json_array_body(api):
    assert api.fail("/projects/read", [1, 2]) == "Request body must be a JSON object"


def test_plain_text_body(api):
    headers = {**api.headers(), "Content-Type": "text/plain"}
    response = api.call("/projects/read", headers=headers, data=b"hello")
    assert response.status_code == 200 and response.json()["success"] is False


def test_unknown_api_path_is_404_json(api):
    for path in ("/projects/frobnicate", "/backtests/frobnicate", ""):
        response = api.call(path)
        assert response.status_code == 404
        body = response.json()
        assert body["success"] is False and body["errors"][0].startswith("Unknown API endpoint")


def test_method_not_allowed(api):
    response = api.call("/projects/read", method="PUT")
    assert response.status_code == 405
    assert response.json()["success"] is False


def test_repeated_and_trailing_slashes(api, qc_emulator):
    root = qc_emulator.root_url
    for url in (
        f"{root}/api/v2//authenticate",
        f"{root}//api/v2/authenticate",
        f"{root}/api/v2/authenticate/",
    ):
        response = requests.post(url, headers=api.headers(), timeout=5)
        assert response.json() == {"success": True}, url
    assert [e["path"] for e in qc_emulator.requests_log()] == ["/authenticate"] * 3


def test_case_insensitive_paths(api):
    api.ok("/Projects/Read")


def test_request_too_large_is_413(make_api):
    with EmulatorServer(max_request_bytes=1000) as server:
        caller = make_api(server)
        try:
            response = caller.call("/projects/create", {"name": "x" * 2000, "language": "Py"})
            assert response.status_code == 413
            assert response.json()["success"] is False
        finally:
            caller.close()


# ------------------------------------ values re-parsed from JSON text: the body's decoder


def _compiled(api) -> tuple[int, str]:
    pid = api.create_project("Reparsed")["projectId"]
    return pid, api.compile(pid)["compileId"]


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        (
            '{"fast": "\\ud800"}',
            "Parameter 'parameters.fast' is not valid text: it holds a lone surrogate (U+D800)",
        ),
        ('{"fast": NaN}', "Parameter 'parameters' is not valid JSON: NaN is not a JSON number"),
        (
            '{"fast": 1e400}',
            "Parameter 'parameters' is not valid JSON: 1e400 is not a finite number",
        ),
    ],
)
def test_parameters_sent_as_json_text_are_decoded_like_the_body(api, parameters, message):
    pid, compile_id = _compiled(api)
    body = {"projectId": pid, "compileId": compile_id, "backtestName": "bt"}
    as_json = api.call("/backtests/create", {**body, "parameters": parameters})
    as_form = api.call(
        "/backtests/create",
        data={**{k: str(v) for k, v in body.items()}, "parameters": parameters},
    )
    for response in (as_json, as_form):
        assert response.status_code == 200, response.text
        assert response.json() == {"success": False, "errors": [message]}
    assert api.ok("/backtests/list", {"projectId": pid})["backtests"] == []  # nothing stored


def test_a_non_finite_number_in_the_body_is_refused(api):
    pid, compile_id = _compiled(api)
    headers = {**api.headers(), "Content-Type": "application/json"}
    raw = (
        f'{{"projectId": {pid}, "compileId": "{compile_id}", "backtestName": "bt", '
        '"parameters": {"fast": 1e400}}'
    )
    response = api.call("/backtests/create", headers=headers, data=raw.encode())
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": False,
        "errors": ["Request body is not valid JSON: 1e400 is not a finite number"],
    }
    assert api.ok("/backtests/list", {"projectId": pid})["backtests"] == []


def test_nodes_sent_as_json_text_are_decoded_like_the_body(api):
    pid = api.create_project("Nodes Text")["projectId"]
    response = api.call("/projects/nodes/update", {"projectId": pid, "nodes": '["\\ud800"]'})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "success": False,
        "errors": ["Parameter 'nodes[0]' is not valid text: it holds a lone surrogate (U+D800)"],
    }
    assert api.ok("/projects/nodes/read", {"projectId": pid})["autoSelectNode"] is True


def test_a_json_body_is_not_bracket_bound(api):
    pid, compile_id = _compiled(api)
    body = {"projectId": pid, "compileId": compile_id, "backtestName": "bt"}
    # The body's `parameters` wins whole: the query's `parameters[slow]` is not merged into it.
    answer = api.ok(
        "/backtests/create",
        {**body, "parameters": {"fast": 10}},
        params={"parameters[slow]": "99"},
    )
    assert answer["backtest"]["parameterSet"] == {"fast": 10}
    # An unknown JSON key is ignored, brackets or not.
    answer = api.ok("/backtests/create", {**body, "backtestName": "b2", "x[]": 1, "y[a][b]": 2})
    assert answer["backtest"]["parameterSet"] == []
