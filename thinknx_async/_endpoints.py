"""The controllers of the API, what the client may assume about each, and their parameters.

``idempotent`` decides what a retry may do (see :mod:`thinknx_async.retry`): sending the same
level, height or setpoint twice leaves the device where once would, but launching a scene,
firing a button or putting a raw telegram on the KNX bus twice is a second command (a telegram
may drive a toggle or a step object), so those are never re-sent once they may have run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final
from urllib.parse import quote

import attrs

from .errors import ValidationError
from .knx import format_decimal

__all__ = ["Endpoint", "ParamValue", "check_controller", "check_guid", "encode_params"]

ParamValue = str | int | float | Decimal | bool | None
_RESERVED = frozenset({"auth", "user", "pass", "fb"})  # set by the site

_GUID = re.compile(r"[A-Za-z0-9_-]{1,128}")
_CONTROLLER = re.compile(r"[A-Za-z][A-Za-z0-9_]*(?:/[A-Za-z][A-Za-z0-9_]*)?")


@attrs.frozen(slots=True)
class Endpoint:
    """One controller: its path under ``api/V1/``, whether re-sending it is harmless."""

    controller: str
    idempotent: bool


POWER: Final = Endpoint("power", idempotent=True)
POWER_STATUS: Final = Endpoint("powerstatus", idempotent=True)
POWER_LEVEL: Final = Endpoint("powerlevel", idempotent=True)
UP_DOWN: Final = Endpoint("updown", idempotent=True)
STOP: Final = Endpoint("stop", idempotent=True)
HEIGHT_LEVEL: Final = Endpoint("heightlevel", idempotent=True)
HEIGHT_LEVEL_STATUS: Final = Endpoint("heightlevelstatus", idempotent=True)
BLIND_ANGLE: Final = Endpoint("blindangle", idempotent=True)
ACTUAL_TEMP: Final = Endpoint("actualtemp", idempotent=True)
SETPOINT: Final = Endpoint("setpoint", idempotent=True)
HVAC_POWER: Final = Endpoint("hvacpower", idempotent=True)
SCENE_LAUNCH: Final = Endpoint("scenelaunch", idempotent=False)
TRIGGER: Final = Endpoint("trigger", idempotent=False)
KNX_BIT: Final = Endpoint("system/sendKNXbit", idempotent=False)
KNX_BYTE: Final = Endpoint("system/sendKNXbyte", idempotent=False)
KNX_FLOAT: Final = Endpoint("system/sendKNXfloat2bytes", idempotent=False)
SERVER_STATUS: Final = Endpoint("system/serverStatus", idempotent=True)


def check_guid(guid: str) -> str:
    """A GUID as the API takes it: non-empty, URL-safe characters only (``A-Z a-z 0-9 - _``).

    Anything else could smuggle query syntax into a request, so it is refused, not escaped.
    """
    if not isinstance(guid, str):
        raise ValidationError(f"GUID must be a string, got {type(guid).__name__}")
    if _GUID.fullmatch(guid) is None:
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
        if key.lower() in _RESERVED:
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
