"""Nodes, account and LEAN versions: the contract's sections 4 and 5."""

from __future__ import annotations

import re

NODE_KEYS = {
    "id", "name", "sku", "description", "speed", "cpu", "ram", "hasGpu", "price", "assets",
    "host", "busy", "usedBy", "userProfile", "projectName", "projectId", "active",
}  # fmt: skip


def test_a_new_project_sees_the_accounts_nodes_with_auto_selection(api, qc_emulator):
    qc_emulator.set_jobs(backtest_nodes=3)
    pid = api.create_project("Nodes")["projectId"]
    read = api.ok("/projects/nodes/read", {"projectId": pid})
    nodes = read["nodes"]
    assert (len(nodes["backtest"]), len(nodes["research"]), len(nodes["live"])) == (3, 1, 1)
    assert read["autoSelectNode"] is True
    every = [n for kind in nodes.values() for n in kind]
    assert all(set(n) == NODE_KEYS and n["active"] is False for n in every)
    assert len({n["id"] for n in every}) == 5


def test_update_activates_nodes_and_an_empty_list_restores_auto_selection(api, qc_emulator):
    pid = api.create_project("Pick")["projectId"]
    node_id = api.ok("/projects/nodes/read", {"projectId": pid})["nodes"]["backtest"][1]["id"]
    picked = api.ok("/projects/nodes/update", {"projectId": pid, "nodes": [node_id]})
    assert picked["autoSelectNode"] is False
    assert [n["active"] for n in picked["nodes"]["backtest"]] == [False, True]
    assert api.ok("/projects/nodes/read", {"projectId": pid})["autoSelectNode"] is False
    back = api.ok("/projects/nodes/update", {"projectId": pid, "nodes": []})
    assert back["autoSelectNode"] is True
    assert api.ok("/projects/nodes/update", {"projectId": pid})["autoSelectNode"] is True
    assert "Node not found" in api.fail(
        "/projects/nodes/update", {"projectId": pid, "nodes": ["N-nope"]}
    )
    assert api.fail("/projects/nodes/read", {"projectId": -1})


def test_a_running_backtest_makes_a_node_busy(api, qc_emulator):
    qc_emulator.set_jobs(backtest_nodes=2, backtest_seconds=1_000)
    pid = api.create_project("Busy")["projectId"]
    compile_id = api.compile(pid)["compileId"]
    api.backtest(pid, compile_id)
    nodes = api.ok("/projects/nodes/read", {"projectId": pid})["nodes"]["backtest"]
    assert [n["busy"] for n in nodes] == [True, False]
    assert (nodes[0]["projectId"], nodes[0]["projectName"]) == (pid, "Busy")
    qc_emulator.advance(1_001)
    nodes = api.ok("/projects/nodes/read", {"projectId": pid})["nodes"]["backtest"]
    assert not any(n["busy"] for n in nodes)


def test_account_and_lean_versions(api, qc_emulator):
    account = api.ok("/account/read")
    assert account["organizationId"] == qc_emulator.organization_id
    assert account["card"] is None  # an account without a card
    assert isinstance(account["creditBalance"], float)
    assert "Organization" in api.fail("/account/read", {"organizationId": "f" * 32})
    versions = api.ok("/lean/versions/read")["versions"]
    assert versions and {"id", "created", "description", "leanHash", "name", "ref"} <= set(
        versions[0]
    )
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", versions[0]["created"])
    organization = api.ok("/organizations/read")["organization"]
    assert organization["id"] == qc_emulator.organization_id


def test_the_organizations_nodes_with_their_busy_state(api, qc_emulator):
    qc_emulator.set_jobs(backtest_nodes=3, backtest_seconds=1_000)
    pid = api.create_project("Org Nodes")["projectId"]
    api.backtest(pid, api.compile(pid)["compileId"])
    # As the lean CLI reads it (QCNodeList): the kinds at the top level.
    read = api.ok("/nodes/read", {"organizationId": qc_emulator.organization_id})
    assert set(read) == {"backtest", "research", "live", "success", "errors"}
    assert (len(read["backtest"]), len(read["research"]), len(read["live"])) == (3, 1, 1)
    every = [n for kind in ("backtest", "research", "live") for n in read[kind]]
    assert all(set(n) == NODE_KEYS for n in every)
    assert all(isinstance(n["projectName"], str) and isinstance(n["usedBy"], str) for n in every)
    assert [n["busy"] for n in read["backtest"]] == [True, False, False]
    assert read["backtest"][0]["projectName"] == "Org Nodes"
    assert api.ok("/nodes/read")["backtest"] == read["backtest"]  # the preferred organization
    assert "Organization" in api.fail("/nodes/read", {"organizationId": "f" * 32})
    qc_emulator.advance(1_001)
    assert not any(n["busy"] for n in api.ok("/nodes/read")["backtest"])
