"""Device proxies: a site and a GUID, with one method per capability.

Each method validates its arguments (raising :class:`~thinknx_async.ValidationError` before
anything is sent) and builds the exact query the API documents. Proxies are small frozen values:
cheap to make, hashable, and equal when they name the same device of the same site.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from . import _endpoints as ep
from ._endpoints import Endpoint, check_guid
from ._numbers import exact_int
from .knx import (
    GroupAddress,
    check_bit,
    check_byte,
    check_group,
    check_percent,
    format_dpt9,
    format_setpoint,
)
from .models import CommandResult, KnxResult, reply_error, structure
from .state import State, record, store_of

if TYPE_CHECKING:
    from .site import Site

__all__ = ["Blind", "Button", "Device", "Hvac", "Knx", "Light", "Scene", "Thermostat"]


def _guid(_: object, __: object, value: str) -> None:
    check_guid(value)


@attrs.frozen(slots=True, repr=False)
class Device:
    """Base of the device proxies: the site it lives on and its GUID."""

    site: Site  # sites compare and hash by identity
    guid: str = attrs.field(validator=_guid)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.guid} on {self.site.name!r}>"

    @property
    def state(self) -> State | None:
        """What is known about this device: its last reported state (``None``: nothing yet).

        Learned from reads and from commands sent with ``feedback=True``; shared by every proxy
        of the same GUID on the same site. See :mod:`thinknx_async.state`.
        """
        return store_of(self.site).get(self.guid)

    async def _send(self, endpoint: Endpoint, query: str, feedback: bool = False) -> CommandResult:
        body = await self.site.request(endpoint, query, feedback=feedback)
        result = structure(body, CommandResult, what=f"{endpoint.controller} reply")
        if result.guid != self.guid:
            raise reply_error(
                f"{endpoint.controller} reply is about GUID {result.guid!r:.40}, not {self.guid}"
            )
        record(self, endpoint.controller, result.status, feedback)
        return result

    async def _read(self, endpoint: Endpoint) -> int | float:
        result = await self._send(endpoint, f"guid={self.guid}")
        if result.status is None:
            sent = result.raw.get("status")
            problem = "no 'status'" if sent is None else "a 'status' that is not a number"
            raise reply_error(f"{endpoint.controller} reply has {problem}")
        return result.status

    async def _read_whole(self, endpoint: Endpoint, top: int, rule: str) -> int:
        status = await self._read(endpoint)
        whole = exact_int(status)
        if whole is None or not 0 <= whole <= top:
            raise reply_error(f"{endpoint.controller} status {status!r} is not {rule}")
        return whole

    async def _read_percent(self, endpoint: Endpoint) -> int:
        return await self._read_whole(endpoint, 100, "an integer 0..100")

    async def _read_switch(self, endpoint: Endpoint) -> bool:
        return await self._read_whole(endpoint, 1, "0 or 1") == 1


class Light(Device):
    """A light, switch or dimmer: ``power``, ``powerstatus``, ``powerlevel``."""

    __slots__ = ()

    async def turn_on(self, *, feedback: bool = False) -> CommandResult:
        """Switch on (``power?cmd=1``). With ``feedback``, wait for the device's new state."""
        return await self._send(ep.POWER, f"guid={self.guid}&cmd=1", feedback)

    async def turn_off(self, *, feedback: bool = False) -> CommandResult:
        """Switch off (``power?cmd=0``)."""
        return await self._send(ep.POWER, f"guid={self.guid}&cmd=0", feedback)

    async def is_on(self) -> bool:
        """Whether it is on (``powerstatus``)."""
        return await self._read_switch(ep.POWER_STATUS)

    async def set_level(self, level: int, *, feedback: bool = False) -> CommandResult:
        """Set the dimming level, an integer percentage 0..100 (``powerlevel``)."""
        level = check_percent(level, what="level")
        return await self._send(ep.POWER_LEVEL, f"guid={self.guid}&cmd={level}", feedback)


class Blind(Device):
    """A shutter, curtain or slatted blind: ``updown``, ``stop``, ``heightlevel``,
    ``heightlevelstatus``, ``blindangle``."""

    __slots__ = ()

    async def up(self) -> CommandResult:
        """Start moving up (``updown?cmd=0``: the API's 0 is up)."""
        return await self._send(ep.UP_DOWN, f"guid={self.guid}&cmd=0")

    async def down(self) -> CommandResult:
        """Start moving down (``updown?cmd=1``)."""
        return await self._send(ep.UP_DOWN, f"guid={self.guid}&cmd=1")

    async def stop(self) -> CommandResult:
        """Stop moving (``stop?cmd=1``: the API requires ``cmd=1`` to confirm)."""
        return await self._send(ep.STOP, f"guid={self.guid}&cmd=1")

    async def set_height(self, height: int, *, feedback: bool = False) -> CommandResult:
        """Move to a height, an integer percentage 0..100 (``heightlevel?val=``)."""
        height = check_percent(height, what="height")
        return await self._send(ep.HEIGHT_LEVEL, f"guid={self.guid}&val={height}", feedback)

    async def height(self) -> int:
        """The current height in percent (``heightlevelstatus``)."""
        return await self._read_percent(ep.HEIGHT_LEVEL_STATUS)

    async def set_angle(self, angle: int, *, feedback: bool = False) -> CommandResult:
        """Set the slat angle, an integer percentage 0..100 (``blindangle``)."""
        angle = check_percent(angle, what="angle")
        return await self._send(ep.BLIND_ANGLE, f"guid={self.guid}&cmd={angle}", feedback)


class Thermostat(Device):
    """A thermostat: ``actualtemp``, ``setpoint``."""

    __slots__ = ()

    async def temperature(self) -> float:
        """The measured temperature (``actualtemp``)."""
        return float(await self._read(ep.ACTUAL_TEMP))

    async def set_setpoint(
        self, celsius: float | int | Decimal, *, feedback: bool = False
    ) -> CommandResult:
        """Set the target temperature (``setpoint``), sent as a plain decimal such as ``20.5``.

        ``celsius`` must lie within DPT 9.001's range, -273..670760 °C.
        """
        value = format_setpoint(celsius)
        return await self._send(ep.SETPOINT, f"guid={self.guid}&cmd={value}", feedback)


class Hvac(Device):
    """An HVAC unit or fan: ``hvacpower``."""

    __slots__ = ()

    async def turn_on(self, *, feedback: bool = False) -> CommandResult:
        """Switch on (``hvacpower?cmd=1``)."""
        return await self._send(ep.HVAC_POWER, f"guid={self.guid}&cmd=1", feedback)

    async def turn_off(self, *, feedback: bool = False) -> CommandResult:
        """Switch off (``hvacpower?cmd=0``)."""
        return await self._send(ep.HVAC_POWER, f"guid={self.guid}&cmd=0", feedback)


class Scene(Device):
    """A scene, a macro with no on/off state (``scenelaunch``): never re-sent if it may have run."""

    __slots__ = ()

    async def launch(self) -> CommandResult:
        """Start the scene (``scenelaunch?cmd=1``)."""
        return await self._send(ep.SCENE_LAUNCH, f"guid={self.guid}&cmd=1")

    async def stop(self) -> CommandResult:
        """Stop the scene's remaining timed steps, if it is running (``scenelaunch?cmd=0``)."""
        return await self._send(ep.SCENE_LAUNCH, f"guid={self.guid}&cmd=0")


class Button(Device):
    """A generic button (``trigger``). Never retried once it may have run."""

    __slots__ = ()

    async def trigger(self) -> CommandResult:
        """Fire the actions bound to the button (``trigger?cmd=1``, as the API's example)."""
        return await self._send(ep.TRIGGER, f"guid={self.guid}&cmd=1")


@attrs.frozen(slots=True, repr=False)
class Knx:
    """Raw KNX telegrams to group addresses (``system/sendKNX...``).

    Telegrams are never re-sent once they may have reached the bus: a second one could step a
    dimmer or flip a toggle again.
    """

    site: Site

    def __repr__(self) -> str:
        return f"<Knx on {self.site.name!r}>"

    async def _send(
        self, endpoint: Endpoint, group: str | GroupAddress, value: str, allow_broadcast: bool
    ) -> KnxResult:
        address = str(check_group(group, allow_broadcast=allow_broadcast))
        body = await self.site.request(endpoint, f"group={address}&value={value}")
        return structure(body, KnxResult, what=f"{endpoint.controller} reply")

    async def send_bit(
        self, group: str | GroupAddress, value: int | bool, *, allow_broadcast: bool = False
    ) -> KnxResult:
        """Send a DPT 1 (1-bit) telegram: ``value`` 0 or 1.

        ``0/0/0`` is KNX's broadcast address, heard by every device on the bus: it is refused
        unless ``allow_broadcast=True`` (the same holds for every ``send_*`` method).
        """
        return await self._send(ep.KNX_BIT, group, str(check_bit(value)), allow_broadcast)

    async def send_byte(
        self, group: str | GroupAddress, value: int, *, allow_broadcast: bool = False
    ) -> KnxResult:
        """Send a DPT 5 (1-byte unsigned) telegram: ``value`` 0..255."""
        return await self._send(ep.KNX_BYTE, group, str(check_byte(value)), allow_broadcast)

    async def send_float(
        self,
        group: str | GroupAddress,
        value: float | int | Decimal,
        *,
        allow_broadcast: bool = False,
    ) -> KnxResult:
        """Send a DPT 9 (2-byte float) telegram: ``value`` within -671088.64..670760.96."""
        return await self._send(ep.KNX_FLOAT, group, format_dpt9(value), allow_broadcast)
