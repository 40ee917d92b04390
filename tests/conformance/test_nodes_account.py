"""Nodes, account and organization answers against the strict contract models (backtests §4,
§5, §7; contract §6)."""

from __future__ import annotations

import pytest

from tests.conformance.contract import (
    Account,
    OrganizationAnswer,
    OrganizationNodes,
    ProjectNodes,
)


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "one-busy"])
def test_projects_nodes_read(world, busy):
    pid = world.project()
    if busy:
        compile_id = world.compiled(pid)
        world.jobs(backtest_seconds=1_000)
        world.backtest(pid, compile_id)
    answer = world.expect(world.call("/projects/nodes/read", {"projectId": pid}), ProjectNodes)
    assert answer.autoSelectNode is True  # a new project: every `active` false
    assert any(n.busy for n in answer.nodes.backtest) is busy


@pytest.mark.parametrize("selection", ["one", "none"])
def test_projects_nodes_update(world, selection):
    pid = world.project()
    nodes = world.ok("/projects/nodes/read", {"projectId": pid})["nodes"]
    chosen = [nodes["backtest"][0]["id"]] if selection == "one" else []
    body = {"projectId": pid, "nodes": chosen}
    answer = world.expect(world.call("/projects/nodes/update", body), ProjectNodes)
    assert answer.autoSelectNode is (selection == "none")


@pytest.mark.parametrize("body", [{}, "organization"], ids=["default", "by-id"])
def test_nodes_read(world, body):
    """§7: the organization-level ``/nodes/read`` the ``lean`` CLI reads."""
    if body == "organization":
        body = {"organizationId": world.server.organization_id}
    world.expect(world.call("/nodes/read", body), OrganizationNodes)


@pytest.mark.parametrize("body", [{}, "organization"], ids=["default", "by-id"])
def test_account_read(world, body):
    if body == "organization":
        body = {"organizationId": world.server.organization_id}
    world.expect(world.call("/account/read", body), Account)


@pytest.mark.parametrize("body", [{}, "organization"], ids=["default", "by-id"])
def test_organizations_read(world, body):
    if body == "organization":
        body = {"organizationId": world.server.organization_id}
    world.expect(world.call("/organizations/read", body), OrganizationAnswer)
