"""The same fan-out on a Dask cluster: many processes or machines, never a command sent twice.

Needs the ``dask`` extra (``pip install 'thinknx-async[dask]'``). Nothing else in the library
imports this package. See ``docs/distributed.md``::

    from thinknx_async import Inventory
    from thinknx_async.distributed import DaskFleet

    async def status(site):
        return await site.server_status()

    async with DaskFleet("local:2") as fleet:
        report = await fleet.gather(Inventory.load("fleet.toml"), status, idempotent=True)
"""

from __future__ import annotations

from .cluster import ClusterSpec, local_cluster, parse_local
from .errors import MayHaveBeenSentError, RemoteError, WorkerLostError
from .fanout import MAX_SUBMISSIONS, DistributedFanOut
from .fleet import DEFAULT_CHUNK_SIZE, DaskFleet, Entries

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "MAX_SUBMISSIONS",
    "ClusterSpec",
    "DaskFleet",
    "DistributedFanOut",
    "Entries",
    "MayHaveBeenSentError",
    "RemoteError",
    "WorkerLostError",
    "local_cluster",
    "parse_local",
]
