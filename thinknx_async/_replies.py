"""Turning an HTTP reply into a JSON object or a typed error."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ._numbers import parse_number
from ._secrets import redact
from .errors import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    DeviceNotFoundError,
    ExecutionError,
    ProtocolError,
    RateLimitedError,
    ServerError,
)
from .retry import parse_retry_after

__all__ = ["decode_reply"]

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


def _has_error(body: dict[str, Any]) -> bool:
    """Whether a JSON object carries an ``error``: an absent one, ``null``, ``false``, ``""``
    and zero (``0``, ``0.0``, ``"0"``: a code for "no error") are none."""
    error = body.get("error")
    if error is None or error is False or error == "":
        return False
    try:
        return parse_number(error) != 0
    except (TypeError, ValueError):
        return True


def decode_reply(
    status: int, headers: Mapping[str, str], content: bytes, what: str
) -> dict[str, Any]:
    """The JSON object of a 2xx reply that carries no ``error``; a typed error for anything else.

    A 2xx reply with an empty body (such as ``204 No Content``) confirms nothing the result
    needs, so it is a :class:`ProtocolError` (the command may have run).
    """
    success = 200 <= status <= 299
    try:
        body = json.loads(content) if content else None
    except (ValueError, RecursionError) as exc:
        if success:
            preview = _preview(content)
            raise ProtocolError(f"{what}: HTTP {status} reply is not JSON ({preview})") from exc
        body = None
    if success and type(body) is dict and ("error" not in body or not _has_error(body)):
        return body  # the common case, first
    error_text = _error_text(body)
    if success and type(body) is not dict:
        if not content:
            raise ProtocolError(f"{what}: HTTP {status} with an empty body: no result to read")
        preview = _preview(content)
        raise ProtocolError(f"{what}: HTTP {status} reply is not a JSON object ({preview})")
    # A server may quote the request (and so a key or a password) back in its error text.
    shown = redact(error_text) if error_text else ""
    message = f"{what}: HTTP {status}" + (f", {shown!r:.200}" if shown else "")
    if success and not shown:
        message += " with an 'error' member"
    if status == 429:
        retry_after = parse_retry_after(headers.get("retry-after"))
        raise RateLimitedError(message, body=body, retry_after=retry_after)
    kind = _BY_ERROR_TEXT.get((error_text or "").strip().lower()) or _BY_STATUS.get(status)
    if kind is None:
        if status >= 500:
            kind = ServerError
        elif 400 <= status < 500 or success:
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
