"""What runs on each worker: its one session, and the task that runs one chunk of sites.

A chunk keeps its claim in a scheduler-side ``Variable`` (it survives the worker): the sites
it has started (written *before* they start) and the sites whose outcomes have reached the
driver's queue (written *after* they got there). A chunk that runs again, because the engine
re-ran it or the driver resubmitted it, reads that claim first: it skips the reported sites,
sends the claimed ones again only for an idempotent operation, and otherwise reports them as
:class:`~.errors.MayHaveBeenSentError` without sending anything.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio
import attrs
from distributed import Event, Queue, Variable, get_client, get_worker
from distributed.diagnostics.plugin import WorkerPlugin

from ..fanout import FanOut
from ..inventory import Fleet, InventoryError, SiteEntry
from ..session import Session
from ..site import Site
from ._wire import pack, rebuild_entry
from .errors import MayHaveBeenSentError

__all__ = ["ChunkTask", "SessionPlugin", "run_chunk"]

#: Outcomes sent to the driver together; a smaller batch leaves after ``_BATCH_WAIT`` seconds.
BATCH_SIZE = 50
_BATCH_WAIT = 0.05
_STOP_POLL = 0.2  # seconds between looks at the fan-out's stop event


class SessionPlugin(WorkerPlugin):
    """One :class:`~thinknx_async.Session` per worker, made from ``options`` on the worker's
    own event loop and closed when the plugin is removed or the worker stops."""

    def __init__(self, name: str, options: Mapping[str, Any]) -> None:
        self.name = name
        self.options = dict(options)
        self.session: Session | None = None
        self.limiters: dict[str, tuple[anyio.CapacityLimiter, int]] = {}

    async def setup(self, worker: Any) -> None:
        """Open the worker's session."""
        self.session = Session(**self.options)
        await self.session.__aenter__()

    async def teardown(self, worker: Any) -> None:
        """Close the worker's session."""
        if self.session is not None:
            await self.session.aclose()

    def limiter(self, run: str, concurrency: int) -> anyio.CapacityLimiter:
        """The in-flight cap one fan-out shares among its chunks on this worker."""
        limiter, users = self.limiters.get(run, (anyio.CapacityLimiter(concurrency), 0))
        self.limiters[run] = (limiter, users + 1)
        return limiter

    def release(self, run: str) -> None:
        """One chunk of ``run`` is done here."""
        limiter, users = self.limiters[run]
        if users <= 1:
            del self.limiters[run]
        else:
            self.limiters[run] = (limiter, users - 1)


@attrs.frozen
class ChunkTask:
    """Everything a chunk needs, as plain data: which fan-out, which sites, how to run them."""

    run: str
    plugin: str
    claim: str
    queue: str
    items: tuple[tuple[int, dict[str, Any]], ...]
    operation: Callable[..., Awaitable[Any]]
    idempotent: bool
    pass_fleet: bool
    concurrency: int
    stop: str


class _Ledger:
    """The chunk's claim, written through to the scheduler; concurrent writes share one trip."""

    def __init__(self, variable: Variable, record: Mapping[str, Sequence[int]]) -> None:
        self._variable = variable
        self.claimed = set(record.get("claimed", ()))
        self.reported = set(record.get("reported", ()))
        self._lock = anyio.Lock()
        self._changes = self._written = 0

    async def claim(self, index: int) -> None:
        self.claimed.add(index)
        await self._write()

    async def report(self, indices: Sequence[int]) -> None:
        self.reported.update(indices)
        await self._write()

    async def _write(self) -> None:
        self._changes += 1
        wanted = self._changes
        async with self._lock:
            if self._written >= wanted:
                return  # a write made while this one waited carried it
            changes = self._changes
            record = {"claimed": sorted(self.claimed), "reported": sorted(self.reported)}
            await self._variable.set(record)
            self._written = changes


class _Batches:
    """Packed outcomes, sent to the driver's queue in batches, then recorded as reported."""

    def __init__(self, queue: Queue, ledger: _Ledger) -> None:
        self._queue, self._ledger = queue, ledger
        self._pending: list[tuple[int, bytes]] = []
        self._lock = anyio.Lock()

    async def add(self, index: int, data: bytes) -> None:
        self._pending.append((index, data))
        if len(self._pending) >= BATCH_SIZE:
            await self.flush()

    async def flush(self) -> None:
        # Shielded: a batch taken from the buffer reaches the queue, or the worker is dead.
        with anyio.CancelScope(shield=True):
            async with self._lock:
                batch, self._pending = self._pending, []
                if batch:
                    await self._queue.put([data for _, data in batch])
                    await self._ledger.report([index for index, _ in batch])


async def run_chunk(task: ChunkTask) -> int:
    """Run one chunk on this worker; the number of sites it sent (or tried to send)."""
    worker = get_worker()
    plugin = worker.plugins[task.plugin]
    assert isinstance(plugin, SessionPlugin) and plugin.session is not None
    client = get_client()
    variable = Variable(task.claim, client=client)
    ledger = _Ledger(variable, await variable.get())  # the driver made it before the task
    queue = await Queue(task.queue, client=client)
    batches = _Batches(queue, ledger)
    pairs: list[tuple[SiteEntry, Site]] = []
    index_of: dict[Site, int] = {}
    for index, fields in task.items:
        if index in ledger.reported:
            continue
        if index in ledger.claimed and not task.idempotent:
            error = MayHaveBeenSentError(
                "the worker running this site died after its operation started; "
                "the command may have been sent, and is not sent again"
            )
            await batches.add(index, pack(index, None, error, 0, 0.0, 0))
            continue
        entry = rebuild_entry(fields)
        try:
            site = entry.open(plugin.session)
        except InventoryError as exc:  # e.g. its environment variable is unset on this worker
            await batches.add(index, pack(index, None, exc, 0, 0.0, 0))
            continue
        pairs.append((entry, site))
        index_of[site] = index
    fleet = Fleet(pairs)
    limiter = plugin.limiter(task.run, task.concurrency)

    async def operation(site: Site) -> Any:
        async with limiter:
            await ledger.claim(index_of[site])
            if task.pass_fleet:
                return await task.operation(site, fleet)
            return await task.operation(site)

    async def flush_now_and_then() -> None:
        while True:  # outcomes never wait long for a batch to fill
            await anyio.sleep(_BATCH_WAIT)
            await batches.flush()

    async def stop_when_told(scope: anyio.CancelScope) -> None:
        # The driver left its fan-out early: what still runs here is cancelled, as in one
        # process (Dask lets a running task finish when its future is cancelled).
        stop = Event(task.stop, client=client)
        while not await stop.is_set():  # noqa: ASYNC110 - the event lives on the scheduler
            await anyio.sleep(_STOP_POLL)
        scope.cancel()

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(flush_now_and_then)
            group.start_soon(stop_when_told, group.cancel_scope)
            async with FanOut(list(fleet), operation, concurrency=task.concurrency) as outcomes:
                async for o in outcomes:
                    index = index_of[o.site]
                    data = pack(index, o.value, o.error, o.attempts, o.elapsed, o.rate_limited)
                    await batches.add(index, data)
            group.cancel_scope.cancel()
        await batches.flush()
    finally:
        plugin.release(task.run)
        queue.close()
    return len(pairs)
