"""One operation over many entries on a cluster, its outcomes streamed back to the driver.

Exactly one :class:`~thinknx_async.Outcome` per entry reaches the caller: a chunk's outcomes
come back in batches through a scheduler-side queue, a duplicate (a batch re-sent by a chunk
that ran twice) is dropped, and the chunks of a worker that died are resubmitted to a live one,
where their claims (see ``_worker``) keep anything from being sent twice.
"""

from __future__ import annotations

import collections
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Generic, Self

import anyio
from distributed import Event, Queue, Variable

from ..errors import SessionError
from ..fanout import Outcome, ResultT
from ..inventory import SiteEntry
from ..session import CLOUD_URL
from ..site import Site
from ._shard import Chunk, shard
from ._wire import entry_fields, unpack
from ._worker import ChunkTask, run_chunk
from .errors import MayHaveBeenSentError, WorkerLostError

if TYPE_CHECKING:
    from .fleet import DaskFleet

__all__ = ["MAX_SUBMISSIONS", "DistributedFanOut"]

#: Times one chunk is submitted before its missing sites are reported lost.
MAX_SUBMISSIONS = 4
_IDLE_SLEEP = 0.01  # seconds between reads of an empty outcome queue
_LOOK_EVERY = 0.5  # seconds between looks at the cluster (dead workers, failed chunks)


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

    async def __aexit__(self, *exc_info: object) -> None:
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
