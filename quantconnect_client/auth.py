"""QuantConnect request signing: a fresh SHA-256 timestamped hash for every request.

The scheme (see the API contract): ``ts`` is the Unix time in whole seconds, ``hash`` the hex
SHA-256 of ``"{api_token}:{ts}"``; the request carries ``Authorization: Basic
base64("{user_id}:{hash}")`` and ``Timestamp: {ts}``. The token itself never goes over the wire.

Example:
    >>> from pydantic import SecretStr
    >>> signer = RequestSigner(user_id=42, api_token=SecretStr("secret"), clock=lambda: 1700000000)
    >>> signer.headers()["Timestamp"]
    '1700000000'
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from email.utils import parsedate_to_datetime

from pydantic import SecretStr

Clock = Callable[[], float]

logger = logging.getLogger("quantconnect_client")

#: How far a created thing's ``created`` (a project, a backtest) may precede the call's start
#: and still count as ours when a create's answer was lost. Our clock follows the service's
#: (learned from ``Date``), but to whole seconds, and a first call may have no answer yet to
#: learn from: the service accepts clocks up to 5 minutes ahead, so allow that much and a
#: margin.
CLOCK_TOLERANCE = timedelta(minutes=6)


def sign(user_id: int, api_token: str, timestamp: int) -> dict[str, str]:
    """Build the two authentication headers for one request.

    Args:
        user_id: The QuantConnect user id.
        api_token: The API token (only its hash leaves this function).
        timestamp: Unix time in whole seconds.

    Returns:
        The ``Authorization`` and ``Timestamp`` headers.

    Example:
        >>> sign(1, "t", 0)["Authorization"].startswith("Basic ")
        True
    """
    ts = str(int(timestamp))
    digest = hashlib.sha256(f"{api_token}:{ts}".encode()).hexdigest()
    basic = base64.b64encode(f"{user_id}:{digest}".encode()).decode("ascii")
    return {"Authorization": f"Basic {basic}", "Timestamp": ts}


class RequestSigner:
    """Signs requests with the current time, corrected by a learned clock offset.

    The offset starts at zero. When the service rejects a timestamp and its ``Date`` header
    shows our clock is off, :meth:`learn_offset_from_date` records the difference so the next
    signature uses the service's notion of now.

    Args:
        user_id: The QuantConnect user id.
        api_token: The API token, kept as a ``SecretStr`` so it never shows in a repr.
        clock: Source of the local time (``time.time`` by default; tests pass a skewed one).
    """

    #: Below this difference the Date header (whole seconds, plus latency) is no evidence of skew.
    MIN_SKEW_SECONDS = 30.0
    #: An answer that accepted our signature puts our clock within the service's window (up to
    #: 2 h behind, minutes ahead): a Date further off than that, with a margin, is not believed.
    MAX_OFFSET_ACCEPTED = 2 * 3600.0 + 600.0
    #: A refused signature may come from a clock off by a time-zone mistake (hours); a Date
    #: further off than this (a day ahead, 1970) is not believed either.
    MAX_OFFSET_REFUSED = 14 * 3600.0

    def __init__(self, user_id: int, api_token: SecretStr, clock: Clock = time.time) -> None:
        self.user_id = user_id
        self._api_token = api_token
        self._clock = clock
        self._offset = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RequestSigner(user_id={self.user_id}, api_token=SecretStr('**********'))"

    @property
    def clock_offset(self) -> float:
        """Seconds added to the local clock when signing (service time minus local time)."""
        return self._offset

    def current_time(self) -> float:
        """The service's time as we best know it: the local clock plus the learned offset."""
        return self._clock() + self._offset

    def now(self) -> int:
        """The timestamp the next signature will carry."""
        return int(self.current_time())

    def headers(self) -> dict[str, str]:
        """Fresh authentication headers for one request (call once per attempt)."""
        return sign(self.user_id, self._api_token.get_secret_value(), self.now())

    def learn_offset_from_date(
        self, date_header: str | None, *, signature_accepted: bool = False
    ) -> float | None:
        """Adopt the service's clock from an HTTP ``Date`` header if ours is clearly off.

        Callers pass only the API's own answers (a JSON envelope, not a proxy's page).

        Args:
            date_header: The response's ``Date`` header (RFC 7231 format), if any.
            signature_accepted: True if the answer accepted our signature, so our clock is
                within the service's window and a larger difference is implausible.

        Returns:
            The new offset in seconds if it changed, else None (also when the Date is not
            plausible, which is logged).
        """
        if not date_header:
            return None
        try:
            service_time = parsedate_to_datetime(date_header).timestamp()
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        offset = service_time - self._clock()
        # Accepted: our signed clock (local + offset) is within the window of the service's.
        change = abs(offset - self._offset) if signature_accepted else abs(offset)
        limit = self.MAX_OFFSET_ACCEPTED if signature_accepted else self.MAX_OFFSET_REFUSED
        if change > limit:
            logger.warning(
                "Ignoring the answer's Date header %r: it puts the service's clock %+.0f s from "
                "ours, more than the %.0f s a real skew can be here.",
                date_header,
                offset,
                limit,
            )
            return None
        with self._lock:
            if abs(offset - self._offset) < self.MIN_SKEW_SECONDS:
                return None
            self._offset = offset
        return offset
