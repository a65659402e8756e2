"""How a site's rate follows the server's 429 replies: the controller behind the token bucket.

Pure logic on timestamps, so it is tested without any clock or event loop.

- A 429 for a request granted after the last decrease opens a new congestion episode. The rate
  then drops to 90 % of what the server evidently accepts: the rate the requests were sent at,
  times the share of recent replies that were not 429s. Later 429s of the same episode refine
  that figure as their replies come in, but never compound: one episode lowers the rate to at
  most a quarter of where it began.
- Without 429s the rate grows back: doubling every second up to 90 % of the best estimate of
  the server's capacity, then 5 % a second above it (probing), never above the configured rate.
- An episode in which nothing got through (a storm of 429s, a paused relay) says nothing about
  capacity: it lowers the rate but leaves the capacity estimate alone, so recovery is quick.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["RateController"]

_WINDOW = 2.0  # seconds of replies that estimate what the server accepts
_MARGIN = 0.9  # run this far under the estimate
_FLOOR = 0.25  # one episode lowers the rate at most to this share of where it began
_DOUBLING = 1.0  # seconds to double while well under the estimate
_PROBE = 0.05  # growth per second above it


class RateController:
    """The rate in force for one site, between ``max_rate / 64`` and ``max_rate``."""

    __slots__ = (
        "_accepted",
        "_capacity",
        "_episode_rate",
        "_episode_start",
        "_grown_at",
        "_max_rate",
        "_min_rate",
        "_replies",
        "decreases",
        "rate",
    )

    def __init__(self, max_rate: float) -> None:
        self._max_rate = self.rate = self._capacity = self._episode_rate = max_rate
        self._min_rate = max_rate / 64
        self._episode_start = -math.inf
        self._grown_at = -math.inf
        self._replies: deque[tuple[float, bool]] = deque()
        self._accepted = 0  # of the replies in the window: kept, not summed, on every reply
        #: Congestion episodes seen (each lowered the rate once).
        self.decreases = 0

    def _note(self, now: float, accepted: bool) -> float:
        """Record a reply; return the share of the window's replies that were accepted."""
        replies = self._replies
        replies.append((now, accepted))
        self._accepted += accepted
        while replies[0][0] < now - _WINDOW:
            self._accepted -= replies.popleft()[1]
        return self._accepted / len(replies)

    def success(self, now: float) -> None:
        """A reply that was not a 429: grow back toward the configured rate."""
        self._note(now, True)
        if self.rate >= self._max_rate:
            return
        elapsed = max(0.0, now - self._grown_at) if self._grown_at > -math.inf else 0.0
        self._grown_at = now
        target = _MARGIN * self._capacity
        if self.rate < target:
            self.rate = min(target, self.rate * 2.0 ** (elapsed / _DOUBLING))
        else:
            self.rate = min(self._max_rate, self.rate * (1.0 + _PROBE * elapsed))
            self._capacity = max(self._capacity, self.rate)

    def rate_limited(self, now: float, granted_at: float) -> None:
        """A 429 for a request granted at ``granted_at``: slow down (once per episode)."""
        share = self._note(now, False)
        if granted_at > self._episode_start:
            self._episode_start = now
            self._episode_rate = self.rate
            self.decreases += 1
        estimate = self._episode_rate * share
        if share > 0.0:
            self._capacity = max(self._min_rate, min(self._capacity, estimate))
        floor = max(self._min_rate, _FLOOR * self._episode_rate)
        self.rate = min(self.rate, max(floor, _MARGIN * estimate))
        self._grown_at = now
