"""The driver's handle on a cluster: :class:`DaskFleet` connects to it, gives every worker its
session, checks what is to travel, and makes :class:`~.fanout.DistributedFanOut` runs."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, Self, TypedDict, Unpack

import anyio
import cloudpickle
from distributed import Client

from ..errors import SessionError, ValidationError
from ..fanout import DEFAULT_CONCURRENCY, Outcome, Report, ResultT, _check_concurrency, collect
from ..inventory import Inventory, SiteEntry
from ..session import CLOUD_URL, Session
from ..site import Site
from ._wire import label_site
from ._worker import SessionPlugin
from .cluster import ClusterSpec, open_client
from .fanout import DistributedFanOut

__all__ = ["DEFAULT_CHUNK_SIZE", "DaskFleet", "Entries"]

#: Sites per task when the caller does not say.
DEFAULT_CHUNK_SIZE = 100
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


class FanOutOptions(TypedDict, total=False):
    """The options of :meth:`DaskFleet.fan_out` that :meth:`DaskFleet.gather` passes on."""

    concurrency: int
    idempotent: bool
    pass_fleet: bool


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
        await self._labels.aclose()
        client, close = await open_client(self._cluster, self._security)
        try:
            await client.register_plugin(
                SessionPlugin(self._plugin, self.session_options), name=self._plugin
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await close()
            raise
        self._client, self._close = client, close
        return self

    async def __aexit__(self, *exc_info: object) -> None:
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
        on_outcome: Callable[[Outcome[Any]], object] | None = None,
        **options: Unpack[FanOutOptions],
    ) -> Report[ResultT]:
        """Run ``operation`` over every entry (as :meth:`fan_out`, with its ``concurrency``,
        ``idempotent`` and ``pass_fleet``) and return the whole
        :class:`~thinknx_async.Report`, in entry order; ``on_outcome`` sees each outcome."""
        return await collect(self.fan_out(entries, operation, **options), on_outcome)

    def _label(self, entry: SiteEntry) -> Site:
        return label_site(entry, self._labels, self.session_options.get("cloud_url", CLOUD_URL))
