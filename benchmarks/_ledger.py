"""The ledger of a soak or a fault storm: every command's outcome, settled against the server.

See ``docs/reliability.md`` for the accounting.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import anyio

from thinknx_async import (
    ApiError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    SessionError,
    ThinknxError,
    TransportError,
    ValidationError,
)

__all__ = ["KNX_CONTROLLERS", "Figures", "Key", "Ledger", "Tally", "may_have_run"]

#: KNX controllers: the simulator counts their telegrams per group address, not per GUID.
KNX_CONTROLLERS = frozenset(
    {"system/sendKNXbit", "system/sendKNXbyte", "system/sendKNXfloat2bytes"}
)


def may_have_run(error: ThinknxError) -> bool:
    """Whether a command that ended in ``error`` may still have been executed by the server.

    Only the last attempt can have run: the library re-sends a non-idempotent command only
    after an attempt the server cannot have executed (a 429, a connection that never opened).
    """
    if isinstance(error, RateLimitedError | ValidationError | SessionError):
        return False  # refused before sending, or by the server before execution
    if isinstance(error, TransportError):
        return not error.never_sent  # a dropped or timed-out request may have run
    if isinstance(error, ServerError | ProtocolError):
        return True  # a 5xx may come after execution; a malformed reply came from a server
    # 400, 403, 404, "impossible to execute": refused, not executed. Anything else: it may have.
    return not isinstance(error, ApiError)


@dataclass
class Tally:
    """The outcomes of every call made to one target (a device's controller, or a KNX group)."""

    idempotent: bool
    calls: int = 0
    succeeded: int = 0
    failed_may_have_run: int = 0
    failed_not_run: int = 0
    crashed: int = 0
    """Calls that raised something other than a ``ThinknxError``."""
    cancelled: int = 0
    """Calls their caller cancelled: each may have run, at most once."""
    pending: int = 0
    """Calls that have neither returned nor raised."""


@dataclass
class Figures:
    """What a ledger found once settled against the server's counters."""

    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    failed_may_have_run: int = 0
    executed: int = 0
    lost: int = 0
    doubled: int = 0
    crashed: int = 0
    cancelled: int = 0
    hung: int = 0
    """Calls that never ended (counted as lost too)."""
    idempotent_repeats: int = 0
    """Executions of idempotent commands beyond one per call (retries after a lost reply)."""
    problems: list[str] = field(default_factory=list)
    """The first few targets that broke a rule, for a readable failure."""

    @property
    def ok(self) -> bool:
        """No command lost or doubled, and every failure reported as a typed error."""
        return self.lost == 0 and self.doubled == 0 and self.crashed == 0


Key = tuple[str, str]
"""(controller, target): the GUID of a device or the KNX group address of a telegram."""


class Ledger:
    """Every command sent and how its call ended, to compare with the server's counters.

    For each target (controller, GUID or group), with ``E`` executions counted by the server:

    - lost: ``max(0, succeeded - E)`` (a success the server never executed), plus every call
      that neither returned nor raised, plus every call that crashed with an untyped error;
    - doubled, for non-idempotent commands:
      ``max(0, E - succeeded - failed_may_have_run - cancelled)`` (each success executed once,
      each failure that may have run and each cancelled call at most once, each failure that
      cannot have run never).
    """

    def __init__(self) -> None:
        self.tallies: dict[Key, Tally] = {}
        #: How many calls ended in each error type.
        self.errors: Counter[str] = Counter()

    def tally(self, key: Key, idempotent: bool) -> Tally:
        """The tally of ``key`` (made on first use)."""
        tally = self.tallies.get(key)
        if tally is None:
            tally = self.tallies[key] = Tally(idempotent)
        elif tally.idempotent != idempotent:
            raise ValueError(f"{key} is recorded both as idempotent and not")
        return tally

    async def run(self, key: Key, idempotent: bool, call: Callable[[], Awaitable[object]]) -> None:
        """Make one call and record how it ended (a cancellation goes on up)."""
        tally = self.tally(key, idempotent)
        tally.calls += 1
        tally.pending += 1
        try:
            await call()
        except ThinknxError as error:
            tally.pending -= 1
            self.errors[type(error).__name__] += 1
            if may_have_run(error):
                tally.failed_may_have_run += 1
            else:
                tally.failed_not_run += 1
        except anyio.get_cancelled_exc_class():
            tally.pending -= 1
            tally.cancelled += 1
            raise
        except Exception as error:
            tally.pending -= 1
            tally.crashed += 1
            self.errors[f"untyped {type(error).__name__}"] += 1
        else:
            tally.pending -= 1
            tally.succeeded += 1

    def settle(self, executed: Callable[[str, str], int]) -> Figures:
        """Compare with ``executed(controller, target)``, the server's count for a target."""
        figures = Figures()
        for (controller, target), tally in sorted(self.tallies.items()):
            done = executed(controller, target)
            figures.sent += tally.calls
            figures.succeeded += tally.succeeded
            failed = tally.failed_may_have_run + tally.failed_not_run
            figures.failed += failed
            figures.failed_may_have_run += tally.failed_may_have_run
            figures.crashed += tally.crashed
            figures.cancelled += tally.cancelled
            figures.hung += tally.pending
            figures.executed += done
            lost = max(0, tally.succeeded - done) + tally.pending + tally.crashed
            doubled = 0
            if tally.idempotent:
                figures.idempotent_repeats += max(0, done - tally.calls)
            else:
                may_have = tally.succeeded + tally.failed_may_have_run + tally.cancelled
                doubled = max(0, done - may_have)
            figures.lost += lost
            figures.doubled += doubled
            if (lost or doubled) and len(figures.problems) < 10:
                figures.problems.append(
                    f"{controller} {target}: {tally}, executed {done}"
                    f" (lost {lost}, doubled {doubled})"
                )
        return figures
