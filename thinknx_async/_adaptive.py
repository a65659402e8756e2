"""How a site's rate follows the server's 429 replies: the controller behind the token bucket.

Pure logic on timestamps, so it is tested without any clock or event loop.

What the server accepts is measured from what got through, never from what was sent:

- A *run* is the time between two pauses (the start, or the end of a ``Retry-After``, up to the
  next 429). A server's bucket is full after a pause, so in a run that ends in a 429 it let
  through its burst ``B`` and then ``R`` a second: ``accepted = B + R * seconds``.
- On the first 429 of a congestion episode, the estimate of ``R`` is the accepted replies per
  second over the recent window (the last second of the run, timed from its first accepted
  reply), less the client's own burst in the first run (its bucket starts full). When the
  previous episode's run is known too, the two runs give ``R`` without ``B``: the extra
  replies accepted per extra second of sending. Counted in whole replies, that is a bound:
  ``R < (n2 - n1 + 1) / (t2 - t1)``, ``n`` the replies accepted in each run, ``t2`` the second
  run's 429, ``t1`` the first run's last accepted reply. The smaller of the two figures is the
  estimate. A client sending far too fast gets through little more than the server's burst
  before its 429, so the share of replies accepted (the old measure) stays near 1 and says
  nothing; the second episode's run measures ``R`` itself.
- The rate then drops to 90 % of the estimate, at most to a quarter of where the episode began.
  Later 429s of the same episode (requests granted before it opened) change nothing: one
  episode lowers the rate once.
- An episode in which nothing got through (a storm of 429s, a paused relay) says nothing about
  capacity: it lowers the rate (to the quarter) but leaves the estimate alone.
- Without 429s the rate grows back: doubling every ``doubling`` seconds up to 90 % of the
  estimate (slow start, before any 429), then 5 % a second above it (probing), never above the
  ceiling. After an episode whose two runs measured ``R`` itself, the rate first holds at 90 %
  of it for five seconds: probing at once would find the same limit again a second later.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["RateController"]

_WINDOW = 1.0  # seconds of a run whose accepted replies estimate the server's rate
_MIN_SPAN = 0.05  # seconds: runs this close in length say nothing about the rate
_MARGIN = 0.9  # run this far under the estimate
_FLOOR = 0.25  # one episode lowers the rate at most to this share of where it began
_PROBE = 0.05  # growth per second above the estimate
_HOLD = 5.0  # seconds at 90 % of a fresh estimate before probing above it


class RateController:
    """The rate in force for one site, between ``floor`` and ``ceiling`` (``rate`` at first).

    ``burst`` is the client's own bucket size (tokens sent at once); ``doubling`` the seconds to
    double the rate while under the estimate; ``started`` the time the first run began.
    """

    __slots__ = (
        "_accepted",
        "_burst",
        "_capacity",
        "_ceiling",
        "_doubling",
        "_episode_start",
        "_first_accepted",
        "_floor",
        "_grown_at",
        "_held_until",
        "_last_accepted",
        "_previous_run",
        "_resumed_at",
        "_run_accepted",
        "decreases",
        "rate",
    )

    def __init__(
        self,
        ceiling: float,
        *,
        rate: float | None = None,
        burst: float = 1.0,
        doubling: float = 1.0,
        started: float = 0.0,
    ) -> None:
        self._ceiling = self._capacity = ceiling
        self.rate = ceiling if rate is None else min(rate, ceiling)
        self._floor = self.rate / 64
        self._burst = burst
        self._doubling = doubling
        self._episode_start = -math.inf
        self._grown_at = -math.inf
        self._held_until = -math.inf
        self._resumed_at = started
        self._run_accepted = 0  # replies accepted since the run began
        self._first_accepted = self._last_accepted = started  # when the first and last came
        # The previous run: seconds to its last accepted reply, replies accepted.
        self._previous_run: tuple[float, int] | None = None
        self._accepted: deque[float] = deque()  # times of the run's accepted replies, last 1 s
        #: Congestion episodes seen (each lowered the rate once).
        self.decreases = 0

    @property
    def ceiling(self) -> float:
        """The rate never exceeded."""
        return self._ceiling

    @property
    def estimate(self) -> float:
        """What the server is believed to accept per second (the ceiling before any 429)."""
        return self._capacity

    def success(self, now: float) -> None:
        """A reply that was not a 429: count it, and grow back toward the ceiling."""
        if now >= self._resumed_at:
            if self._run_accepted == 0:
                self._first_accepted = now
            self._run_accepted += 1
            self._last_accepted = now
            accepted = self._accepted
            accepted.append(now)
            while accepted[0] < now - _WINDOW:
                accepted.popleft()
        if self.rate >= self._ceiling:
            return
        elapsed = max(0.0, now - self._grown_at) if self._grown_at > -math.inf else 0.0
        self._grown_at = now
        target = _MARGIN * self._capacity
        if self.rate < target:
            self.rate = min(target, self.rate * 2.0 ** (elapsed / self._doubling))
        elif now >= self._held_until:
            self.rate = min(self._ceiling, self.rate * (1.0 + _PROBE * elapsed))
            self._capacity = max(self._capacity, self.rate)

    def _measure(self, now: float) -> tuple[float, bool] | None:
        """Accepted replies per second of the run ending now, and whether two runs measured it
        (``None``: nothing got through).

        A run is timed from its first accepted reply: before it, the server's bucket was full
        and earned nothing more. The first run's window holds the client's whole burst (its
        bucket starts full); a later one's, its opening reply.
        """
        accepted = self._run_accepted
        if accepted == 0:
            return None
        seconds = now - self._first_accepted
        previous = self._previous_run
        self._previous_run = (self._last_accepted - self._first_accepted, accepted)
        if seconds < _MIN_SPAN:  # a burst at once: no measure of a rate
            return 0.0, False
        span = min(_WINDOW, seconds)
        window = sum(1 for t in self._accepted if t >= now - span)
        head = self._burst if previous is None and self.decreases == 1 else 1.0
        estimate = max(0.0, window - head) / span
        if previous is not None and seconds - previous[0] >= _MIN_SPAN:
            bound = (accepted - previous[1] + 1) / (seconds - previous[0])
            if 0.0 < bound <= estimate:
                return bound, True
        return estimate, False

    def rate_limited(self, now: float, granted_at: float, resume_at: float) -> None:
        """A 429 for a request granted at ``granted_at``; sending resumes at ``resume_at``.

        Lowers the rate once per episode: a 429 for a request granted after the episode opened
        opens a new one.
        """
        if granted_at <= self._episode_start:
            self._resumed_at = max(self._resumed_at, resume_at)
            return
        self._episode_start = now
        self.decreases += 1
        measured = self._measure(now)
        start = self.rate
        if measured is not None:
            estimate, exact = measured
            self._capacity = min(self._ceiling, max(self._floor, estimate))
            target = _MARGIN * self._capacity
            if exact:  # a measure of R itself: hold under it before probing again
                self._held_until = resume_at + _HOLD
        else:
            target = 0.0
        self.rate = min(start, max(self._floor, _FLOOR * start, target))
        self._grown_at = resume_at
        self._resumed_at = max(self._resumed_at, resume_at)
        self._run_accepted = 0
        self._accepted.clear()
