"""Nodes, account and LEAN versions over HTTP against the emulator."""

from __future__ import annotations

import pytest

from quantconnect_client import QuantConnectClient, ValidationError


def test_nodes_read_counts_the_backtest_nodes(client: QuantConnectClient, qc_emulator):
    qc_emulator.set_jobs(backtest_nodes=3)
    pid = client.projects.create("Tests/Nodes", "Py").project_id
    nodes = client.nodes.read(pid)
    assert nodes.backtest_node_count == 3
    assert nodes.auto_select_node is True
    assert all(n.id and n.sku for n in nodes.nodes.backtest)
    assert len(nodes.idle_backtest_nodes) == 3


def test_nodes_update_selects_and_releases(client: QuantConnectClient, qc_emulator):
    pid = client.projects.create("Tests/Nodes Update", "Py").project_id
    first = client.nodes.read(pid).nodes.backtest[0].id
    chosen = client.nodes.update(pid, [first])
    assert chosen.auto_select_node is False
    assert [n.id for n in chosen.nodes.backtest if n.active] == [first]
    assert client.nodes.update(pid, []).auto_select_node is True
    before = len(qc_emulator.requests_log())
    for bad in ("BT01", [""], [3]):
        with pytest.raises(ValidationError):
            client.nodes.update(pid, bad)  # type: ignore[arg-type]
    assert len(qc_emulator.requests_log()) == before


def test_account_and_lean_versions(client: QuantConnectClient):
    project = client.projects.create("Tests/Account", "Py")
    account = client.account.read()
    assert account.organization_id == project.organization_id
    assert account.credit_balance is not None
    versions = client.lean_versions()
    assert versions and all(v.id for v in versions)
