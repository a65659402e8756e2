"""What :meth:`~thinknx_async.Site.request` sends: an :class:`Endpoint` and an encoded query.

The controllers themselves, and what the client may assume about each, are declared in
:mod:`thinknx_async.controllers`; this module holds the rules every query obeys (GUIDs,
controller and parameter names, the encoding of :meth:`~thinknx_async.Site.call`'s values).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from urllib.parse import quote

import attrs

from .errors import ValidationError
from .knx import format_decimal

__all__ = [
    "RESERVED",
    "Endpoint",
    "ParamValue",
    "check_controller",
    "check_guid",
    "encode_params",
    "is_url_safe",
]

ParamValue = str | int | float | Decimal | bool | None
#: The parameters the site sets itself, never the caller.
RESERVED = frozenset({"auth", "user", "pass", "fb"})

_GUID = re.compile(r"[A-Za-z0-9_-]+")
_CONTROLLER = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:/[A-Za-z][A-Za-z0-9_]*)?")


@attrs.frozen(slots=True)
class Endpoint:
    """What a request is sent to: a controller's path under ``api/V1/``, and whether re-sending
    it is harmless (see :class:`~thinknx_async.controllers.Controller`)."""

    controller: str
    idempotent: bool


def is_url_safe(text: str, limit: int = 128) -> bool:
    """Non-empty, at most ``limit`` characters, and only those of GUIDs and keys: ASCII
    letters, digits, ``-`` and ``_``. The one home of "URL-safe"."""
    return isinstance(text, str) and len(text) <= limit and _GUID.fullmatch(text) is not None


def check_guid(guid: str) -> str:
    """A GUID as the API takes it: non-empty, URL-safe characters only (``A-Z a-z 0-9 - _``).

    Anything else could smuggle query syntax into a request, so it is refused, not escaped.
    """
    if not isinstance(guid, str):
        raise ValidationError(f"GUID must be a string, got {type(guid).__name__}")
    if not is_url_safe(guid):
        raise ValidationError(
            f"GUID {guid[:40]!r} is invalid: 1 to 128 characters of A-Z a-z 0-9 - _"
        )
    return guid


def check_controller(name: str) -> str:
    """A controller name for :meth:`~thinknx_async.Site.call`: ``word`` or ``word/word``."""
    if not isinstance(name, str) or _CONTROLLER.fullmatch(name) is None:
        raise ValidationError(
            f"controller {name!r:.60} is invalid: letters, digits and _, optionally 'system/...'"
        )
    return name


def encode_params(params: Mapping[str, ParamValue] | None) -> str:
    """The query string of :meth:`~thinknx_async.Site.call`'s ``params``, in their order.

    ``None`` is a bare flag, numbers plain decimals, ``True``/``False`` ``1``/``0``; a name
    must be an ASCII identifier, and the parameters the site sets itself are refused.
    """
    parts = []
    for key, value in (params or {}).items():
        if not isinstance(key, str) or not key.isidentifier() or not key.isascii():
            raise ValidationError(f"parameter name {key!r:.40} is invalid")
        if key.lower() in RESERVED:
            raise ValidationError(f"parameter {key!r} is set by the site, not by the caller")
        parts.append(key if value is None else f"{key}={_encode(value, key)}")
    return "&".join(parts)


def _encode(value: ParamValue, key: str) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float | Decimal):
        return format_decimal(value, what=f"parameter {key!r}")
    if isinstance(value, str):
        return quote(value, safe="/-_.~:")
    raise ValidationError(f"parameter {key!r} has an unsupported type {type(value).__name__}")
