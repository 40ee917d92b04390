"""Models of ``/projects/nodes/*`` answers: the organization's nodes by kind.

Example:
    >>> nodes = ProjectNodes.model_validate(
    ...     {"nodes": {"backtest": [{"id": "n1", "sku": "B-MICRO"}], "research": [], "live": []},
    ...      "autoSelectNode": True})
    >>> nodes.backtest_node_count, nodes.auto_select_node
    (1, True)
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from .base import WireModel, lenient_items


class NodePrice(WireModel):
    """A node's price."""

    monthly: float | None = None
    yearly: float | None = None


class Node(WireModel):
    """One node of the organization (``sku`` such as ``B-MICRO``, ``B4-12``, ``L-MICRO``)."""

    id: str
    name: str | None = None
    sku: str | None = None
    description: str | None = None
    speed: float | None = None
    cpu: int | None = None
    ram: float | None = None
    has_gpu: int | None = None
    price: NodePrice | None = None
    assets: int | None = None
    host: str | None = None
    busy: bool | None = None
    used_by: str | None = None
    project_name: str | None = None
    project_id: int | None = None
    active: bool | None = None


class NodeGroups(WireModel):
    """Nodes by kind."""

    backtest: list[Node] = Field(default_factory=list)
    research: list[Node] = Field(default_factory=list)
    live: list[Node] = Field(default_factory=list)

    @field_validator("backtest", "research", "live", mode="before")
    @classmethod
    def _lenient(cls, value: Any) -> list[Node]:
        return lenient_items(value, Node, "nodes")


class ProjectNodes(WireModel):
    """The answer of ``/projects/nodes/read`` and ``/update``."""

    nodes: NodeGroups = Field(default_factory=NodeGroups)
    auto_select_node: bool | None = None

    @property
    def backtest_node_count(self) -> int:
        """How many backtest nodes the organization has (how many backtests run at once)."""
        return len(self.nodes.backtest)

    @property
    def idle_backtest_nodes(self) -> list[Node]:
        """Backtest nodes not busy now."""
        return [n for n in self.nodes.backtest if not n.busy]


__all__ = ["Node", "NodeGroups", "NodePrice", "ProjectNodes"]
