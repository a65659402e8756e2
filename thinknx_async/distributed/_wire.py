"""What crosses the wire between the driver and the workers: plain data, never a live object.

An inventory entry travels as its fields (its secrets still unresolved: an ``{env = "NAME"}``
secret is read on the worker); an outcome comes back as a pickled tuple, its exception rebuilt
from its class, arguments and attributes (without its traceback or cause, which may hold live
objects).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from typing import Any

import attrs

from .._addresses import Address, relay_root
from .._secrets import MASK
from ..inventory import SiteEntry
from ..session import CLOUD_URL, Session
from ..site import Site
from .errors import RemoteError

__all__ = ["Packed", "entry_fields", "label_site", "pack", "rebuild_entry", "unpack"]

#: One site's outcome on the wire: index, value, error, attempts, elapsed, 429 replies.
Packed = tuple[int, Any, Any, int, float, int]


def entry_fields(entry: SiteEntry) -> dict[str, Any]:
    """``entry`` as plain fields (its aliases a plain dict), for the task that runs it."""
    fields = attrs.asdict(entry, recurse=False)
    fields["aliases"] = dict(entry.aliases)
    return fields


def rebuild_entry(fields: Mapping[str, Any]) -> SiteEntry:
    """The :class:`SiteEntry` that :func:`entry_fields` took apart."""
    return SiteEntry(**fields)


def _portable_error(error: Exception) -> Any:
    state = (type(error), error.args, dict(getattr(error, "__dict__", {})))
    try:
        pickle.loads(pickle.dumps(state))  # noqa: S301 - our own bytes, checked both ways
    except Exception:
        return (
            RemoteError,
            (str(error), type(error).__name__),
            {"type_name": type(error).__name__},
        )
    return state


def pack(
    index: int, value: Any, error: Exception | None, attempts: int, elapsed: float, limited: int
) -> bytes:
    """One outcome, pickled; a value or an exception that cannot be pickled becomes a
    :class:`RemoteError` saying so."""
    wire_error = None if error is None else _portable_error(error)
    try:
        return pickle.dumps((index, value, wire_error, attempts, elapsed, limited))
    except Exception as exc:
        message = f"the operation's value ({type(value).__name__}) cannot be pickled: {exc}"
        wire_error = (RemoteError, (message, "PicklingError"), {"type_name": "PicklingError"})
        return pickle.dumps((index, None, wire_error, attempts, elapsed, limited))


def _rebuild_error(state: Any) -> Exception | None:
    if state is None:
        return None
    cls, args, attributes = state
    error: Exception = cls.__new__(cls)
    error.args = args
    error.__dict__.update(attributes)
    return error


def unpack(data: bytes) -> Packed:
    """The outcome tuple :func:`pack` made, its exception rebuilt."""
    index, value, error, attempts, elapsed, limited = pickle.loads(data)  # noqa: S301 - our own workers' bytes
    return index, value, _rebuild_error(error), attempts, elapsed, limited


def label_site(entry: SiteEntry, session: Session, cloud_url: str = CLOUD_URL) -> Site:
    """A site handle for ``entry`` in the driver: its name, kind and masked URL, and nothing
    to send with (``session`` is closed). No secret is read: the key shows as ``***``."""
    if entry.mode == "local":
        host = f"[{entry.host}]" if entry.host and ":" in entry.host else entry.host
        base = f"{entry.scheme}://{host}:{entry.port}/api/V1/"
    elif entry.mode == "cloud":
        base = f"{cloud_url.rstrip('/')}/{MASK}/api/V1/"
    else:
        assert entry.url is not None
        base = f"{relay_root(entry.url, allow_insecure=True)}/{MASK}/api/V1/"
    return Site(
        session,
        entry.mode,
        Address(base),
        name=entry.name,
        rate_limit=entry.rate_limit,
        relay_bucket=None,
        max_in_flight=1,
        method="GET",
    )
