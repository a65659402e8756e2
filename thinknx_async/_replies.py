"""Turning an HTTP reply into a JSON object or a typed error."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import httpx

from ._secrets import redact
from .errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    ConnectError,
    DeviceNotFoundError,
    ExecutionError,
    ProtocolError,
    RateLimitedError,
    ServerError,
    ThinknxError,
    TimeoutError,
    TransportError,
)
from .retry import parse_retry_after

__all__ = ["decode_reply", "transport_error"]

_BY_ERROR_TEXT: dict[str, type[ApiError]] = {
    "device not found": DeviceNotFoundError,
    "params errors": BadRequestError,
    "impossible to execute": ExecutionError,
}
_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: AuthenticationError,
    404: DeviceNotFoundError,
}


def _error_text(body: Any) -> str | None:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, str):
            return error
    return None


def decode_reply(
    status: int, headers: Mapping[str, str], content: bytes, what: str
) -> dict[str, Any]:
    """The JSON object of a 200 reply; a typed error for anything else."""
    try:
        body = json.loads(content) if content else None
    except (ValueError, RecursionError) as exc:
        if status == 200:
            raise ProtocolError(f"{what}: reply is not JSON ({_preview(content)})") from exc
        body = None
    if status == 200 and type(body) is dict and type(body.get("error")) is not str:
        return body  # the common case, first
    error_text = _error_text(body)
    if status == 200 and error_text is None:
        raise ProtocolError(f"{what}: expected a JSON object, got {_preview(content)}")
    # A server may quote the request (and so a key or a password) back in its error text.
    shown = redact(error_text) if error_text else ""
    message = f"{what}: HTTP {status}" + (f", {shown!r:.200}" if shown else "")
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        raise RateLimitedError(message, body=body, retry_after=retry_after)
    kind = _BY_ERROR_TEXT.get((error_text or "").strip().lower()) or _BY_STATUS.get(status)
    if kind is None:
        if status >= 500:
            kind = ServerError
        elif 400 <= status < 500 or status == 200:
            kind = ApiError
        else:
            raise ProtocolError(f"{what}: unexpected HTTP {status} ({_preview(content)})")
    raise kind(message, status_code=status, body=body)


def _preview(content: bytes) -> str:
    """The start of a body for a message: secrets masked first, so a cut cannot split one."""
    if not content:
        return "empty body"
    text = redact(content.decode("utf-8", "replace"))
    return repr(text[:60]) + ("..." if len(text) > 60 else "")


def _first_message(exc: BaseException) -> str:
    """The first non-empty message along ``exc``'s causes (under trio a TLS failure reaches
    httpx as an empty ``ConnectError`` whose cause says what went wrong)."""
    link: BaseException | None = exc
    for _ in range(8):
        if link is None:
            break
        text = str(link)
        if text:
            return text
        link = link.__cause__ or link.__context__
    return ""


# Text that only makes sense inside the libraries below: object ids and OpenSSL's source
# positions (a text about anyio's cancel scopes is dropped whole). What is left is the fact a
# user can act on.
_INTERNALS = re.compile(r"\s*\(?\b_ssl\.c:\d+\)?|\s*\bat 0x[0-9a-f]+\b")
_PHASES: dict[type[httpx.TimeoutException], tuple[str, str]] = {
    httpx.ConnectTimeout: ("connect", "no connection opened"),
    httpx.PoolTimeout: ("pool", "no free connection in the pool"),
    httpx.WriteTimeout: ("write", "request not sent"),
    httpx.ReadTimeout: ("read", "no reply"),
}


def _detail(exc: httpx.HTTPError) -> str:
    """What went wrong, as a user reads it: secrets masked, library internals gone."""
    text = _first_message(exc)
    if "cancel scope" in text.lower():
        return ""
    return _INTERNALS.sub("", redact(text)).strip(" ;:")


def transport_error(
    exc: httpx.HTTPError, what: str, timeouts: Mapping[str, float | None]
) -> ThinknxError:
    """The typed error for an httpx failure (set ``exc``, masked, as its cause).

    A timeout names its phase (connect, write, read, pool) and how long it was given.
    """
    error: TransportError
    if isinstance(exc, httpx.TimeoutException):
        kinds = (names for kind, names in _PHASES.items() if isinstance(exc, kind))
        phase, fact = next(kinds, ("read", "no reply"))
        limit = timeouts.get(phase)
        within = "" if limit is None else f" within {limit:g} s"
        error = TimeoutError(f"{what}: {fact}{within} ({phase} timeout)")
        error.never_sent = phase in ("connect", "pool")
        return error
    detail = _detail(exc)
    shown = f" ({detail})" if detail else ""
    if isinstance(exc, httpx.ConnectError):
        error = ConnectError(f"{what}: cannot connect{shown}")
    elif isinstance(exc, httpx.TransportError):
        error = TransportError(f"{what}: connection failed{shown}")
    else:
        return ProtocolError(f"{what}: {type(exc).__name__}{shown}")
    return error
