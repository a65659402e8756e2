"""The controllers of the API, and what the client may assume about each.

``idempotent`` decides what a retry may do (see :mod:`thinknx_async.retry`): sending the same
level, height or setpoint twice leaves the device where once would, but launching a scene,
firing a button or putting a raw telegram on the KNX bus twice is a second command (a telegram
may drive a toggle or a step object), so those are never re-sent once they may have run.
"""

from __future__ import annotations

import re
from typing import Final

import attrs

from .errors import ValidationError

__all__ = ["Endpoint", "check_controller", "check_guid"]

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
