"""The driver: :class:`DaskFleet` connects to a cluster, :class:`DistributedFanOut` runs one
operation over many inventory entries on it and streams their outcomes back.

Exactly one :class:`~thinknx_async.Outcome` per entry reaches the caller: a chunk's outcomes
come back in batches through a scheduler-side queue, a duplicate (a batch re-sent by a chunk
that ran twice) is dropped, and the chunks of a worker that died are resubmitted to a live one,
where their claims (see ``_worker``) keep anything from being sent twice.
"""

from __future__ import annotations

import collections
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Generic, Self

import anyio
import cloudpickle
from distributed import Client, Event, Queue, Variable

from ..errors import SessionError, ValidationError
from ..fanout import DEFAULT_CONCURRENCY, Outcome, Report, ResultT, _check_concurrency
from ..inventory import Inventory, SiteEntry
from ..session import CLOUD_URL, Session
from ..site import Site
from ._shard import Chunk, shard
from ._wire import entry_fields, label_site, unpack
from ._worker import ChunkTask, SessionPlugin, run_chunk
from .cluster import ClusterSpec, open_client
from .errors import MayHaveBeenSentError, WorkerLostError

__all__ = ["DEFAULT_CHUNK_SIZE", "DaskFleet", "DistributedFanOut", "Entries"]

#: Sites per task when the caller does not say.
DEFAULT_CHUNK_SIZE = 100
#: Times one chunk is submitted before its missing sites are reported lost.
MAX_SUBMISSIONS = 4
_IDLE_SLEEP = 0.01  # seconds between reads of an empty outcome queue
_LOOK_EVERY = 0.5  # seconds between looks at the cluster (dead workers, failed chunks)
Entries = Inventory | Iterable[SiteEntry]


def _check_entries(entries: Entries) -> tuple[SiteEntry, ...]:
    if isinstance(entries, SiteEntry):
        raise ValidationError("entries must be an iterable of SiteEntry, not one SiteEntry")
    result = tuple(entries)
    for entry in result:
        if not isinstance(entry, SiteEntry):
            raise ValidationError(
                f"entries must hold SiteEntry objects, got {type(entry).__name__}"
            )
    return result


def _check_pickles(what: str, value: object) -> None:
    try:
        cloudpickle.dumps(value)
    except Exception as exc:
        raise ValidationError(
            f"{what} must pickle to travel to the workers (a top-level async def, plain "
            f"values; no live Session or Site): {exc}"
        ) from None


class DaskFleet:
    """A Dask cluster to fan operations out on, one :class:`~thinknx_async.Session` per worker.

    ``cluster`` is a scheduler address (``"tcp://host:8786"``), ``"local:N"`` (a
    ``LocalCluster`` of N worker processes, started and stopped with the fleet), a
    ``distributed.Client`` or a cluster object (``LocalCluster``...). ``session_options`` are
    the keyword arguments of each worker's ``Session`` (``rate_limit``, ``relay_rate_limit``,
    ``retry``, ``transport``...): they travel to the workers, so they must be plain values.
    ``security`` is a ``distributed.Security`` for TLS to a remote scheduler. Use it as
    ``async with DaskFleet(...) as fleet:``.
    """

    def __init__(
        self,
        cluster: ClusterSpec,
        *,
        session_options: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        security: Any = None,
    ) -> None:
        if type(chunk_size) is not int or not 1 <= chunk_size <= 10_000:
            raise ValidationError(f"chunk_size must be an integer 1..10000, got {chunk_size!r}")
        self._cluster = cluster
        self._security = security
        self.session_options: dict[str, Any] = dict(session_options or {})
        self.chunk_size = chunk_size
        if "http_client" in self.session_options:
            raise ValidationError("session_options cannot hold an http_client: it cannot travel")
        # The driver's own session checks the options now (a typed error before any cluster);
        # closed at once, it makes the driver-side sites, which only name and show.
        try:
            self._labels = Session(**self.session_options)
        except TypeError as exc:
            raise ValidationError(f"session_options: {exc}") from None
        _check_pickles("session_options", self.session_options)
        self._plugin = f"thinknx-session-{uuid.uuid4().hex[:12]}"  # this fleet's own sessions
        self._client: Client | None = None
        self._close: Callable[[], Awaitable[None]] | None = None

    def __repr__(self) -> str:
        state = "open" if self._client is not None else "not open"
        return f"<DaskFleet {state}>"

    @property
    def client(self) -> Client:
        """The asynchronous ``distributed.Client`` (once entered)."""
        if self._client is None:
            raise SessionError("enter the fleet first: 'async with DaskFleet(...) as fleet:'")
        return self._client

    async def __aenter__(self) -> Self:
        self._client, self._close = await open_client(self._cluster, self._security)
        await self._client.register_plugin(
            SessionPlugin(self._plugin, self.session_options), name=self._plugin
        )
        await self._labels.aclose()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        client, close = self._client, self._close
        self._client = self._close = None
        if client is None or close is None:
            return
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(Exception):  # a worker gone has no plugin to remove
                await client.unregister_worker_plugin(self._plugin)
            await close()

    async def workers(self) -> list[str]:
        """The addresses of the workers alive now, sorted."""
        scheduler: Any = self.client.scheduler
        info = await scheduler.identity()
        return sorted(info["workers"])

    def fan_out(
        self,
        entries: Entries,
        operation: Callable[..., Awaitable[ResultT]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        idempotent: bool = False,
        pass_fleet: bool = False,
    ) -> DistributedFanOut[ResultT]:
        """Run ``operation(site)`` for every entry on the cluster; outcomes stream back.

        - ``operation``: a top-level ``async def`` (it is pickled to the workers); with
          ``pass_fleet=True`` it is called as ``operation(site, fleet)``, ``fleet`` being the
          worker's :class:`~thinknx_async.Fleet` of its chunk, to resolve aliases.
        - ``concurrency``: operations in flight over the whole cluster, split evenly between
          the workers.
        - ``idempotent``: whether running the operation twice on a site is harmless (a status
          read, setting a level). Default ``False``: a site whose worker died mid-operation is
          never sent again; its outcome is a :class:`MayHaveBeenSentError`. With ``True``, it is
          sent again on another worker.

        Enter it, then iterate, as :meth:`Session.fan_out <thinknx_async.Session.fan_out>`.
        """
        if not callable(operation):
            raise ValidationError("operation must be a callable taking a Site")
        _check_pickles("operation", operation)
        return DistributedFanOut(
            self,
            _check_entries(entries),
            operation,
            _check_concurrency(concurrency),
            bool(idempotent),
            pass_fleet,
        )

    async def gather(
        self,
        entries: Entries,
        operation: Callable[..., Awaitable[ResultT]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        idempotent: bool = False,
        pass_fleet: bool = False,
        on_outcome: Callable[[Outcome[Any]], object] | None = None,
    ) -> Report[ResultT]:
        """Run ``operation`` over every entry (as :meth:`fan_out`) and return the whole
        :class:`~thinknx_async.Report`, in entry order."""
        fan_out = self.fan_out(
            entries, operation, concurrency=concurrency, idempotent=idempotent,
            pass_fleet=pass_fleet,
        )  # fmt: skip
        started = time.monotonic()
        outcomes: list[Outcome[ResultT] | None] = [None] * fan_out.total
        async with fan_out:
            async for outcome in fan_out:
                outcomes[outcome.index] = outcome
                if on_outcome is not None:
                    on_outcome(outcome)
        complete = tuple(o for o in outcomes if o is not None)
        assert len(complete) == len(outcomes), "a fan-out reports every site"
        return Report(complete, time.monotonic() - started)

    def _label(self, entry: SiteEntry) -> Site:
        return label_site(entry, self._labels, self.session_options.get("cloud_url", CLOUD_URL))


class DistributedFanOut(Generic[ResultT]):
    """One operation over many entries on a :class:`DaskFleet`; made by :meth:`DaskFleet.fan_out`.

    ``async with fleet.fan_out(entries, op) as outcomes: async for outcome in outcomes: ...``
    Each outcome's ``site`` is a handle that names the site (``name``, ``kind``, masked
    ``url``) but cannot send: the live site existed on a worker. Leaving the block early
    cancels the chunks still running.
    """

    def __init__(
        self,
        fleet: DaskFleet,
        entries: tuple[SiteEntry, ...],
        operation: Callable[..., Awaitable[ResultT]],
        concurrency: int,
        idempotent: bool,
        pass_fleet: bool,
    ) -> None:
        self._fleet = fleet
        self._entries = entries
        self._operation = operation
        self._concurrency = concurrency
        self._idempotent = idempotent
        self._pass_fleet = pass_fleet
        self._run = uuid.uuid4().hex[:12]
        self._sites: list[Site] = []
        self._chunks: list[Chunk] = []
        self._futures: dict[int, Any] = {}
        self._seen: set[int] = set()
        self._ready: collections.deque[Outcome[ResultT]] = collections.deque()
        self._queue: Queue | None = None
        self._per_worker = concurrency
        self._looked = time.monotonic()
        self._state = "new"

    def __repr__(self) -> str:
        return f"<DistributedFanOut {len(self._seen)}/{len(self._entries)} done, {self._state}>"

    @property
    def total(self) -> int:
        """How many outcomes there will be (the number of entries given)."""
        return len(self._entries)

    @property
    def placement(self) -> dict[str, str]:
        """Each site's name -> the address of the worker its chunk is pinned to now."""
        return {
            self._entries[i].name: chunk.worker for chunk in self._chunks for i in chunk.indices
        }

    @property
    def _stop_name(self) -> str:
        return f"thinknx-stop-{self._run}"

    def _claim_name(self, chunk: Chunk) -> str:
        return f"thinknx-claim-{self._run}-{chunk.number}"

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise SessionError("a fan-out can be entered only once")
        self._state = "running"
        fleet = self._fleet
        workers = await fleet.workers()
        if not workers:
            raise SessionError("the cluster has no worker")
        self._sites = [fleet._label(entry) for entry in self._entries]
        self._per_worker = max(1, -(-self._concurrency // len(workers)))
        self._chunks = shard(
            self._entries,
            workers,
            chunk_size=fleet.chunk_size,
            shared_limit=fleet.session_options.get("relay_rate_limit") is not None,
            cloud_url=fleet.session_options.get("cloud_url", CLOUD_URL),
        )
        self._queue = await Queue(f"thinknx-outcomes-{self._run}", client=fleet.client)
        # Every claim exists before its chunk runs: a chunk reads it without a timed wait.
        async with anyio.create_task_group() as group:
            for chunk in self._chunks:
                group.start_soon(self._claim(chunk).set, {"claimed": [], "reported": []})
        for chunk in self._chunks:
            self._submit(chunk)
        return self

    def _claim(self, chunk: Chunk) -> Variable:
        return Variable(self._claim_name(chunk), client=self._fleet.client)

    def _submit(self, chunk: Chunk) -> None:
        chunk.submissions += 1
        assert self._queue is not None
        task = ChunkTask(
            run=self._run,
            plugin=self._fleet._plugin,
            claim=self._claim_name(chunk),
            queue=self._queue.name,
            items=tuple((i, entry_fields(self._entries[i])) for i in chunk.indices),
            operation=self._operation,
            idempotent=self._idempotent,
            pass_fleet=self._pass_fleet,
            concurrency=self._per_worker,
            stop=self._stop_name,
        )
        # The task's name shows on the dashboard: run, chunk and attempt, never a secret.
        key = f"thinknx-chunk-{self._run}-{chunk.number}-{chunk.submissions}"
        self._futures[chunk.number] = self._fleet.client.submit(
            run_chunk, task, key=key, workers=[chunk.worker], allow_other_workers=False, pure=False
        )

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._state = "closed"
        client = self._fleet._client
        if client is None:
            return
        with anyio.CancelScope(shield=True):
            if len(self._seen) < len(self._entries):
                await Event(self._stop_name, client=client).set()  # running chunks stop
            pending = [f for f in self._futures.values() if not f.done()]
            self._futures.clear()
            if pending:
                await client.cancel(pending)
            for chunk in self._chunks:
                self._claim(chunk).delete()
            if self._queue is not None:
                self._queue.close()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Outcome[ResultT]:
        if self._state == "new":
            raise SessionError("enter the fan-out first: 'async with fleet.fan_out(...) as ...:'")
        if self._state == "closed":
            raise SessionError("the fan-out is closed")
        while not self._ready:
            if len(self._seen) == len(self._entries):
                raise StopAsyncIteration
            await self._collect()
        return self._ready.popleft()

    async def _collect(self) -> None:
        assert self._queue is not None
        # The queue is read without waiting (a timed-out wait is an error in the scheduler's
        # log): what has arrived, else a short sleep; and twice a second, a look at the chunks.
        batches = await self._queue.get(batch=True)
        for batch in batches:
            for data in batch:
                self._accept(*unpack(data))
        if time.monotonic() - self._looked >= _LOOK_EVERY:
            await self._look_after_chunks()
            self._looked = time.monotonic()
        if not batches:
            await anyio.sleep(_IDLE_SLEEP)

    def _accept(
        self, index: int, value: Any, error: Exception | None, attempts: int, elapsed: float,
        limited: int,
    ) -> None:  # fmt: skip
        if index in self._seen:
            return  # a chunk that ran twice reported it again: the first outcome stands
        self._seen.add(index)
        self._ready.append(
            Outcome(self._sites[index], index, value, error, attempts, elapsed, limited)
        )

    async def _look_after_chunks(self) -> None:
        """Resubmit the chunks of dead workers and the chunks that failed or finished short
        (a re-run sends nothing its claim says was reported); forget the finished ones."""
        alive = set(await self._fleet.workers())
        redo: list[Chunk] = []
        for chunk in self._chunks:
            future = self._futures.get(chunk.number)
            if future is None:
                continue
            if all(i in self._seen for i in chunk.indices):
                if future.done():
                    # Forgotten, so that the scheduler never recomputes a result held by a
                    # worker that dies later.
                    del self._futures[chunk.number]
                    future.release()
                continue
            if chunk.worker not in alive or future.status in ("error", "cancelled", "lost"):
                redo.append(chunk)
            elif future.status == "finished":
                redo.append(chunk)  # finished with sites missing: run it again, its claim is safe
        if not redo or not alive:
            return  # with no worker alive, wait: the cluster may be restarting one
        stale = [self._futures[c.number] for c in redo if not self._futures[c.number].done()]
        if stale:
            await self._fleet.client.cancel(stale)
        moved: dict[str, str] = {}
        for chunk in redo:
            if chunk.worker not in alive:
                # Every chunk of a dead worker goes to the same live one: a host stays whole.
                chunk.worker = moved.setdefault(chunk.worker, self._least_loaded(alive))
            if chunk.submissions >= MAX_SUBMISSIONS:
                del self._futures[chunk.number]
                await self._give_up(chunk)
            else:
                self._submit(chunk)

    def _least_loaded(self, alive: set[str]) -> str:
        load = collections.Counter(
            c.worker for c in self._chunks if c.worker in alive and c.number in self._futures
        )
        return min(sorted(alive), key=lambda w: load[w])

    async def _give_up(self, chunk: Chunk) -> None:
        claimed = set((await self._claim(chunk).get()).get("claimed", ()))
        for index in chunk.indices:
            if index in self._seen:
                continue
            error: WorkerLostError
            if index in claimed:
                error = MayHaveBeenSentError(
                    f"the chunk holding this site failed {chunk.submissions} times; "
                    "its operation had started, so the command may have been sent"
                )
            else:
                error = WorkerLostError(
                    f"the chunk holding this site failed {chunk.submissions} times; "
                    "its operation never started"
                )
            self._accept(index, None, error, 0, 0.0, 0)
