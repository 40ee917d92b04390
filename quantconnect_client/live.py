"""``/live/*``: deploy, read, list, stop and liquidate live algorithms; read their portfolio,
orders, insights, logs and charts; send them commands; find a free live node.

Real money can be at stake, so the guards are part of every operation:

- every request is checked first (ids, ranges within the contract's limits, a command that is
  a JSON object, a brokerage with an id), so a bad one never reaches the service;
- the brokerage is paper trading (``QuantConnectBrokerage``) unless a :class:`Brokerage` says
  otherwise; its credentials are :class:`~pydantic.SecretStr` and appear in no repr, log line,
  error message or result (an error text that carries one is masked);
- a deploy never starts a second live algorithm for a project: it first refuses when the
  project has one that has not ended and notes the ids of its deployments; a create whose
  answer was lost is looked up (a deployment that was not there before) and adopted, and is
  never sent twice: if none shows up in time, :class:`DeployOutcomeUnknownError` (not
  retryable) says to check the project;
- a command whose answer was lost is not sent again (it might place a second order).

Example:
    >>> node = client.live.free_nodes(pid)[0]  # doctest: +SKIP
    >>> deployed = client.live.create(pid, cid, node.id)  # paper trading  # doctest: +SKIP
    >>> client.live.wait(pid, deployed.deploy_id, timeout=300).status  # doctest: +SKIP
    'Running'
    >>> client.live.stop(pid)  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from .budget import check_seconds, remaining_budget
from .cancellation import cancellable_sleep
from .errors import (
    BudgetExhaustedError,
    NotFoundError,
    QuantConnectError,
    RequestRejectedError,
    TransientError,
    UnexpectedResponseError,
    ValidationError,
)
from .models.base import parse
from .models.live import (
    LIST_STATUSES,
    PAPER_BROKERAGE,
    Brokerage,
    CreatedLiveAlgorithm,
    LiveAlgorithm,
    LiveAlgorithmSummary,
    LiveChart,
    LiveInsights,
    LiveList,
    LiveLogs,
    LiveOrders,
    Portfolio,
    PortfolioEnvelope,
    has_ended,
)
from .models.nodes import Node, ProjectNodes
from .polling import Schedule, poll
from .requester import Requester
from .validation import validate_id, validate_job_id

#: Reads of a deploying live algorithm: soon, then every 5 s, then 10 s (QuantConnect's own
#: clients poll every 10 s; a paper deploy took up to 3 minutes).
LIVE_SCHEDULE = (1.0, 2.0, 5.0, 5.0, 10.0)
#: How long a wait takes "no such deployment" for "not shown yet" (reads lag a create).
NOT_FOUND_GRACE_SECONDS = 60.0
#: Most log lines per read, most orders per read (the contract's limits).
MAX_LOG_LINES = 250
MAX_ORDERS = 1_000
#: The service's words for a project that was never deployed.
NO_DEPLOYMENT = "no live deployment found"
#: Most characters of a command (a command is a small object; a huge one is a mistake).
MAX_COMMAND_CHARACTERS = 64_000

#: How long a create whose answer was lost looks for its deployment (the list can lag), and
#: how often it reads the list meanwhile.
LOST_CREATE_SECONDS = 30.0
LOST_CREATE_READ_SECONDS = 2.0
DEPLOY_MAY_HAVE_TAKEN_EFFECT = (
    "the answer to /live/create was lost and the new deployment did not show up in the "
    "project's list; the deploy may have taken effect, so it is not sent again: check the "
    "project's live algorithms before deploying again"
)

LIQUIDATE_MAY_HAVE_TAKEN_EFFECT = (
    "the answer to /live/update/liquidate was lost and the algorithm does not read as ended; "
    "the liquidation may have taken effect, so it is not sent again: check the project's "
    "holdings before liquidating again"
)

#: Keys of the ``brokerage`` object that are not credentials.
RESERVED_KEYS = frozenset({"id", "environment", "holdings", "cash"})

BrokerageInput = Brokerage | Mapping[str, Any] | None


class DeployOutcomeUnknownError(QuantConnectError):
    """A live deploy (or liquidation) whose answer was lost may have taken effect; it is not
    sent again, by the client or a task retry (it is not retryable)."""


def validate_brokerage(brokerage: BrokerageInput) -> Brokerage:
    """The brokerage as a :class:`Brokerage` (``None``: paper trading).

    A mapping's ``id`` names the brokerage; ``environment``, ``holdings`` and ``cash`` are
    kept as such, every other key is a credential (a secret).

    Example:
        >>> validate_brokerage(None).is_paper
        True
        >>> validate_brokerage({"id": "TradierBrokerage", "tradier-access-token": "x"})
        Brokerage(id='TradierBrokerage', credentials=['tradier-access-token'], paper=False)
        >>> validate_brokerage({"token": "x"})
        Traceback (most recent call last):
        ...
        quantconnect_client.errors.ValidationError: A brokerage needs an 'id' (for paper \
trading: 'QuantConnectBrokerage').

    Raises:
        ValidationError: No id, or credentials that are not text (their values never appear
            in the message).
    """
    if brokerage is None:
        return Brokerage()
    if isinstance(brokerage, Brokerage):
        checked = brokerage
    elif isinstance(brokerage, Mapping):
        fields = dict(brokerage)
        brokerage_id = fields.pop("id", None)
        if not isinstance(brokerage_id, str) or not brokerage_id.strip():
            raise ValidationError(f"A brokerage needs an 'id' (for paper trading: "
                                  f"{PAPER_BROKERAGE!r}).")
        plain = {key: fields.pop(key) for key in ("environment", "holdings", "cash")
                 if key in fields}
        bad = sorted(str(k) for k, v in fields.items() if not isinstance(v, str))
        if bad:
            raise ValidationError(f"Brokerage credentials must be text; not so for: "
                                  f"{', '.join(bad)}.")
        try:
            checked = Brokerage(id=brokerage_id, credentials=fields, **plain)
        except (TypeError, ValueError):
            # pydantic's message would quote the input, credentials included.
            raise ValidationError("The brokerage's environment, holdings or cash are "
                                  "malformed.") from None
    else:
        raise ValidationError(f"brokerage must be a Brokerage or a mapping, got "
                              f"{type(brokerage).__name__}.")
    if not checked.id.strip():
        raise ValidationError(f"A brokerage needs an 'id' (for paper trading: "
                              f"{PAPER_BROKERAGE!r}).")
    reserved = sorted(k for k in checked.credentials if k.strip().lower() in RESERVED_KEYS)
    if reserved:
        # Sent as a credential, such a key would override the brokerage's own field.
        raise ValidationError(f"Brokerage credentials may not be named {', '.join(reserved)} "
                              f"(reserved: {', '.join(sorted(RESERVED_KEYS))}).")
    return checked


def latest_running(
    algorithms: builtins.list[LiveAlgorithmSummary],
) -> LiveAlgorithmSummary | None:
    """The latest of ``algorithms`` that has not ended (None: none runs).

    Example:
        >>> latest_running([LiveAlgorithmSummary(deploy_id="L-1", status="Stopped")]) is None
        True
    """
    running = [a for a in algorithms if not a.ended]
    if not running:
        return None
    return max(running, key=lambda a: (a.launched is not None, a.launched, a.deploy_id))


def validate_range(start: int, end: int, most: int, what: str) -> tuple[int, int]:
    """Check a zero-based range ``start..end`` of at most ``most`` items.

    Example:
        >>> validate_range(0, 250, 250, "log lines")
        (0, 250)
        >>> validate_range(0, 251, 250, "log lines")
        Traceback (most recent call last):
        ...
        quantconnect_client.errors.ValidationError: At most 250 log lines per read, asked for \
251 (0..251).
    """
    for value, name in ((start, "start"), (end, "end")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(f"{what}: {name} must be an integer, got "
                                  f"{type(value).__name__}.")
    if start < 0 or end < start:
        raise ValidationError(f"{what}: the range must satisfy 0 <= start <= end, got "
                              f"{start}..{end}.")
    if end - start > most:
        raise ValidationError(f"At most {most} {what} per read, asked for {end - start} "
                              f"({start}..{end}).")
    return start, end


def validate_command(command: Mapping[str, Any]) -> dict[str, Any]:
    """A command as the JSON object sent (``$type`` names a registered command class).

    Example:
        >>> validate_command({"$type": "", "action": "rebalance"})
        {'$type': '', 'action': 'rebalance'}
        >>> validate_command(["buy"])
        Traceback (most recent call last):
        ...
        quantconnect_client.errors.ValidationError: A live command must be a mapping (a JSON \
object), got list.
    """
    if not isinstance(command, Mapping):
        raise ValidationError(f"A live command must be a mapping (a JSON object), got "
                              f"{type(command).__name__}.")
    body = dict(command)
    if any(not isinstance(key, str) for key in body):
        raise ValidationError("A live command's keys must be strings.")
    try:
        text = json.dumps(body, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValidationError(f"A live command must be plain JSON: {error}.") from None
    if len(text) > MAX_COMMAND_CHARACTERS:
        raise ValidationError(f"A live command of {len(text)} characters is too large "
                              f"(at most {MAX_COMMAND_CHARACTERS}).")
    return body


def _mask(error: BaseException, secrets: builtins.list[str]) -> None:
    """Blank out any credential an error's text carries (a service may echo its input), in
    the error and in every error it chains to (``__cause__``, ``__context__``)."""
    def clean(text: str) -> str:
        for secret in secrets:
            text = text.replace(secret, "[secret]")
        return text

    if not secrets:
        return
    seen: set[int] = set()
    pending: builtins.list[BaseException | None] = [error]
    while pending:
        found = pending.pop()
        if found is None or id(found) in seen:
            continue
        seen.add(id(found))
        if isinstance(found, QuantConnectError):
            found.message = clean(found.message)
            found.args = (found.message,)
            found.service_errors = tuple(clean(e) for e in found.service_errors)
        else:
            found.args = tuple(clean(a) if isinstance(a, str) else a for a in found.args)
        pending += [found.__cause__, found.__context__]


class LiveAPI:
    """Live-algorithm operations; reached as ``client.live``."""

    def __init__(self, client: Requester) -> None:
        self._client = client

    # ----------------------------------------------------------------- deploy

    def create(
        self,
        project_id: int,
        compile_id: str,
        node_id: str,
        *,
        brokerage: BrokerageInput = None,
        version_id: str = "-1",
        parameters: Mapping[str, str] | None = None,
        automatic_redeploy: bool = False,
        data_providers: Mapping[str, Any] | None = None,
        notification: Mapping[str, Any] | None = None,
        confirm_seconds: float = LOST_CREATE_SECONDS,
    ) -> LiveAlgorithmSummary:
        """Deploy a compile as a live algorithm; safe to retry, never deploys twice.

        Before sending, the project's live algorithms are read: if one has not ended, the
        deploy is refused (stop it first); the ids of its deployments are noted. If an attempt's
        answer is lost, the project's list is read for up to ``confirm_seconds`` for a
        deployment that was not there before, which is adopted; if none shows up, the create
        is not sent again and :class:`DeployOutcomeUnknownError` says to check the project.

        Args:
            project_id: The project.
            compile_id: A successful compile of it.
            node_id: A free live node (see :meth:`free_nodes`).
            brokerage: Paper trading when None; else a :class:`Brokerage` (or a mapping with
                ``id`` and the brokerage's keys, all taken as secrets).
            version_id: LEAN version (``"-1"``: the latest).
            parameters: Live parameter values (text).
            automatic_redeploy: Restart after a runtime error.
            data_providers: Data providers by id (default: QuantConnect's).
            notification: ``{events, targets}`` as the contract gives them.
            confirm_seconds: How long to look for the deployment of a lost answer.

        Raises:
            ValidationError: Bad input (nothing is sent).
            DeployOutcomeUnknownError: The answer was lost and the deployment did not show up
                in time; it may have been made (not retryable: check the project first).
            RequestRejectedError: The project has a live algorithm that has not ended (nothing
                is sent), or the service refused (a busy node, a failed compile...).
        """
        validate_id(project_id)
        validate_job_id(compile_id, "compileId")
        if not isinstance(node_id, str) or not node_id.strip():
            raise ValidationError(f"nodeId must be a live node id, got {node_id!r}.")
        if not isinstance(version_id, str) or not version_id.strip():
            raise ValidationError(f"versionId must be text such as '-1', got {version_id!r}.")
        checked = validate_brokerage(brokerage)
        check_seconds(confirm_seconds, "confirm_seconds")
        payload: dict[str, Any] = {
            "projectId": project_id,
            "compileId": compile_id,
            "nodeId": node_id.strip(),
            "versionId": version_id,
            "brokerage": checked.wire(),
            "automaticRedeploy": bool(automatic_redeploy),
            "parameters": _texts(parameters, "parameters"),
            "dataProviders": dict(data_providers) if data_providers is not None
            else {PAPER_BROKERAGE: {"id": PAPER_BROKERAGE}},
            "notification": dict(notification) if notification is not None else {},
            # LEAN sends the part of the compile id after the '-'.
            "signature": compile_id.split("-", 1)[-1],
        }
        secrets = checked.secret_values()
        posted = False
        try:
            before = self.list(project_id)
            current = latest_running(before)
            if current is not None:
                raise RequestRejectedError(
                    f"Project {project_id} already has a live algorithm ({current.deploy_id}, "
                    f"{current.status}); stop or liquidate it before deploying again",
                    endpoint="/live/create",
                )
            # What a lost answer may have made is a deployment that was not there before the
            # first POST: never an older (or ended) one, whatever the clocks say.
            known = {a.deploy_id for a in before}

            def attempt() -> LiveAlgorithmSummary:
                nonlocal posted
                posted = True
                try:
                    body = self._client.post("/live/create", payload)
                except QuantConnectError as error:
                    # Masked here, before the retry engine logs the message or chains it.
                    _mask(error, secrets)
                    raise
                created = parse(CreatedLiveAlgorithm, body, "/live/create")
                summary = created.live or LiveAlgorithmSummary(deploy_id=created.deploy_id)
                return summary.model_copy(update={"project_id": project_id,
                                                  "deploy_id": created.deploy_id})

            return self._client.with_retries(
                "/live/create",
                attempt,
                reconcile=lambda: self._created_since(project_id, known, confirm_seconds),
            )
        except QuantConnectError as error:
            _mask(error, secrets)
            if not (posted and isinstance(error, TransientError) and error.request_sent):
                raise
            # The retries ended on a create that may have been applied: look for it once more;
            # if it does not show up, no one (client or task) may send it again.
            if not isinstance(error, BudgetExhaustedError):
                try:
                    return self._created_since(project_id, known, confirm_seconds)
                except DeployOutcomeUnknownError:
                    pass
            raise DeployOutcomeUnknownError(
                f"Project {project_id}: {DEPLOY_MAY_HAVE_TAKEN_EFFECT} ({error.message})",
                endpoint="/live/create",
            ) from error

    def _created_since(
        self, project_id: int, known: set[str], seconds: float
    ) -> LiveAlgorithmSummary:
        """After a lost ``/live/create`` answer: the deployment that was not there before,
        read for up to ``seconds`` (the list can lag behind a create).

        Raises:
            DeployOutcomeUnknownError: None showed up; the create is not sent again.
        """
        deadline = time.monotonic() + seconds
        while True:
            try:
                new = [a for a in self.list(project_id) if a.deploy_id not in known]
            except BudgetExhaustedError:
                break
            except TransientError:
                new = []  # the list itself failed: keep looking until the deadline
            if new:
                return max(new, key=lambda a: (not a.ended, a.launched is not None,
                                               a.launched, a.deploy_id))
            left = deadline - time.monotonic()
            budget_left = remaining_budget()
            if budget_left is not None:
                left = min(left, budget_left - 0.5)
            if left <= 0:
                break
            cancellable_sleep(min(LOST_CREATE_READ_SECONDS, left))
        raise DeployOutcomeUnknownError(f"Project {project_id}: {DEPLOY_MAY_HAVE_TAKEN_EFFECT}",
                                        endpoint="/live/create")

    def current(self, project_id: int) -> LiveAlgorithmSummary | None:
        """The project's live algorithm that has not ended, if any (None: free to deploy)."""
        return latest_running(self.list(project_id))

    # ------------------------------------------------------------------ reads

    def read(self, project_id: int, deploy_id: str | None = None) -> LiveAlgorithm:
        """The project's live algorithm (``deploy_id``, or its latest deployment).

        Raises:
            NotFoundError: The project was never deployed (or has no such deployment).
            UnexpectedResponseError: The answer is about another deployment.
        """
        validate_id(project_id)
        payload: dict[str, Any] = {"projectId": project_id}
        if deploy_id is not None:
            payload["deployId"] = validate_job_id(deploy_id, "deployId")
        try:
            body = self._client.call("/live/read", payload)
        except RequestRejectedError as error:
            if NO_DEPLOYMENT in error.message.lower() and not isinstance(error, NotFoundError):
                raise NotFoundError(error.message, endpoint="/live/read",
                                    service_errors=error.service_errors) from None
            raise
        found = parse(LiveAlgorithm, body, "/live/read")
        if deploy_id is not None and found.deploy_id != deploy_id:
            raise UnexpectedResponseError(
                f"Asked for live algorithm {deploy_id}, got {found.deploy_id or 'none'}",
                endpoint="/live/read",
            )
        return found.model_copy(update={"project_id": project_id})

    def list(
        self, project_id: int | None = None, status: str | None = None
    ) -> builtins.list[LiveAlgorithmSummary]:
        """Live algorithms, past and present, optionally of one project and one status.

        Raises:
            ValidationError: A status filter outside Running, Stopped, RuntimeError and
                Liquidated.
        """
        payload: dict[str, Any] = {}
        if project_id is not None:
            payload["projectId"] = validate_id(project_id)
        if status is not None:
            chosen = next((s for s in LIST_STATUSES if s.lower() == str(status).lower()), None)
            if chosen is None:
                raise ValidationError(f"Live status filter {status!r} is not one of "
                                      f"{', '.join(LIST_STATUSES)}.")
            payload["status"] = chosen
        body = self._client.call("/live/list", payload)
        return parse(LiveList, body, "/live/list").live

    def portfolio(self, project_id: int) -> Portfolio:
        """Holdings (by symbol id) and cash (by currency) of the project's live algorithm."""
        validate_id(project_id)
        body = self._client.call("/live/portfolio/read", {"projectId": project_id})
        return parse(PortfolioEnvelope, body, "/live/portfolio/read").portfolio

    def orders(self, project_id: int, start: int = 0, end: int = 100) -> LiveOrders:
        """Orders ``start..end`` (at most 1000); ``.loading`` while the service builds them."""
        validate_id(project_id)
        validate_range(start, end, MAX_ORDERS, "orders")
        body = self._client.call("/live/orders/read",
                                 {"projectId": project_id, "start": start, "end": end})
        return parse(LiveOrders, body, "/live/orders/read")

    def insights(self, project_id: int, start: int = 0, end: int = 100) -> LiveInsights:
        """Insights ``start..end`` (at most 100, LEAN's limit)."""
        validate_id(project_id)
        validate_range(start, end, 100, "insights")
        body = self._client.call("/live/insights/read",
                                 {"projectId": project_id, "start": start, "end": end})
        return parse(LiveInsights, body, "/live/insights/read")

    def logs(
        self, project_id: int, deploy_id: str, start_line: int = 0, end_line: int = MAX_LOG_LINES
    ) -> LiveLogs:
        """Log lines ``start_line..end_line`` (at most 250) of one deployment."""
        validate_id(project_id)
        validate_job_id(deploy_id, "deployId")
        validate_range(start_line, end_line, MAX_LOG_LINES, "log lines")
        body = self._client.call("/live/logs/read", {
            "projectId": project_id, "algorithmId": deploy_id, "startLine": start_line,
            "endLine": end_line, "format": "json"})
        return parse(LiveLogs, body, "/live/logs/read")

    def chart(
        self, project_id: int, name: str, *, count: int = 100, start: int = 0, end: int = 0
    ) -> LiveChart:
        """A live chart (``start``/``end``: unix seconds; both 0 for all of it).

        Raises:
            ValidationError: A blank name, ``count`` below 1, or ``start`` after ``end``.
        """
        validate_id(project_id)
        if not isinstance(name, str) or not name.strip():
            raise ValidationError("A live chart needs a name (e.g. 'Strategy Equity').")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValidationError(f"count must be a positive integer, got {count!r}.")
        for value, what in ((start, "start"), (end, "end")):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationError(f"{what} must be unix seconds (>= 0), got {value!r}.")
        if start > end:
            raise ValidationError(f"start {start} is after end {end}.")
        body = self._client.call("/live/chart/read", {
            "projectId": project_id, "name": name, "count": count, "start": start, "end": end})
        return parse(LiveChart, body, "/live/chart/read")

    # -------------------------------------------------------------- actions

    def stop(self, project_id: int) -> None:
        """Stop the project's live algorithm (holdings stay). Safe to retry: after a lost
        answer, an algorithm that reads as ended counts as stopped.

        Raises:
            RequestRejectedError: Nothing to stop (already ended, or never deployed).
        """
        self._end("/live/update/stop", project_id)

    def liquidate(self, project_id: int, *, confirm_seconds: float = LOST_CREATE_SECONDS) -> None:
        """Sell every holding of the project's live algorithm, then stop it. Never sent twice:
        after a lost answer the algorithm is read for up to ``confirm_seconds`` until it reads
        as ended (done); if it does not, :class:`DeployOutcomeUnknownError` (not retryable).
        """
        check_seconds(confirm_seconds, "confirm_seconds")
        validate_id(project_id)
        endpoint = "/live/update/liquidate"
        posted = False

        def attempt() -> bool:
            nonlocal posted
            posted = True
            self._client.post(endpoint, {"projectId": project_id})
            return True

        def ended() -> bool:
            deadline = time.monotonic() + confirm_seconds
            while True:
                try:
                    if self.read(project_id).ended:
                        return True
                except BudgetExhaustedError:
                    break
                except TransientError:
                    pass  # keep reading until the deadline
                left = deadline - time.monotonic()
                budget_left = remaining_budget()
                if budget_left is not None:
                    left = min(left, budget_left - 0.5)
                if left <= 0:
                    break
                cancellable_sleep(min(LOST_CREATE_READ_SECONDS, left))
            raise DeployOutcomeUnknownError(
                f"Project {project_id}: {LIQUIDATE_MAY_HAVE_TAKEN_EFFECT}", endpoint=endpoint)

        try:
            self._client.with_retries(endpoint, attempt, reconcile=ended)
        except TransientError as error:
            if not (posted and error.request_sent):
                raise
            if not isinstance(error, BudgetExhaustedError):
                try:
                    ended()
                    return
                except DeployOutcomeUnknownError:
                    pass
            raise DeployOutcomeUnknownError(
                f"Project {project_id}: {LIQUIDATE_MAY_HAVE_TAKEN_EFFECT} ({error.message})",
                endpoint=endpoint) from error

    def _end(self, endpoint: str, project_id: int) -> None:
        validate_id(project_id)
        payload = {"projectId": project_id}

        def attempt() -> bool:
            self._client.post(endpoint, payload)
            return True

        def already_ended() -> bool | None:
            return True if self.read(project_id).ended else None

        self._client.with_retries(endpoint, attempt, reconcile=already_ended)

    def command(self, project_id: int, command: Mapping[str, Any]) -> None:
        """Send a command to the project's running live algorithm (``success`` means delivered,
        not that it worked). Never sent twice: a lost answer raises instead.

        Raises:
            QuantConnectError: The answer was lost; the command may have been delivered.
        """
        validate_id(project_id)
        self._send_once("/live/commands/create",
                        {"projectId": project_id, "command": validate_command(command)})

    def broadcast(
        self,
        command: Mapping[str, Any],
        *,
        organization_id: str | None = None,
        exclude_project_id: int | None = None,
    ) -> None:
        """Send a command to every live algorithm of the organization (default: the client's),
        but the excluded project's. Never sent twice, like :meth:`command`."""
        organization = organization_id or self._client.organization_id
        if not isinstance(organization, str) or not organization.strip():
            raise ValidationError("A broadcast needs an organization id (none given and the "
                                  "client has no default).")
        payload: dict[str, Any] = {"organizationId": organization,
                                   "command": validate_command(command)}
        if exclude_project_id is not None:
            payload["excludeProjectId"] = validate_id(exclude_project_id, "excludeProjectId")
        self._send_once("/live/commands/broadcast", payload)

    def _send_once(self, endpoint: str, payload: dict[str, Any]) -> None:
        def attempt() -> bool:
            self._client.post(endpoint, payload)
            return True

        def lost() -> bool | None:
            raise QuantConnectError(
                "The answer to a live command was lost after it was sent; it may have been "
                "delivered, so it is not sent again (a command can place orders)",
                endpoint=endpoint,
            )

        self._client.with_retries(endpoint, attempt, reconcile=lost)

    # ---------------------------------------------------------------- nodes

    def nodes(self, project_id: int) -> builtins.list[Node]:
        """The organization's live nodes, as the project sees them."""
        validate_id(project_id)
        body = self._client.call("/projects/nodes/read", {"projectId": project_id})
        return parse(ProjectNodes, body, "/projects/nodes/read").nodes.live

    def free_nodes(self, project_id: int) -> builtins.list[Node]:
        """Live nodes not busy now (a GPU node is skipped, as QuantConnect's own tests do)."""
        return [n for n in self.nodes(project_id) if not n.busy and not n.has_gpu]

    # ----------------------------------------------------------------- wait

    def wait(
        self,
        project_id: int,
        deploy_id: str,
        *,
        timeout: float = 600.0,
        on_progress: Callable[[LiveAlgorithm], None] | None = None,
        schedule: Schedule[LiveAlgorithm] = LIVE_SCHEDULE,
    ) -> LiveAlgorithm:
        """Read the deployment until it runs or ends, and return that read (a caller checks
        ``status``: ``Running``, or how it ended). For the first ``NOT_FOUND_GRACE_SECONDS``
        a deployment the service does not show yet counts as still deploying.

        Raises:
            WaitTimeoutError: Still deploying at the deadline (``.last`` holds the last read).
        """
        validate_id(project_id)
        validate_job_id(deploy_id, "deployId")
        check_seconds(timeout, "The live deploy timeout")
        grace_ends = time.monotonic() + min(timeout, NOT_FOUND_GRACE_SECONDS)

        def read() -> LiveAlgorithm:
            try:
                return self.read(project_id, deploy_id)
            except NotFoundError:
                # Right after a create the service may not show the deployment yet.
                if time.monotonic() >= grace_ends:
                    raise
                return LiveAlgorithm(deploy_id=deploy_id, project_id=project_id)

        return poll(
            read,
            done=lambda a: a.ended or (a.status or "").lower() == "running",
            schedule=schedule,
            timeout=timeout,
            on_progress=on_progress,
            what=f"live algorithm {deploy_id}",
            policy=self._client.retry,
            on_retry=self._client.count_retry,
        )


def _texts(values: Mapping[str, Any] | None, what: str) -> dict[str, str]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise ValidationError(f"{what} must be a mapping of names to text.")
    checked: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key.strip():
            raise ValidationError(f"{what}: every name must be non-empty text, got {key!r}.")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise ValidationError(f"{what}: {key!r} must be text or a number.")
        checked[key] = value if isinstance(value, str) else str(value)
    return checked


__all__ = [
    "LIVE_SCHEDULE",
    "LOST_CREATE_SECONDS",
    "MAX_LOG_LINES",
    "MAX_ORDERS",
    "DeployOutcomeUnknownError",
    "LiveAPI",
    "has_ended",
    "latest_running",
    "validate_brokerage",
    "validate_command",
    "validate_range",
]
