"""The simulator's own table of controllers: the oracle the client is tested against.

It is written apart from the library's :mod:`thinknx_async.controllers` on purpose (the
simulator never imports the library): a test checks that both name the same controllers,
parameters and value rules, so a mistake in one shows as a difference from the other.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEVICE_CONTROLLERS", "KNX_CONTROLLERS", "STATUS_FIELD", "DeviceController", "extra"]


@dataclass(frozen=True, slots=True)
class DeviceController:
    """How one device controller validates its value and what it answers."""

    name: str
    kinds: frozenset[str]
    param: str | None = "cmd"
    low: int = 0
    high: int = 1
    decimal: bool = False
    optional: bool = False
    feedback: bool = False
    """Whether ``fb`` adds the new ``status`` to the reply."""
    read: bool = False
    """A status read: no value, always answers ``status``."""
    state: str | None = None
    """For a controller beyond the built-in state model: the device's state entry it sets
    (or, for a read, reports)."""

    @property
    def prefix(self) -> bytes:
        """The reply's opening, up to the GUID."""
        return b'{"namespace":"' + self.name.encode() + b'",'


def _ctl(name: str, kinds: str, **kwargs: object) -> DeviceController:
    return DeviceController(name, frozenset(kinds.split()), **kwargs)  # type: ignore[arg-type]


DEVICE_CONTROLLERS: dict[str, DeviceController] = {
    c.name: c
    for c in (
        _ctl("power", "light", feedback=True),
        _ctl("powerstatus", "light", param=None, read=True),
        _ctl("powerlevel", "light", high=100, feedback=True),
        _ctl("updown", "blind"),
        _ctl("stop", "blind", low=1),
        _ctl("heightlevel", "blind", param="val", high=100, feedback=True),
        _ctl("heightlevelstatus", "blind", param=None, read=True),
        _ctl("blindangle", "blind", high=100, feedback=True),
        _ctl("actualtemp", "thermostat", param=None, read=True),
        _ctl("setpoint", "thermostat hvac", decimal=True, feedback=True),
        _ctl("chronotable", "thermostat", state="chronotable"),
        _ctl("hvacpower", "hvac", feedback=True),
        _ctl("scenelaunch", "scene"),
        _ctl("trigger", "button", low=1, optional=True),
    )
}

KNX_CONTROLLERS: dict[str, tuple[int, int, bool]] = {
    "system/sendKNXbit": (0, 1, False),
    "system/sendKNXbyte": (0, 255, False),
    "system/sendKNXfloat2bytes": (0, 0, True),
}
"""KNX telegram controllers: (low, high, decimal)."""


STATUS_FIELD: dict[str, str] = {
    "power": "on",
    "powerstatus": "on",
    "powerlevel": "level",
    "heightlevel": "height",
    "heightlevelstatus": "height",
    "blindangle": "angle",
    "actualtemp": "temperature",
    "setpoint": "setpoint",
    "hvacpower": "on",
}
"""Which state field a built-in controller's ``status`` reports."""


def extra(
    name: str,
    kinds: str,
    *,
    param: str | None = "cmd",
    low: int = 0,
    high: int = 1,
    decimal: bool = False,
    feedback: bool = False,
    read: bool = False,
    state: str | None = None,
) -> DeviceController:
    """A controller beyond the spec's section 5 (as a server's Integration Kit page shows it):
    it sets (or reads) the device's ``state`` entry, by default named after it."""
    return DeviceController(
        name, frozenset(kinds.split()), None if read else param, low, high, decimal,
        feedback=feedback, read=read, state=state or name,
    )  # fmt: skip
