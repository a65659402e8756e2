"""One operation over many sites: bounded, streamed, and every outcome reported.

:class:`FanOut` runs ``operation(site)`` for every site with at most ``concurrency`` operations in
flight, and yields one :class:`Outcome` per site as each completes. A failing site never stops
the others: its exception is kept in its outcome. Leaving the ``async with`` block early (a
``break``, an exception, a cancellation) cancels what is still running and waits for it, so no
task outlives the block. :func:`gather` collects everything into a :class:`Report`.

It runs on any backend anyio supports (asyncio and trio): ``concurrency`` workers pull sites from
the input in order and send outcomes through a bounded memory stream, so 10,000 sites never mean
10,000 tasks.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, Protocol, Self, TypeVar

import anyio
import attrs
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._stats import count_requests
from .errors import SessionError, ValidationError
from .site import Site

__all__ = [
    "DEFAULT_CONCURRENCY",
    "FanOut",
    "Operation",
    "Outcome",
    "OutcomeHook",
    "Report",
    "ResultT",
    "Sites",
    "Summary",
    "gather",
]

ResultT = TypeVar("ResultT")
#: What a fan-out runs once per site.
Operation = Callable[[Site], Awaitable[ResultT]]
#: Called with each outcome as it arrives (progress bars, logs).
OutcomeHook = Callable[["Outcome[Any]"], object]
Sites = Iterable[Site]

#: Operations in flight at once when the caller does not say.
DEFAULT_CONCURRENCY = 100


@attrs.frozen(slots=True)
class Outcome(Generic[ResultT]):
    """What one site's operation came to: a value or an error, never both."""

    site: Site
    """The site the operation ran on."""
    index: int
    """The site's position in the input (from 0)."""
    value: ResultT | None
    """What the operation returned (``None`` when it failed)."""
    error: Exception | None
    """The exception the operation raised (``None`` on success): a
    :class:`~thinknx_async.ThinknxError`, or any other ``Exception`` the operation raised."""
    attempts: int
    """Requests the operation sent, every retry included, on success as on failure (0 when it
    failed before sending anything)."""
    elapsed: float
    """Seconds from the operation's start to its end."""
    rate_limited: int = 0
    """How many of those requests the server answered with a 429."""

    @property
    def ok(self) -> bool:
        """Whether the operation succeeded."""
        return self.error is None

    @property
    def error_type(self) -> str | None:
        """The error's class name (``"ServerError"``...), or ``None`` on success."""
        return None if self.error is None else type(self.error).__name__

    def unwrap(self) -> ResultT:
        """The value, or raise the error."""
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]  # None only when ResultT allows it


@attrs.frozen(slots=True)
class Summary:
    """Counts over a set of outcomes."""

    total: int
    """Outcomes counted: one per site."""
    succeeded: int
    """Sites whose operation returned a value."""
    failed: int
    """Sites whose operation raised (``total - succeeded``)."""
    errors: Mapping[str, int]
    """An error class name (``"ServerError"``...) -> how many sites failed with it, most
    frequent first."""
    attempts: int
    """Requests sent over all sites, every retry included."""
    retries: int
    """Attempts beyond the first of each site."""
    rate_limited: int
    """Replies 429 over all sites."""
    elapsed: float
    """Seconds: the wall time of the whole run."""

    def __str__(self) -> str:
        text = f"{self.total} sites: {self.succeeded} succeeded, {self.failed} failed"
        if self.errors:
            text += " (" + ", ".join(f"{name}: {n}" for name, n in self.errors.items()) + ")"
        return (
            f"{text}; {self.retries} retries, {self.rate_limited} replies 429; {self.elapsed:.2f} s"
        )

    @classmethod
    def of(cls, outcomes: Iterable[Outcome[Any]], elapsed: float) -> Summary:
        """Summarise ``outcomes``; ``elapsed`` is the wall time they took."""
        total = succeeded = attempts = retries = rate_limited = 0
        errors: Counter[str] = Counter()
        for outcome in outcomes:
            total += 1
            attempts += outcome.attempts
            retries += max(0, outcome.attempts - 1)
            rate_limited += outcome.rate_limited
            error_type = outcome.error_type
            if error_type is None:
                succeeded += 1
            else:
                errors[error_type] += 1
        return cls(
            total=total,
            succeeded=succeeded,
            failed=total - succeeded,
            errors=dict(errors.most_common()),
            attempts=attempts,
            retries=retries,
            rate_limited=rate_limited,
            elapsed=elapsed,
        )


@attrs.frozen(slots=True)
class Report(Generic[ResultT]):
    """Every outcome of a fan-out, in the order the sites were given."""

    outcomes: tuple[Outcome[ResultT], ...]
    """One outcome per site, in input order (``outcomes[i].index == i``)."""
    elapsed: float
    """Seconds: the wall time of the whole fan-out, from its start to its last outcome."""

    def __len__(self) -> int:
        return len(self.outcomes)

    def __iter__(self) -> Iterator[Outcome[ResultT]]:
        return iter(self.outcomes)

    @property
    def ok(self) -> bool:
        """Whether every site succeeded."""
        return all(o.error is None for o in self.outcomes)

    @property
    def succeeded(self) -> tuple[Outcome[ResultT], ...]:
        """The outcomes that succeeded, in input order."""
        return tuple(o for o in self.outcomes if o.error is None)

    @property
    def failed(self) -> tuple[Outcome[ResultT], ...]:
        """The outcomes that failed, in input order."""
        return tuple(o for o in self.outcomes if o.error is not None)

    def values(self) -> dict[Site, ResultT]:
        """Each succeeding site's value."""
        return {o.site: o.value for o in self.outcomes if o.error is None}  # type: ignore[misc]

    def summary(self) -> Summary:
        """Counts: succeeded, failed by error type, retries, 429 replies, elapsed."""
        return Summary.of(self.outcomes, self.elapsed)


def _check_concurrency(concurrency: int) -> int:
    if type(concurrency) is not int or concurrency < 1:
        raise ValidationError(f"concurrency must be an integer >= 1, got {concurrency!r}")
    return concurrency


def _check_sites(sites: Sites) -> tuple[Site, ...]:
    if isinstance(sites, Site):
        raise ValidationError("sites must be an iterable of Site, not one Site")
    result = tuple(sites)
    for site in result:
        if not isinstance(site, Site):
            raise ValidationError(f"sites must hold Site objects, got {type(site).__name__}")
    return result


class FanOut(Generic[ResultT]):
    """``operation(site)`` for every site, at most ``concurrency`` at once, outcomes as they come.

    Use it as an async context manager, then iterate::

        async with session.fan_out(sites, lambda s: s.scene(GUID).launch()) as outcomes:
            async for outcome in outcomes:
                print(outcome.site.name, outcome.error or outcome.value)

    Exactly one :class:`Outcome` per input position. Leaving the block before the end cancels
    the operations still running and waits for them. Exceptions raised by an operation are
    reported in its outcome; cancellation and other ``BaseException`` propagate.
    """

    def __init__(
        self,
        sites: Sites,
        operation: Operation[ResultT],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        if not callable(operation):
            raise ValidationError("operation must be a callable taking a Site")
        self._sites = _check_sites(sites)
        self._operation = operation
        self._concurrency = _check_concurrency(concurrency)
        self._next = 0
        self._done = 0
        self._task_group: TaskGroup | None = None
        self._receive: MemoryObjectReceiveStream[Outcome[ResultT]] | None = None
        self._state = "new"

    def __repr__(self) -> str:
        return f"<FanOut {self._done}/{len(self._sites)} done, {self._state}>"

    @property
    def total(self) -> int:
        """How many outcomes there will be (the number of sites given)."""
        return len(self._sites)

    @property
    def started(self) -> int:
        """How many operations have started."""
        return self._next

    @property
    def completed(self) -> int:
        """How many operations have completed (their outcomes may not be consumed yet)."""
        return self._done

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise SessionError("a fan-out can be entered only once")
        self._state = "running"
        send, receive = anyio.create_memory_object_stream[Outcome[ResultT]](
            max_buffer_size=self._concurrency
        )
        self._receive = receive
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        with send:
            for _ in range(min(self._concurrency, len(self._sites))):
                task_group.start_soon(self._worker, send.clone())
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        self._state = "closed"
        task_group, receive = self._task_group, self._receive
        assert task_group is not None and receive is not None
        task_group.cancel_scope.cancel()  # a no-op when every operation is done
        receive.close()
        return await leave_workers(task_group, *exc_info)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Outcome[ResultT]:
        if self._state == "new":
            raise SessionError(
                "enter the fan-out first: 'async with session.fan_out(...) as outcomes:' "
                "then 'async for outcome in outcomes:'"
            )
        if self._state == "closed" or self._receive is None:
            raise SessionError("the fan-out is closed")
        try:
            # An outcome already waiting is taken at once: no event-loop round trip per site.
            return self._receive.receive_nowait()
        except anyio.WouldBlock:
            pass
        except anyio.EndOfStream:
            raise StopAsyncIteration from None
        try:
            return await self._receive.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def _worker(self, send: MemoryObjectSendStream[Outcome[ResultT]]) -> None:
        with send:
            sites = self._sites
            while self._next < len(sites):
                index = self._next
                self._next += 1
                outcome = await self._run(index, sites[index])
                self._done += 1
                if self._state == "closed":
                    # The block was left while this operation was finishing: its outcome
                    # has no reader, and the cancellation is on its way.
                    return
                try:
                    send.send_nowait(outcome)  # room in the buffer: no round trip
                except anyio.WouldBlock:
                    await send.send(outcome)

    async def _run(self, index: int, site: Site) -> Outcome[ResultT]:
        started = time.monotonic()
        value: ResultT | None = None
        error: Exception | None = None
        with count_requests() as stats:
            try:
                value = await self._operation(site)
            except Exception as exc:  # reported in the outcome: one site never stops the others
                error = exc
        return Outcome(
            site=site,
            index=index,
            value=value,
            error=error,
            attempts=stats.attempts,
            elapsed=time.monotonic() - started,
            rate_limited=stats.rate_limited,
        )


async def gather(
    sites: Sites,
    operation: Operation[ResultT],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    on_outcome: OutcomeHook | None = None,
) -> Report[ResultT]:
    """Run ``operation`` over ``sites`` (see :class:`FanOut`) and collect a :class:`Report`.

    ``on_outcome`` is called with each outcome as it arrives (e.g. to advance a progress bar);
    an exception it raises cancels the rest and propagates.
    """
    return await collect(FanOut(sites, operation, concurrency=concurrency), on_outcome)


class Stream(Protocol[ResultT]):
    """A fan-out as :func:`collect` reads it: entered, then iterated, one outcome per site."""

    @property
    def total(self) -> int: ...
    async def __aenter__(self) -> Any: ...
    async def __aexit__(self, *exc_info: Any) -> Any: ...
    def __aiter__(self) -> AsyncIterator[Outcome[ResultT]]: ...


async def leave_workers(task_group: TaskGroup, *exc_info: Any) -> bool | None:
    """Leave the task group of a block's workers (already told to stop) as the block ends:
    the body's own error propagates as it is, not wrapped in an exception group."""
    if isinstance(exc_info[1] if len(exc_info) > 1 else None, Exception):
        await task_group.__aexit__(None, None, None)
        return False
    return await task_group.__aexit__(*exc_info)


async def collect(
    fan_out: Stream[ResultT], on_outcome: OutcomeHook | None = None
) -> Report[ResultT]:
    """Every outcome of ``fan_out`` (a local or a distributed one), in site order."""
    outcomes: list[Outcome[ResultT] | None] = [None] * fan_out.total
    started = time.monotonic()
    async with fan_out:
        async for outcome in fan_out:
            outcomes[outcome.index] = outcome
            if on_outcome is not None:
                on_outcome(outcome)
    complete = tuple(o for o in outcomes if o is not None)
    assert len(complete) == len(outcomes), "a fan-out reports every site"
    return Report(complete, time.monotonic() - started)
