"""One timer for the deadlines of every request in flight, instead of one timer per request.

asyncio keeps its timers in a heap ordered by Python-level comparisons, and a timer cancelled
stays in it until it reaches the top: arming and cancelling one per request (or one per read,
as aiohttp's ``sock_read`` does) costs more than a tenth of a small request's CPU time. Here every
request of a pool gets the same timeout, so deadlines arrive in the order requests start: a
dict keyed by task, in insertion order, is already sorted. One timer waits for the earliest;
when it fires, it cancels the tasks that are due and waits for the next. With requests that
finish in milliseconds and a timeout of seconds, it fires about once per timeout.

asyncio only (the aiohttp pool's). A task has one request in a pool at a time.
"""

from __future__ import annotations

import asyncio

__all__ = ["Deadlines"]


class Deadlines:
    """Cancel the task of a request still running ``timeout`` seconds after it began.

    ``begin()`` before the request, ``end()`` after it (in a ``finally``); when the request
    raises ``CancelledError``, ``expired()`` tells whether this deadline caused it (and, like
    ``asyncio.timeout``, takes back its own cancellation, so a cancellation from elsewhere
    still propagates).
    """

    __slots__ = ("_expired", "_loop", "_pending", "_timeout", "_timer")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
        # task -> (deadline, the task's pending cancellations when its request began)
        self._pending: dict[asyncio.Task[object], tuple[float, int]] = {}
        self._expired: dict[asyncio.Task[object], int] = {}
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        """Requests being watched."""
        return len(self._pending)

    def begin(self) -> asyncio.Task[object]:
        """Start the clock of the current task's request; returns the task, for ``end``."""
        task = asyncio.current_task(self._loop)
        if task is None:  # pragma: no cover - a pool is only used from tasks
            raise RuntimeError("a request must run in a task")
        deadline = self._loop.time() + self._timeout
        self._pending[task] = (deadline, task.cancelling())
        if self._timer is None:
            self._timer = self._loop.call_at(deadline, self._fire)
        return task

    def end(self, task: asyncio.Task[object]) -> None:
        """The request is over (its timer stays armed: the next one due will use it)."""
        if self._pending.pop(task, None) is None:
            cancelling = self._expired.pop(task, None)
            if cancelling is not None:  # cancelled, but the request ended without noticing
                task.uncancel()

    def expired(self, task: asyncio.Task[object]) -> bool:
        """Whether the ``CancelledError`` the task's request raised is this deadline's own."""
        cancelling = self._expired.pop(task, None)
        return cancelling is not None and task.uncancel() <= cancelling

    def _fire(self) -> None:
        now = self._loop.time()
        pending = self._pending
        due = []
        for task, (deadline, cancelling) in pending.items():
            if deadline > now:
                self._timer = self._loop.call_at(deadline, self._fire)
                break
            due.append((task, cancelling))
        else:
            self._timer = None
        for task, cancelling in due:
            del pending[task]
            self._expired[task] = cancelling
            task.cancel()

    def close(self) -> None:
        """Disarm the timer (the pool is closing)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
