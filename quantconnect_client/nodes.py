"""``/projects/nodes/*``: which nodes a project's backtests, research and live trading use.

The number of backtest nodes is how many backtests the organization runs at once, so a pipeline
sizes its concurrency with :attr:`ProjectNodes.backtest_node_count`.

Example:
    >>> nodes = ProjectNodes.model_validate(
    ...     {"nodes": {"backtest": [{"id": "n1", "sku": "B-MICRO"}], "research": [], "live": []},
    ...      "autoSelectNode": True})
    >>> nodes.backtest_node_count, nodes.auto_select_node
    (1, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import Field, field_validator

from .errors import ValidationError
from .models import WireModel, lenient_items, parse
from .validation import validate_id

if TYPE_CHECKING:
    from .client import QuantConnectClient


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


class NodesAPI:
    """Node operations; reached as ``client.nodes``."""

    def __init__(self, client: QuantConnectClient) -> None:
        self._client = client

    def read(self, project_id: int) -> ProjectNodes:
        """The organization's nodes as seen from a project, and which it uses."""
        validate_id(project_id)
        body = self._client.call("/projects/nodes/read", {"projectId": project_id})
        return parse(ProjectNodes, body, "/projects/nodes/read")

    def update(self, project_id: int, node_ids: Sequence[str]) -> ProjectNodes:
        """Use exactly these nodes for the project (an empty list: let the service choose).

        Raises:
            ValidationError: A node id that is not a non-empty string.
        """
        validate_id(project_id)
        if isinstance(node_ids, str):
            raise ValidationError("node_ids must be a list of node ids, not one string.")
        ids = list(node_ids)
        for node_id in ids:
            if not isinstance(node_id, str) or not node_id.strip():
                raise ValidationError(f"Node id {node_id!r} must be a non-empty string.")
        body = self._client.call("/projects/nodes/update", {"projectId": project_id, "nodes": ids})
        return parse(ProjectNodes, body, "/projects/nodes/update")


__all__ = ["Node", "NodeGroups", "NodesAPI", "ProjectNodes"]
