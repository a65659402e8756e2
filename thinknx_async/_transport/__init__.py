"""The transport: how a request's bytes reach a server and its reply comes back.

- :mod:`.base`: the contract. :class:`~.base.Pool` (one request in, one whole reply out),
  :data:`~.base.Reply`, :class:`~.base.RequestDefaults`, :class:`~.base.PoolStats`, the
  :class:`~.base.Tokens` a request brings, and :class:`~.base.TransportFailure`'s small set:
  the only exceptions a backend raises.
- :mod:`.pool`: the session's :class:`~.pool.ConnectionPool`, admission control over small
  per-origin pools, which it heals when a cancellation strands one.
- :mod:`.httpx_pool`, :mod:`.aiohttp_pool`: the backends, each mapping its library's
  exceptions to the contract's once. :mod:`.deadlines`: aiohttp's one timer per pool.

Nothing here knows sites, limits or the library's error tree.
"""

from .base import Outgoing, Pool, PoolStats, Reply, RequestDefaults, Tokens, TransportFailure
from .httpx_pool import ClientPool
from .pool import ConnectionPool, open_pool

__all__ = [
    "ClientPool",
    "ConnectionPool",
    "Outgoing",
    "Pool",
    "PoolStats",
    "Reply",
    "RequestDefaults",
    "Tokens",
    "TransportFailure",
    "open_pool",
]
