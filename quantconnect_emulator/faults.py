"""Fault decisions and request bookkeeping (no ASGI here; see ``middleware``).

:class:`FaultEngine` decides, per API request, whether it is rate limited,
which fault (if any) it gets and how long it is delayed, and it keeps the
counters: requests in total and per path, faults per kind, and the current and
peak number of API requests in flight.

Faults come from two sources:

- a queue of forced faults (:meth:`FaultEngine.inject`), consumed first, in
  order, by the requests whose path matches;
- random faults with probability ``fault_rate``, drawn from a
  ``random.Random(seed)`` so a run is reproducible.

Example:
    >>> from quantconnect_emulator.config import FaultConfig, FaultKind
    >>> engine = FaultEngine(FaultConfig(), seed=1)
    >>> engine.inject(FaultKind.HTTP_500_EMPTY, path="/projects/create")
    >>> engine.choose_fault("/projects/read") is None
    True
    >>> engine.choose_fault("/projects/create")
    <FaultKind.HTTP_500_EMPTY: 'http_500_empty'>
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from quantconnect_emulator.config import LIMITS, FaultConfig, FaultKind, normalize_api_path

#: The bucket ``requests_by_path`` counts new paths in once it holds ``LIMITS["stats_paths"]``.
OTHER_PATHS = "(other paths)"

__all__ = ["FaultConfig", "FaultEngine", "FaultKind", "Flight", "TokenBucket"]


class TokenBucket:
    """Token bucket: ``rate`` tokens per second, bursts of up to ``rate``.

    Example:
        >>> bucket = TokenBucket(2.0, now=0.0)
        >>> [bucket.take(now=0.0) for _ in range(3)]
        [None, None, 0.5]
    """

    def __init__(self, rate: float, *, now: float | None = None) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate)
        self._tokens = self.capacity
        self._last = time.monotonic() if now is None else now

    def take(self, *, now: float | None = None) -> float | None:
        """Take a token; return ``None`` on success, else seconds until one is free."""
        now = time.monotonic() if now is None else now
        self._tokens = min(self.capacity, self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return None
        return (1.0 - self._tokens) / self.rate


@dataclass
class Flight:
    """One API request being served (see :meth:`FaultEngine.begin`)."""

    path: str
    started: float
    done: bool = False


@dataclass
class _Injection:
    kind: FaultKind
    path: str | None
    remaining: int


class FaultEngine:
    """Thread-safe fault decisions and counters.

    Args:
        config: Initial fault configuration.
        seed: Seed of the fault and latency random generators.
    """

    def __init__(self, config: FaultConfig, seed: int | None = None) -> None:
        self._lock = threading.Lock()
        self._seed = seed
        self._config = config
        self._bucket: TokenBucket | None = None
        self._queue: list[_Injection] = []
        self._fault_rng = random.Random(seed)
        self._latency_rng = random.Random(None if seed is None else seed + 1)
        self._requests_total = 0
        self._requests_by_path: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._rate_limited = 0
        self._auth_failures = 0
        self._in_flight = 0
        self._peak_in_flight = 0
        self._holding = 0
        self._releases = 0
        self.set_config(config)

    # ----------------------------------------------------------- configuration

    @property
    def config(self) -> FaultConfig:
        """The current fault configuration."""
        return self._config

    def set_config(self, config: FaultConfig) -> None:
        """Replace the fault configuration (the rate limiter starts full)."""
        with self._lock:
            self._config = config
            rate = config.rate_limit_per_second
            self._bucket = TokenBucket(rate) if rate else None

    def reset(self) -> None:
        """Clear counters and queued faults, answer the held ones; re-seed; keep the
        configuration."""
        with self._lock:
            self._releases += 1  # a hold left by an earlier test ends with it
            self._queue.clear()
            self._fault_rng = random.Random(self._seed)
            self._latency_rng = random.Random(None if self._seed is None else self._seed + 1)
            self._requests_total = 0
            self._requests_by_path.clear()
            self._faults.clear()
            self._rate_limited = 0
            self._auth_failures = 0
            self._peak_in_flight = self._in_flight
            rate = self._config.rate_limit_per_second
            self._bucket = TokenBucket(rate) if rate else None

    def inject(self, kind: FaultKind | str, path: str | None = None, count: int = 1) -> None:
        """Force ``kind`` on the next ``count`` API requests matching ``path``.

        Args:
            kind: A :class:`FaultKind` or its string value.
            path: An API path such as ``"/projects/create"``; ``None`` = any.
            count: How many requests get the fault (at most ``LIMITS["inject_count"]``).

        Raises:
            ValueError: ``count`` out of range or an unknown kind.
            OverflowError: The queue already holds ``LIMITS["pending_injections"]`` entries.
        """
        if not 1 <= count <= LIMITS["inject_count"]:
            raise ValueError(f"count must be between 1 and {LIMITS['inject_count']:g}")
        fault = FaultKind(kind)
        target = None if path is None else normalize_api_path(path)[:300]
        with self._lock:
            if len(self._queue) >= LIMITS["pending_injections"]:
                raise OverflowError(
                    f"{len(self._queue)} injections are pending already; the limit is "
                    f"{LIMITS['pending_injections']:g}"
                )
            self._queue.append(_Injection(fault, target, count))

    def pending_injections(self) -> list[dict[str, Any]]:
        """The forced faults not yet consumed."""
        with self._lock:
            return [
                {"kind": item.kind.value, "path": item.path, "count": item.remaining}
                for item in self._queue
            ]

    def release_held(self) -> int:
        """Answer every ``slow_response`` held now at once (one that starts later is held as
        usual; latency is never cut short).

        For a test that holds requests until it has looked at something, instead of for a
        fixed time that must outlast a busy machine.

        Returns:
            How many answers were being held (one whose hold was ending anyway, or whose
            client had just hung up, counts too).
        """
        with self._lock:
            self._releases += 1
            return self._holding

    @property
    def holding(self) -> int:
        """How many ``slow_response`` answers are held now."""
        return self._holding

    @property
    def releases(self) -> int:
        """How many times held answers were released: a hold ends when this changes."""
        return self._releases

    def begin_hold(self) -> int:
        """Count a ``slow_response`` as held; the release count it must watch for a change
        (read in the same step, so a release cannot fall between the two)."""
        with self._lock:
            self._holding += 1
            return self._releases

    def end_hold(self) -> None:
        """A held answer is sent, abandoned or released."""
        with self._lock:
            self._holding -= 1

    # -------------------------------------------------------------- per request

    def begin(self, path: str) -> Flight:
        """Count a new API request as received and in flight."""
        with self._lock:
            self._requests_total += 1
            if path not in self._requests_by_path and (
                len(self._requests_by_path) >= LIMITS["stats_paths"]
            ):
                # Bounded: a scan of random paths must not grow the statistics without end.
                path = OTHER_PATHS
            self._requests_by_path[path] += 1
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
        return Flight(path=path, started=time.monotonic())

    def end(self, flight: Flight) -> None:
        """The request is answered or abandoned (idempotent)."""
        with self._lock:
            if not flight.done:
                flight.done = True
                self._in_flight -= 1

    def check_rate_limit(self) -> float | None:
        """``None`` if the request may proceed, else seconds until it could."""
        with self._lock:
            if self._bucket is None:
                return None
            wait = self._bucket.take()
            if wait is not None:
                self._rate_limited += 1
            return wait

    @staticmethod
    def retry_after_header(wait_seconds: float) -> int:
        """Whole seconds for ``Retry-After`` (at least 1)."""
        return max(1, math.ceil(wait_seconds))

    def choose_fault(self, path: str) -> FaultKind | None:
        """The fault for a request to ``path``: forced first, then random."""
        with self._lock:
            for index, item in enumerate(self._queue):
                if item.path is None or item.path == path:
                    item.remaining -= 1
                    if item.remaining <= 0:
                        del self._queue[index]
                    self._faults[item.kind.value] += 1
                    return item.kind
            config = self._config
            if config.fault_rate <= 0 or not config.fault_kinds:
                return None
            if config.paths is not None and path not in config.paths:
                return None
            if self._fault_rng.random() >= config.fault_rate:
                return None
            kind = self._fault_rng.choice(config.fault_kinds)
            self._faults[kind.value] += 1
            return kind

    def latency_seconds(self) -> float:
        """Delay for one request: fixed latency plus uniform jitter."""
        with self._lock:
            config = self._config
            delay = config.latency_ms
            if config.latency_jitter_ms > 0:
                delay += self._latency_rng.uniform(0, config.latency_jitter_ms)
            return delay / 1000.0

    def record_auth_failure(self) -> None:
        """Count a request rejected for bad credentials."""
        with self._lock:
            self._auth_failures += 1

    # ------------------------------------------------------------------ reports

    def snapshot(self) -> dict[str, Any]:
        """Counters since the last reset."""
        with self._lock:
            return {
                "requests_total": self._requests_total,
                "requests_by_path": dict(self._requests_by_path),
                "faults_injected": {
                    kind.value: self._faults.get(kind.value, 0) for kind in FaultKind
                },
                "faults_total": sum(self._faults.values()),
                "rate_limited": self._rate_limited,
                "auth_failures": self._auth_failures,
                "in_flight": self._in_flight,
                "peak_in_flight": self._peak_in_flight,
                "holding": self._holding,
                "pending_injections": [
                    {"kind": i.kind.value, "path": i.path, "count": i.remaining}
                    for i in self._queue
                ],
            }
