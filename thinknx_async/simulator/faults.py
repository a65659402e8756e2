"""Fault injection: configuration, and the seeded per-request decisions drawn from it."""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .personality import PROXY_REASONS, replace_from_mapping

_RATE_FIELDS = (
    "spike_rate",
    "error_before_rate",
    "error_after_rate",
    "drop_before_rate",
    "drop_after_rate",
    "slow_rate",
    "gateway_rate",
    "stall_rate",
)


@dataclass(frozen=True, slots=True)
class Faults:
    """Misbehaviour to inject into API requests (the control endpoint is never affected).

    Rates are probabilities in 0..1, drawn per request from a RNG seeded with ``seed``.
    ``sites`` limits faults to those site keys (``None``: every site and the relay).
    """

    latency: float = 0.0
    """Fixed delay before execution, seconds (lower bound when ``latency_max`` is set)."""
    latency_max: float | None = None
    """When set, delay drawn uniformly in ``latency..latency_max``."""
    spike_rate: float = 0.0
    """Probability of an extra ``spike_seconds`` delay."""
    spike_seconds: float = 0.0
    error_before_rate: float = 0.0
    """Probability of a 500 before execution (the command is not executed)."""
    error_after_rate: float = 0.0
    """Probability of a 500 after execution (the command is executed)."""
    drop_before_rate: float = 0.0
    """Probability of a connection dropped mid-response before execution."""
    drop_after_rate: float = 0.0
    """Probability of a connection dropped mid-response after execution."""
    slow_rate: float = 0.0
    """Probability of a body trickled over ``slow_seconds``."""
    slow_seconds: float = 1.0
    gateway_rate: float = 0.0
    """Probability of a reverse proxy's HTML error page before execution (not executed)."""
    gateway_status: int = 502
    """Status of that page: 502, 503 or 504."""
    stall_rate: float = 0.0
    """Probability of a request held unanswered (and not executed) until the client leaves, at
    most ``down_max_hold``: a reply that never comes, whatever the client's timeout."""
    down: bool = False
    """Answer nothing: hold each request until the client leaves, at most ``down_max_hold``."""
    down_max_hold: float = 10.0
    storm_seconds: float = 0.0
    """Answer 429 to everything for this long after the faults are applied."""
    sites: tuple[str, ...] | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        for name in _RATE_FIELDS:
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0..1")
        if self.latency < 0 or (self.latency_max is not None and self.latency_max < self.latency):
            raise ValueError("latency must be >= 0 and latency_max >= latency")
        if self.gateway_status not in PROXY_REASONS:
            raise ValueError(f"gateway_status must be one of {sorted(PROXY_REASONS)}")

    @property
    def active(self) -> bool:
        """Whether any fault is configured at all (lets the hot path skip the RNG)."""
        return bool(
            self.latency
            or self.latency_max
            or self.down
            or self.storm_seconds
            or any(getattr(self, name) for name in _RATE_FIELDS)
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        out = dataclasses.asdict(self)
        out["sites"] = None if self.sites is None else list(self.sites)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Faults | None = None) -> Faults:
        """Faults from a JSON object; fields not given keep ``base``'s values (or defaults)."""
        values = dict(data)
        if values.get("sites") is not None:
            values["sites"] = tuple(str(s) for s in values["sites"])
        return replace_from_mapping(base or cls(), values, "fault")


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What to do to one request."""

    delay: float = 0.0
    error_before: bool = False
    drop_before: bool = False
    error_after: bool = False
    drop_after: bool = False
    slow: float = 0.0
    gateway: int = 0
    """A proxy's error page with this status instead of execution (0: none)."""
    stall: bool = False


NO_FAULT = FaultPlan()


class FaultState:
    """The current faults and their RNG; decisions are serialised so a seed replays."""

    def __init__(self, faults: Faults | None = None) -> None:
        self._lock = threading.Lock()
        self.set(faults or Faults())

    def set(self, faults: Faults) -> None:
        """Replace the faults, reseed the RNG and (re)start a 429 storm if configured."""
        with self._lock:
            self.faults = faults
            self._rng = random.Random(faults.seed)
            self._scope = None if faults.sites is None else frozenset(faults.sites)
            self.storm_until = time.monotonic() + faults.storm_seconds
            self.active = faults.active

    def applies(self, site_key: str | None) -> bool:
        """Whether faults target this site (``None``: a relay request with no known site)."""
        return self._scope is None or (site_key is not None and site_key in self._scope)

    def storm_wait(self, now: float) -> float:
        """Seconds left in a 429 storm, 0 when none is running."""
        return max(0.0, self.storm_until - now) if self.faults.storm_seconds else 0.0

    def plan(self) -> FaultPlan:
        """Draw this request's fate. One draw per fault kind, in a fixed order."""
        with self._lock:
            f = self.faults
            r = self._rng.random
            delay = f.latency
            if f.latency_max is not None:
                delay = f.latency + r() * (f.latency_max - f.latency)
            if r() < f.spike_rate:
                delay += f.spike_seconds
            error_before = r() < f.error_before_rate
            drop_before = r() < f.drop_before_rate
            error_after = r() < f.error_after_rate
            drop_after = r() < f.drop_after_rate
            slow = f.slow_seconds if r() < f.slow_rate else 0.0
            # Drawn only when configured, so the seeds of earlier fault sets replay unchanged.
            gateway = f.gateway_status if f.gateway_rate and r() < f.gateway_rate else 0
            stall = bool(f.stall_rate) and r() < f.stall_rate
        return FaultPlan(
            delay, error_before, drop_before, error_after, drop_after, slow, gateway, stall
        )
