"""Device proxies: a site and a GUID, with one method per capability.

Each method is a thin wrapper over an entry of :data:`~thinknx_async.controllers.BUILTIN`: the
entry validates the value (raising :class:`~thinknx_async.ValidationError` before anything is
sent), writes the exact query the API documents and says whether a retry may re-send it.
:meth:`Device.command` and :meth:`Device.read` take any controller, built-in or declared.
Proxies are small frozen values: cheap to make, hashable, and equal when they name the same
device of the same site.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

import attrs

from ._endpoints import Endpoint, check_guid
from .controllers import Controller, DeviceKind, builtin
from .errors import ValidationError
from .models import CommandResult, reply_error, structure
from .state import State, record, store_of
from .telegrams import Knx as Knx

if TYPE_CHECKING:
    from .site import Site

__all__ = [
    "PROXIES",
    "Analog",
    "Blind",
    "Button",
    "Device",
    "Hvac",
    "Knx",
    "Light",
    "Scene",
    "Thermostat",
]

T = TypeVar("T")
_POWER: Final = builtin("power")
_POWER_STATUS: Final = builtin("powerstatus")
_POWER_LEVEL: Final = builtin("powerlevel")
_UP_DOWN: Final = builtin("updown")
_STOP: Final = builtin("stop")
_HEIGHT: Final = builtin("heightlevel")
_HEIGHT_STATUS: Final = builtin("heightlevelstatus")
_ANGLE: Final = builtin("blindangle")
_ACTUAL_TEMP: Final = builtin("actualtemp")
_SETPOINT: Final = builtin("setpoint")
_CHRONOTABLE: Final = builtin("chronotable")
_HVAC_POWER: Final = builtin("hvacpower")
_SCENE: Final = builtin("scenelaunch")
_TRIGGER: Final = builtin("trigger")


def _guid(_: object, __: object, value: str) -> None:
    check_guid(value)


@attrs.frozen(slots=True, repr=False)
class Device:
    """Base of the device proxies: the site it lives on and its GUID."""

    kind: ClassVar[DeviceKind | None] = None
    """The device kind its controllers must name (``None``: any)."""

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

    async def command(
        self, controller: Controller[Any], value: Any = None, *, feedback: bool = False
    ) -> CommandResult:
        """Send ``controller`` (built-in or :func:`~thinknx_async.controllers.declare`-d) with
        ``value``, checked by its rule; ``feedback`` only where the controller takes ``fb``."""
        self._check(controller, read=False)
        if feedback and not controller.feedback:
            raise ValidationError(f"{controller.name} does not take fb (feedback)")
        return await self._command(controller, value, feedback)

    async def read(self, controller: Controller[T]) -> T:
        """Read the state ``controller`` (a status read) reports, typed by its rule."""
        self._check(controller, read=True)
        return await self._state(controller)

    def _check(self, controller: Controller[Any], *, read: bool) -> None:
        if not isinstance(controller, Controller):
            raise ValidationError(f"expected a Controller, got {type(controller).__name__}")
        if self.kind is not None and controller.kind != self.kind:
            raise ValidationError(
                f"{controller.name} drives a {controller.kind}, not a {self.kind}"
            )
        if controller.read != read:
            use = "read()" if controller.read else "command()"
            raise ValidationError(f"{controller.name} is sent with {use}")

    async def _command(
        self, controller: Controller[Any], value: Any, feedback: bool = False
    ) -> CommandResult:
        query = f"guid={self.guid}&{controller.encode(value)}"
        return await self._send(controller.endpoint, query, feedback)

    async def _state(self, controller: Controller[T]) -> T:
        status = await self._read(controller.endpoint)
        state = controller.rule.decode(status)
        if state is None:
            raise reply_error(f"{controller.name} status {status!r} is not {controller.rule.text}")
        return state

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


class Light(Device):
    """A light, switch or dimmer: ``power``, ``powerstatus``, ``powerlevel``."""

    __slots__ = ()
    kind = "light"

    async def turn_on(self, *, feedback: bool = False) -> CommandResult:
        """Switch on (``power?cmd=1``). With ``feedback``, wait for the device's new state."""
        return await self._command(_POWER, 1, feedback)

    async def turn_off(self, *, feedback: bool = False) -> CommandResult:
        """Switch off (``power?cmd=0``)."""
        return await self._command(_POWER, 0, feedback)

    async def is_on(self) -> bool:
        """Whether it is on (``powerstatus``)."""
        return await self._state(_POWER_STATUS)

    async def set_level(self, level: int, *, feedback: bool = False) -> CommandResult:
        """Set the dimming level, an integer percentage 0..100 (``powerlevel``)."""
        return await self._command(_POWER_LEVEL, level, feedback)


class Blind(Device):
    """A shutter, curtain or slatted blind: ``updown``, ``stop``, ``heightlevel``,
    ``heightlevelstatus``, ``blindangle``."""

    __slots__ = ()
    kind = "blind"

    async def up(self) -> CommandResult:
        """Start moving up (``updown?cmd=0``: the API's 0 is up)."""
        return await self._command(_UP_DOWN, 0)

    async def down(self) -> CommandResult:
        """Start moving down (``updown?cmd=1``)."""
        return await self._command(_UP_DOWN, 1)

    async def stop(self) -> CommandResult:
        """Stop moving (``stop?cmd=1``: the API requires ``cmd=1`` to confirm)."""
        return await self._command(_STOP, 1)

    async def set_height(self, height: int, *, feedback: bool = False) -> CommandResult:
        """Move to a height, an integer percentage 0..100 (``heightlevel?val=``)."""
        return await self._command(_HEIGHT, height, feedback)

    async def height(self) -> int:
        """The current height in percent (``heightlevelstatus``)."""
        return await self._state(_HEIGHT_STATUS)

    async def set_angle(self, angle: int, *, feedback: bool = False) -> CommandResult:
        """Set the slat angle, an integer percentage 0..100 (``blindangle``)."""
        return await self._command(_ANGLE, angle, feedback)


class Thermostat(Device):
    """A thermostat: ``actualtemp``, ``setpoint``."""

    __slots__ = ()
    kind = "thermostat"

    async def temperature(self) -> float:
        """The measured temperature (``actualtemp``)."""
        return await self._state(_ACTUAL_TEMP)

    async def set_setpoint(
        self, celsius: float | int | Decimal, *, feedback: bool = False
    ) -> CommandResult:
        """Set the target temperature (``setpoint``), sent as a plain decimal such as ``20.5``.

        ``celsius`` must lie within DPT 9.001's range, -273..670760 °C.
        """
        return await self._command(_SETPOINT, celsius, feedback)

    async def set_chronotable(self, enabled: bool) -> CommandResult:
        """Enable or disable the time schedule (``chronotable?cmd=1`` or ``0``). The spec names
        this controller without a URL: check it against your server's Integration Kit page."""
        return await self._command(_CHRONOTABLE, enabled)


class Hvac(Device):
    """An HVAC unit or fan: ``hvacpower``."""

    __slots__ = ()
    kind = "hvac"

    async def turn_on(self, *, feedback: bool = False) -> CommandResult:
        """Switch on (``hvacpower?cmd=1``)."""
        return await self._command(_HVAC_POWER, 1, feedback)

    async def turn_off(self, *, feedback: bool = False) -> CommandResult:
        """Switch off (``hvacpower?cmd=0``)."""
        return await self._command(_HVAC_POWER, 0, feedback)


class Scene(Device):
    """A scene, a macro with no on/off state (``scenelaunch``): never re-sent if it may have run."""

    __slots__ = ()
    kind = "scene"

    async def launch(self) -> CommandResult:
        """Start the scene (``scenelaunch?cmd=1``)."""
        return await self._command(_SCENE, 1)

    async def stop(self) -> CommandResult:
        """Stop the scene's remaining timed steps, if it is running (``scenelaunch?cmd=0``)."""
        return await self._command(_SCENE, 0)


class Button(Device):
    """A generic button (``trigger``). Never retried once it may have run."""

    __slots__ = ()
    kind = "button"

    async def trigger(self) -> CommandResult:
        """Fire the actions bound to the button (``trigger?cmd=1``, as the API's example)."""
        return await self._command(_TRIGGER, 1)


class Analog(Device):
    """An analog value on a continuous range. The spec gives its Value controller no URL:
    declare it from your server's page (see :data:`~thinknx_async.controllers.READY_MADE`)
    and send it with :meth:`~Device.command`."""

    __slots__ = ()
    kind = "analog"


#: The proxy class of each device kind.
PROXIES: Final[Mapping[DeviceKind, type[Device]]] = {
    cls.kind: cls for cls in (Light, Blind, Thermostat, Hvac, Scene, Button, Analog) if cls.kind
}
