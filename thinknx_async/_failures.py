"""A transport's failure, as the library's error tree says it: typed, and readable."""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._secrets import redact
from ._transport.base import (
    BadReply,
    ConnectFailed,
    PoolClosed,
    ReplyTooLarge,
    Timeout,
    TransportFailure,
    first_message,
)
from .errors import (
    CertificateError,
    ConnectError,
    ProtocolError,
    SessionError,
    ThinknxError,
    TimeoutError,
    TransportError,
)

__all__ = ["transport_error"]

# Text that only makes sense inside the libraries below: object ids and OpenSSL's source
# positions (a text about anyio's cancel scopes is dropped whole). What is left is the fact a
# user can act on.
_INTERNALS = re.compile(r"\s*\(?\b_ssl\.c:\d+\)?|\s*\bat 0x[0-9a-f]+\b")
_PHASES: dict[str, str] = {
    "connect": "no connection opened",
    "pool": "no free connection in the pool",
    "write": "request not sent",
    "read": "no reply",
    "call": "no whole reply",
}


def _detail(exc: TransportFailure) -> str:
    """What went wrong, as a user reads it: secrets masked, library internals gone."""
    text = first_message(exc)
    if "cancel scope" in text.lower():
        return ""
    return _INTERNALS.sub("", redact(text)).strip(" ;:")


def transport_error(
    exc: TransportFailure, what: str, timeouts: Mapping[str, float | None], max_reply_size: int
) -> ThinknxError:
    """The typed error for a transport's failure (set ``exc``, masked, as its cause).

    A timeout names its phase (connect, write, read, pool, the whole call) and how long it was
    given; a rejected certificate gives OpenSSL's reason.
    """
    if isinstance(exc, Timeout):
        limit = exc.seconds if exc.seconds is not None else timeouts.get(exc.phase)
        within = "" if limit is None else f" within {limit:g} s"
        error: TransportError = TimeoutError(f"{what}: {_PHASES[exc.phase]}{within} "
                                             f"({exc.phase} timeout)")  # fmt: skip
        error.never_sent = exc.never_sent
        return error
    if isinstance(exc, ReplyTooLarge):
        size = "" if exc.length is None else f" of {exc.length} bytes"
        return ProtocolError(f"{what}: reply{size} is over the {max_reply_size}-byte limit")
    if isinstance(exc, PoolClosed):
        return SessionError(f"{what}: the session was closed")
    if isinstance(exc, ConnectFailed) and exc.certificate is not None:
        reason = exc.certificate
        return CertificateError(f"{what}: TLS certificate rejected ({reason})", reason)
    detail = _detail(exc)
    shown = f" ({detail})" if detail else ""
    if isinstance(exc, BadReply):
        return ProtocolError(f"{what}: reply not readable{shown}")
    if isinstance(exc, ConnectFailed):
        return ConnectError(f"{what}: cannot connect{shown}")
    error = TransportError(f"{what}: connection failed{shown}")
    error.never_sent = exc.never_sent
    return error
