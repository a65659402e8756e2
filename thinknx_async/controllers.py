"""The controllers of the API as one declared table, and the user's own declarations.

Every controller is one :class:`Controller`: its name (its path under ``api/V1/``), the kind
of device it drives, the parameter carrying its value (``cmd``, ``val``...) and that value's
:class:`~thinknx_async.knx.Rule`, whether sending it twice is harmless, whether it takes
``fb``, and whether it reads state (the reply field carrying it). The device methods, the
``thinknx`` verbs and their help, the inventory's device kinds, the endpoint tables of the
docs and the retry rule all come from :data:`BUILTIN`.

``idempotent`` decides what a retry may do (see :mod:`thinknx_async.retry`): sending the same
level, height or setpoint twice leaves the device where once would, but launching a scene,
firing a button or putting a raw telegram on the KNX bus twice is a second command (a telegram
may drive a toggle or a step object), so those are never re-sent once they may have run.

The spec names more controllers than it gives URLs for (Value, Modality, Chronotable, FanSpeed,
the HVAC setpoint). :data:`READY_MADE` holds declarations for them: **declare it from your
server's page**: each server's *Server -> Integration Kit* page shows the real name and
parameters; :meth:`Controller.renamed` adapts a ready-made one to what the page says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, Generic, Literal, TypeVar, get_args

import attrs

from ._endpoints import RESERVED, Endpoint, check_controller
from .errors import ValidationError
from .knx import (
    BYTE,
    CONFIRM,
    DECIMAL,
    DPT9,
    PERCENT,
    SETPOINT,
    SWITCH,
    Rule,
    choice,
)

__all__ = [
    "BUILTIN",
    "DEVICE_KINDS",
    "READY_MADE",
    "Controller",
    "DeviceKind",
    "builtin",
    "by_kind",
    "declare",
]

T = TypeVar("T")
DeviceKind = Literal["light", "blind", "thermostat", "hvac", "scene", "button", "analog"]
#: The device kinds a controller, a proxy or an inventory alias may name.
DEVICE_KINDS: Final[tuple[DeviceKind, ...]] = get_args(DeviceKind)
#: Controllers addressed by a group address or by nothing, rather than by a device's GUID.
_OTHER_TARGETS: Final = ("knx", "system")
_PARAM = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_RESERVED = RESERVED | {"guid", "group"}
_VERB = re.compile(r"[a-z][a-z0-9-]*")


def _check_name(_: object, __: object, name: str) -> None:
    check_controller(name)


def _check_kind(_: object, __: object, kind: str) -> None:
    if kind not in DEVICE_KINDS and kind not in _OTHER_TARGETS:
        raise ValidationError(f"device kind must be one of {', '.join(DEVICE_KINDS)}: {kind!r}")


def _check_param(_: object, __: object, param: str | None) -> None:
    if param is not None and (_PARAM.fullmatch(str(param)) is None or param in _RESERVED):
        raise ValidationError(f"parameter {param!r:.40} is not a name the caller may set")


def _actions(value: Mapping[str, int | None]) -> Mapping[str, int | None]:
    for verb in value:
        if not isinstance(verb, str) or _VERB.fullmatch(verb) is None:
            raise ValidationError(f"verb {verb!r:.40} is not lower-case letters, digits and -")
    return MappingProxyType(dict(value))


@attrs.frozen(slots=True)
class Controller(Generic[T]):
    """One controller of the API and everything the client may assume about it."""

    name: str = attrs.field(validator=_check_name)
    """Its path under ``api/V1/``: ``word`` or ``word/word`` (``powerlevel``,
    ``system/sendKNXbit``)."""
    kind: str = attrs.field(validator=_check_kind)
    """The kind of device it drives (``light``, ``blind``...), or ``knx`` for a raw telegram
    to a group address and ``system`` for a call about the server itself."""
    rule: Rule[T]
    """Checks and writes the value sent as ``param``, and reads the state a reply's
    ``field`` carries."""
    param: str | None = attrs.field(default="cmd", validator=_check_param)
    """The query parameter carrying the value (``cmd``, ``val``, ``value``...); ``None``: the
    controller takes no value (a read)."""
    idempotent: bool = True
    """Whether sending it twice is harmless, which lets a failed attempt that may have run be
    retried (see :mod:`thinknx_async.retry`)."""
    feedback: bool = False
    """Whether it takes ``fb``: sent with ``feedback=True``, the server waits for the device
    and the reply carries its state."""
    read: bool = False
    """Whether it is a status read (it then takes no ``param``)."""
    field: str = "status"
    """The reply field that carries the state."""
    actions: Mapping[str, int | None] = attrs.field(factory=dict, converter=_actions)
    """Its ``thinknx KIND VERB`` verbs (read-only): a verb naming a value sends that value
    (``on`` -> ``cmd=1``), a verb naming ``None`` takes it from the command line."""
    help: str = ""
    """What it does, in a few words: the ``thinknx`` command's help for its verbs."""
    what: str = ""
    """Names the value in messages (empty: the parameter's name; see :attr:`label`)."""
    documented: bool = True
    """False for a controller the spec gives no URL for (``chronotable``, and every one made
    with :func:`declare`)."""
    endpoint: Endpoint = attrs.field(init=False, eq=False, repr=False)
    """What a request is sent to: ``name`` and ``idempotent``, derived from them (not an
    argument)."""

    @endpoint.default
    def _endpoint(self) -> Endpoint:
        return Endpoint(self.name, idempotent=self.idempotent)

    def __attrs_post_init__(self) -> None:
        if self.read == (self.param is not None):
            raise ValidationError(
                f"controller {self.name!r}: a read takes no parameter, a command takes one"
            )

    @property
    def label(self) -> str:
        """The value's name in messages: ``what``, else the parameter's name."""
        return self.what or self.param or self.name

    def encode(self, value: Any) -> str:
        """``param=VALUE`` for the wire, ``value`` checked by the rule (``""`` for a read)."""
        if self.param is None:
            return ""
        return f"{self.param}={self.rule.encode(value, self.label)}"

    def renamed(self, name: str, param: str | None = None) -> Controller[T]:
        """The same declaration under the name (and parameter) your server's page shows."""
        return attrs.evolve(self, name=name, param=self.param if param is None else param)

    def describe(self) -> str:
        """One line: name, parameter and rule, as the docs' tables write it."""
        value = "" if self.param is None else f" {self.param}={self.rule.text}"
        return f"{self.name}{value}"


def declare(
    name: str,
    kind: DeviceKind,
    rule: Rule[T],
    *,
    param: str | None = "cmd",
    idempotent: bool = True,
    feedback: bool = False,
    read: bool = False,
    verb: str | None = None,
    help: str = "",
) -> Controller[T]:
    """A controller of your own, copied from your server's *Integration Kit* page.

    ``name``, ``kind``, ``param`` and ``rule`` are what the page shows; the result drives any
    device of that kind with :meth:`~thinknx_async.Device.command` (or
    :meth:`~thinknx_async.Device.read` for a read), validated, throttled and retried like
    the built-ins. ``verb`` (default: the name) is its ``thinknx KIND VERB`` verb.
    """
    if read:
        param = None
    verb_name = verb if verb is not None else name.replace("/", "-").lower()
    return Controller(
        name,
        kind,
        rule,
        param=param,
        idempotent=idempotent,
        feedback=feedback,
        read=read,
        actions={verb_name: None},
        help=help or f"{name} (declared)",
        what="" if param is None else f"{name} {param}",
        documented=False,
    )


def _ctl(name: str, kind: str, rule: Rule[Any], actions: Mapping[str, int | None],
         help: str, **options: Any) -> Controller[Any]:  # fmt: skip
    return Controller(name, kind, rule, actions=actions, help=help, **options)


#: The controllers the spec documents (section 5), in its order.
# fmt: off
BUILTIN: Final[tuple[Controller[Any], ...]] = (
    _ctl("power", "light", SWITCH, {"on": 1, "off": 0}, "switch on or off", feedback=True),
    _ctl("powerstatus", "light", SWITCH, {"status": None}, "read on/off", param=None, read=True),
    _ctl("powerlevel", "light", PERCENT, {"level": None}, "set the dimming level",
         feedback=True, what="level"),
    _ctl("updown", "blind", SWITCH, {"up": 0, "down": 1}, "move (the API's 0 is up)"),
    _ctl("stop", "blind", CONFIRM, {"stop": 1}, "stop moving (cmd=1 confirms)"),
    _ctl("heightlevel", "blind", PERCENT, {"height": None}, "set the height", param="val",
         feedback=True, what="height"),
    _ctl("heightlevelstatus", "blind", PERCENT, {"height": None}, "read the height",
         param=None, read=True),
    _ctl("blindangle", "blind", PERCENT, {"angle": None}, "set the slat angle", feedback=True,
         what="angle"),
    _ctl("actualtemp", "thermostat", DECIMAL, {"temperature": None},
         "read the measured temperature", param=None, read=True),
    _ctl("setpoint", "thermostat", SETPOINT, {"setpoint": None}, "set the target temperature",
         feedback=True, what="setpoint"),
    _ctl("chronotable", "thermostat", SWITCH, {"chronotable": None},
         "enable (1) or disable (0) the time schedule", what="chronotable", documented=False),
    _ctl("hvacpower", "hvac", SWITCH, {"on": 1, "off": 0}, "switch on or off", feedback=True),
    _ctl("scenelaunch", "scene", SWITCH, {"launch": 1, "stop": 0},
         "start the scene, or stop its remaining steps", idempotent=False),
    _ctl("trigger", "button", CONFIRM, {"trigger": 1}, "fire the button's actions",
         idempotent=False),
    _ctl("system/sendKNXbit", "knx", SWITCH, {"send-bit": None}, "send a DPT 1 telegram",
         param="value", idempotent=False),
    _ctl("system/sendKNXbyte", "knx", BYTE, {"send-byte": None}, "send a DPT 5 telegram",
         param="value", idempotent=False),
    _ctl("system/sendKNXfloat2bytes", "knx", DPT9, {"send-float": None},
         "send a DPT 9 telegram", param="value", idempotent=False),
    _ctl("system/serverStatus", "system", DECIMAL, {}, "the server's main facts", param=None,
         read=True),
)
# fmt: on

_BY_NAME: Final = {c.name: c for c in BUILTIN}

#: Declarations for the controllers the spec names without a URL. **Declare it from your
#: server's page**: the names here are the spec's controller names in lower case, as its
#: documented URLs are; check them (and the values) against your server before use.
# fmt: off
READY_MADE: Final[Mapping[str, Controller[Any]]] = MappingProxyType({
    "thermostat_modality": declare("modality", "thermostat", choice(0, 1, 2, 3, 4),
                                   help="set the operating mode"),
    "thermostat_chronotable": _BY_NAME["chronotable"],
    "hvac_setpoint": declare("hvacsetpoint", "hvac", SETPOINT, feedback=True,
                             help="set the target temperature"),
    "hvac_modality": declare("hvacmodality", "hvac", choice(0, 1, 2, 3, 4),
                             help="set the operating mode"),
    "hvac_fanspeed": declare("fanspeed", "hvac", PERCENT, help="set the fan speed"),
    "analog_value": declare("value", "analog", DECIMAL, help="set a value on a continuous range"),
})
# fmt: on


def builtin(name: str) -> Controller[Any]:
    """The built-in controller called ``name`` (``KeyError`` when there is none)."""
    return _BY_NAME[name]


def by_kind(kind: str, extra: Iterable[Controller[Any]] = ()) -> dict[str, list[Controller[Any]]]:
    """Per verb, the controllers of ``kind`` (built-in, then ``extra``) that answer to it."""
    verbs: dict[str, list[Controller[Any]]] = {}
    for controller in (*BUILTIN, *extra):
        if controller.kind == kind:
            for verb in controller.actions:
                verbs.setdefault(verb, []).append(controller)
    return verbs
