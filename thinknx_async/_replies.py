"""Turning an HTTP reply into a JSON object or a typed error."""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from ._secrets import redact
from .errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    CertificateError,
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


def _certificate_failure(exc: BaseException) -> str | None:
    """OpenSSL's reason, when a certificate rejection is along ``exc``'s causes."""
    link: BaseException | None = exc
    for _ in range(8):
        if link is None:
            break
        # aiohttp's own certificate error subclasses ssl's but has no verify_message: go on
        # to the ssl error it was raised from.
        if isinstance(link, ssl.SSLCertVerificationError) and hasattr(link, "verify_message"):
            return str(link.verify_message or link.reason or "certificate verify failed")
        link = link.__cause__ or link.__context__
    return None


def transport_error(exc: httpx.HTTPError, what: str) -> ThinknxError:
    """The typed error for an httpx failure (chain it with ``from exc``)."""
    reason = _certificate_failure(exc)
    if reason is not None:
        return CertificateError(f"{what}: TLS certificate rejected ({reason})", reason)
    detail = type(exc).__name__ + (f": {redact(text)}" if (text := _first_message(exc)) else "")
    error: TransportError
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        error = TimeoutError(f"{what}: connection not opened in time ({detail})")
        error.never_sent = True
    elif isinstance(exc, httpx.TimeoutException):
        error = TimeoutError(f"{what}: no reply in time ({detail})")
    elif isinstance(exc, httpx.ConnectError):
        error = ConnectError(f"{what}: cannot connect ({detail})")
    elif isinstance(exc, httpx.TransportError):
        error = TransportError(f"{what}: connection failed ({detail})")
    else:
        return ProtocolError(f"{what}: {detail}")
    return error
