"""Nodes: the organization's (``/nodes/read``) and a project's (``/projects/nodes/read|update``).

The account has ``backtest_nodes`` backtest nodes (the job settings), one
research node and ``live_nodes`` live nodes. A backtest node is ``busy`` while a
backtest holds it (the busy ones are listed first, with the project using
them); a live node while a live algorithm that has not ended holds it. A project starts
with ``autoSelectNode: true`` and no node ``active``; an update with node ids
activates those and turns auto-selection off, an empty or missing list turns it
back on. ``/nodes/read`` (optional ``organizationId``) lists the organization's
backtest, research and live nodes with their busy state at the top level, as
the ``lean`` CLI reads them (``QCNodeList``). Node ids and SKUs are the
emulator's (the real ids are unconfirmed).

Example:
    >>> from quantconnect_emulator.account import Account
    >>> from quantconnect_emulator.config import EmulatorConfig, JobsConfig
    >>> from quantconnect_emulator.resources.projects import Projects
    >>> account = Account(EmulatorConfig(jobs=JobsConfig(backtest_nodes=3)))
    >>> project = Projects.of(account).create("Demo", "Py")
    >>> read = Nodes.of(account).read(project.project_id)
    >>> len(read["nodes"]["backtest"]), read["autoSelectNode"]
    (3, True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quantconnect_emulator.params import ParamError, decode_json
from quantconnect_emulator.registry import ApiError, Resource, action
from quantconnect_emulator.resources.backtests import Backtests
from quantconnect_emulator.resources.live import Live
from quantconnect_emulator.resources.projects import Projects

if TYPE_CHECKING:
    from quantconnect_emulator.account import Account
    from quantconnect_emulator.params import Params

_KINDS = {
    # kind -> (id prefix, sku, description, speed GHz, cpu, ram GB, monthly price)
    "backtest": ("BT", "B2-8", "Backtest node: 2 cores, 8 GB RAM (emulated)", 4.9, 2, 8, 24),
    "research": ("RS", "R2-8", "Research node: 2 cores, 8 GB RAM (emulated)", 2.4, 2, 8, 14),
    "live": ("LN-", "L-MICRO", "Live node: 1 core, 0.5 GB RAM (emulated)", 2.6, 1, 0.5, 20),
}


class Nodes(Resource):
    """Node selections per project (``Nodes.of(account)``); counts come from the job settings."""

    def __init__(self, account: Account) -> None:
        super().__init__(account)
        self.active: dict[int, list[str]] = {}

    def _ids(self, kind: str) -> list[str]:
        if kind == "live":
            return Live.of(self.account).node_ids()
        prefix = _KINDS[kind][0]
        count = self.account.jobs_config.backtest_nodes if kind == "backtest" else 1
        suffix = self.account.organization_id[:8]
        return [f"{prefix}{index:02d}-{suffix}" for index in range(1, count + 1)]

    def read(self, project_id: int) -> dict[str, Any]:
        """The project's view of the organization's nodes."""
        with self.account.lock:
            Projects.of(self.account).require(project_id)
            active = set(self.active.get(project_id, []))
            return {"nodes": self.organization(active), "autoSelectNode": not active}

    def organization(self, active: set[str] | None = None) -> dict[str, list[dict[str, Any]]]:
        """Every node of the organization by kind, busy ones first (``active``: a project's)."""
        with self.account.lock:
            projects = Projects.of(self.account)
            backtests = Backtests.of(self.account)
            running = [b for b in backtests.by_id.values() if backtests.stage(b) == "running"]
            live = Live.of(self.account).busy_nodes()
            result: dict[str, list[dict[str, Any]]] = {}
            for kind in _KINDS:
                nodes = []
                for index, node_id in enumerate(self._ids(kind)):
                    user: Any = running[index] if kind == "backtest" and index < len(running) \
                        else None
                    if kind == "live":
                        user = live.get(node_id)
                    owner = projects.by_id.get(user.project_id) if user else None
                    nodes.append(_node(kind, node_id, node_id in (active or ()), user, owner))
                result[kind] = nodes
            return result

    def update(self, project_id: int, node_ids: list[str]) -> dict[str, Any]:
        """Activate these nodes for the project (``[]``: back to auto-selection)."""
        with self.account.lock:
            Projects.of(self.account).require(project_id)
            known = {node for kind in _KINDS for node in self._ids(kind)}
            unknown = [node for node in node_ids if node not in known]
            if unknown:
                raise ApiError(f"Node not found: {unknown[0][:64]}")
            if node_ids:
                self.active[project_id] = list(dict.fromkeys(node_ids))
            else:
                self.active.pop(project_id, None)
            return self.read(project_id)

    def project_removed(self, project_id: int) -> None:
        """Forget the removed project's node selection."""
        self.active.pop(project_id, None)


def _node(kind: str, node_id: str, active: bool, user: Any, owner: Any) -> dict[str, Any]:
    _prefix, sku, description, speed, cpu, ram, monthly = _KINDS[kind]
    return {
        "id": node_id,
        "name": f"{sku} {node_id[:4]}",
        "sku": sku,
        "description": description,
        "speed": speed,
        "cpu": cpu,
        "ram": ram,
        "hasGpu": 0,
        "price": {"monthly": monthly, "yearly": monthly * 10},
        "assets": 0,
        "host": None,
        "busy": user is not None,
        "usedBy": "Emulator User" if user is not None else "",
        "userProfile": "",
        "projectName": owner.name if owner is not None else "",
        "projectId": owner.project_id if owner is not None else None,
        "active": active,
    }


def _node_ids(raw: Any) -> list[str]:
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        text = raw.strip()
        if text.startswith("["):
            raw = decode_json(text, "Parameter 'nodes'", where="nodes")
        else:
            raw = text.split(",")
    if not isinstance(raw, list) or not all(isinstance(n, str) and n.strip() for n in raw):
        raise ParamError("Parameter 'nodes' must be a list of node ids")
    if len(raw) > 100:
        raise ParamError("Parameter 'nodes' holds too many ids")
    return [n.strip() for n in raw]


@action("/nodes/read")
def _organization(account: Account, params: Params) -> dict[str, Any]:
    organization_id = params.get_str("organizationId")
    if organization_id and organization_id != account.organization_id:
        raise ApiError(f"Organization not found or not accessible: {organization_id[:64]}")
    return Nodes.of(account).organization()


@action("/projects/nodes/read")
def _read(account: Account, params: Params) -> dict[str, Any]:
    return Nodes.of(account).read(params.require_int("projectId"))


@action("/projects/nodes/update")
def _update(account: Account, params: Params) -> dict[str, Any]:
    return Nodes.of(account).update(
        params.require_int("projectId"), _node_ids(params.get_raw("nodes"))
    )
