"""Reaching a cluster: a scheduler address, ``local:N``, a client or a cluster object."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from distributed import Client, LocalCluster
from distributed.deploy.cluster import Cluster

from ..errors import ValidationError

__all__ = ["ClusterSpec", "local_cluster", "open_client", "parse_local"]

#: What :class:`~thinknx_async.distributed.DaskFleet` accepts as its cluster.
ClusterSpec = str | Client | Cluster
_LOCAL = re.compile(r"local:([1-9][0-9]*)")


def parse_local(spec: str) -> int | None:
    """N for ``"local:N"``, ``None`` for anything else."""
    match = _LOCAL.fullmatch(spec)
    return None if match is None else int(match.group(1))


def local_cluster(workers: int) -> LocalCluster:
    """An asynchronous ``LocalCluster`` of ``workers`` processes, one thread each, on
    127.0.0.1 only (enter it with ``async with``).

    The scheduler's HTTP server (health routes, and the dashboard where bokeh is installed)
    takes a free port on 127.0.0.1: left alone it would claim 8787 on every interface and
    warn when another cluster has it.
    """
    return LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
        asynchronous=True,
    )


async def open_client(
    cluster: ClusterSpec, security: Any = None
) -> tuple[Client, Callable[[], Awaitable[None]]]:
    """An asynchronous client of ``cluster``, and what closes what was opened for it.

    A client given is used as is when asynchronous (and never closed); a synchronous one, or a
    cluster object, is reached through a new asynchronous client of its scheduler.
    """
    owned: list[Any] = []
    if isinstance(cluster, str):
        workers = parse_local(cluster)
        if workers is not None:
            local = await local_cluster(workers)
            owned.append(local)
            address = local.scheduler_address
        elif "://" in cluster or ":" in cluster:
            address = cluster
        else:
            raise ValidationError(
                f"cluster must be a scheduler address (tcp://HOST:8786) or local:N, "
                f"got {cluster!r:.80}"
            )
    elif isinstance(cluster, Client):
        if cluster.asynchronous:
            return cluster, _nothing
        scheduler: Any = cluster.scheduler
        address = str(scheduler.address)
    elif isinstance(cluster, Cluster):
        address = cluster.scheduler_address
    else:
        raise ValidationError(
            f"cluster must be an address, a distributed.Client or a cluster, "
            f"got {type(cluster).__name__}"
        )
    client = await Client(address, asynchronous=True, security=security)
    owned.insert(0, client)

    async def close() -> None:
        for thing in owned:
            await thing.close()

    return client, close


async def _nothing() -> None:
    return None
