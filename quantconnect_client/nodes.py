"""``/projects/nodes/*``: which nodes a project's backtests, research and live trading use.

The number of backtest nodes is how many backtests the organization runs at once, so a pipeline
sizes its concurrency with :attr:`ProjectNodes.backtest_node_count`.

Example:
    >>> client.nodes.read(project_id).backtest_node_count  # doctest: +SKIP
    1
"""

from __future__ import annotations

from collections.abc import Sequence

from .errors import ValidationError
from .models.base import parse
from .models.nodes import ProjectNodes
from .requester import Caller
from .validation import validate_id


class NodesAPI:
    """Node operations; reached as ``client.nodes``."""

    def __init__(self, client: Caller) -> None:
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


__all__ = ["NodesAPI"]
