"""Known device state: what each device last reported, and when it was learned.

Every reply that carries a device's status teaches its site's :class:`StateStore`: the reads
(``powerstatus``, ``heightlevelstatus``, ``actualtemp``) and the commands sent with
``feedback=True``. A command sent without feedback changes nothing known: it marks the field it
moves *unconfirmed*, until a read or a feedback reply says where the device really is. One store
per site, keyed by GUID, so every proxy of the same device on the same site sees the same state.

What the poller needs about controllers: which field a status reports (:data:`STATUS_FIELDS`),
which commands move a field with no status (:data:`MOVES`), and, from the table of controllers
(:mod:`thinknx_async.controllers`), which status read keeps each device kind fresh
(:data:`READS`) and which kinds have none (:data:`PASSIVE`).
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final, Literal

import attrs

from ._numbers import exact_int
from .controllers import BUILTIN, DEVICE_KINDS, Controller

if TYPE_CHECKING:
    from .devices import Device
    from .site import Site

__all__ = [
    "MOVES",
    "PASSIVE",
    "READS",
    "STATUS_FIELDS",
    "Listener",
    "Source",
    "State",
    "StateStore",
    "Value",
    "store_of",
]

Value = bool | int | float
Source = Literal["read", "feedback"]

_Convert = Callable[[int | float], Value | None]


def _switch(status: int | float) -> bool | None:
    whole = exact_int(status)
    return None if whole not in (0, 1) else whole == 1


def _percent(status: int | float) -> int | None:
    whole = exact_int(status)
    return whole if whole is not None and 0 <= whole <= 100 else None


def _number(status: int | float) -> float | None:
    value = float(status)
    return value if math.isfinite(value) else None


@attrs.frozen(slots=True)
class _Field:
    name: str
    convert: _Convert


_ON, _LEVEL = _Field("on", _switch), _Field("level", _percent)
_HEIGHT, _ANGLE = _Field("height", _percent), _Field("angle", _percent)
_TEMPERATURE, _SETPOINT = _Field("temperature", _number), _Field("setpoint", _number)

_FIELDS: Final[Mapping[str, _Field]] = {
    "power": _ON,
    "powerstatus": _ON,
    "powerlevel": _LEVEL,
    "heightlevel": _HEIGHT,
    "heightlevelstatus": _HEIGHT,
    "blindangle": _ANGLE,
    "actualtemp": _TEMPERATURE,
    "setpoint": _SETPOINT,
    "hvacpower": _ON,
}
STATUS_FIELDS: Final[Mapping[str, str]] = MappingProxyType(
    {controller: field.name for controller, field in _FIELDS.items()}
)
"""Which state field the ``status`` of a controller's reply reports."""

MOVES: Final[Mapping[str, str]] = MappingProxyType({"updown": "height", "stop": "height"})
"""Commands that move a field but never report a status: they only make it unconfirmed."""

READS: Final[Mapping[str, Controller[Any]]] = MappingProxyType(
    {c.kind: c for c in BUILTIN if c.read and c.kind in DEVICE_KINDS}
)
"""Device kind -> the status read of the table of controllers that keeps it fresh."""

PASSIVE: Final = frozenset(c.kind for c in BUILTIN if c.feedback) - READS.keys()
"""Kinds with no status read (HVAC units): their state comes from feedback replies only."""


@attrs.frozen(slots=True)
class State:
    """What is known about one device."""

    values: Mapping[str, Value]
    """Field -> value (``on``, ``level``, ``height``, ``angle``, ``temperature``,
    ``setpoint``), only the fields some reply has reported, each as the latest reported it
    (read-only)."""
    learned: float
    """When the last status arrived, in ``time.monotonic()`` seconds (see :attr:`age`)."""
    source: Source
    """Where that last status came from: ``"read"`` (a status read) or ``"feedback"`` (a
    command sent with ``feedback=True``)."""
    unconfirmed: frozenset[str] = frozenset()
    """Fields a command sent without feedback may have moved since they were reported; a read
    or a feedback reply of a field confirms it again."""

    def __getitem__(self, name: str) -> Value:
        return self.values[name]

    def get(self, name: str) -> Value | None:
        """A field's value, or ``None`` when no reply reported it."""
        return self.values.get(name)

    @property
    def confirmed(self) -> bool:
        """Whether no command sent since without feedback may have moved a field."""
        return not self.unconfirmed

    @property
    def age(self) -> float:
        """Seconds since the last status arrived."""
        return time.monotonic() - self.learned

    def as_dict(self) -> dict[str, Value]:
        """The values, as a plain dict (JSON-ready)."""
        return dict(self.values)


#: Called as ``listener(guid, old, new)`` after every status learned (``new`` is not ``None``)
#: and after a command made a field unconfirmed.
Listener = Callable[[str, State | None, State], None]


class StateStore:
    """The known state of every device of one site. Get it with :func:`store_of`."""

    __slots__ = ("__weakref__", "_listeners", "_states")

    def __init__(self) -> None:
        self._states: dict[str, State] = {}
        self._listeners: list[Listener] = []

    def __len__(self) -> int:
        return len(self._states)

    def get(self, guid: str) -> State | None:
        """What is known about device ``guid`` (``None``: nothing yet)."""
        return self._states.get(guid)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every update; returns the function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def learn(
        self, guid: str, controller: str, status: int | float, source: Source, now: float
    ) -> State | None:
        """Record a status ``controller`` reported; ``None`` if it is not a state it knows."""
        field = _FIELDS.get(controller)
        value = None if field is None else field.convert(status)
        if field is None or value is None:
            if source == "feedback":
                return self.unconfirm(guid, controller)  # the command ran; where it went is unsure
            return None
        old = self._states.get(guid)
        learned = {field.name: value}
        if field is _LEVEL:
            learned["on"] = value > 0  # a light is on when its level is above zero
        values = learned if old is None else {**old.values, **learned}
        unconfirmed = frozenset() if old is None else old.unconfirmed - learned.keys()
        new = State(MappingProxyType(values), now, source, unconfirmed)
        self._states[guid] = new
        self._notify(guid, old, new)
        return new

    def unconfirm(self, guid: str, controller: str) -> State | None:
        """A command without feedback was sent: the field it moves is no longer sure."""
        field = STATUS_FIELDS.get(controller) or MOVES.get(controller)
        old = self._states.get(guid)
        if field is None or old is None or field in old.unconfirmed:
            return old
        new = attrs.evolve(old, unconfirmed=old.unconfirmed | {field})
        self._states[guid] = new
        self._notify(guid, old, new)
        return new

    def _notify(self, guid: str, old: State | None, new: State) -> None:
        for listener in tuple(self._listeners):
            listener(guid, old, new)


_STORES: weakref.WeakKeyDictionary[Site, StateStore] = weakref.WeakKeyDictionary()


def store_of(site: Site) -> StateStore:
    """The state store of ``site`` (made on first use, gone with the site)."""
    store = _STORES.get(site)
    if store is None:
        store = _STORES[site] = StateStore()
    return store


def record(device: Device, controller: str, status: int | float | None, feedback: bool) -> None:
    """What a reply to ``controller`` teaches about ``device`` (the hook of ``Device._send``)."""
    if controller not in _FIELDS and controller not in MOVES:
        return  # scenes, buttons, the escape hatch's controllers: no state
    store = store_of(device.site)
    reads = controller in _READS_BY_CONTROLLER
    if status is not None and (feedback or reads):
        store.learn(device.guid, controller, status, "feedback" if feedback else "read", _now())
    elif not reads:
        store.unconfirm(device.guid, controller)


_READS_BY_CONTROLLER: Final = frozenset(controller.name for controller in READS.values())
_now = time.monotonic
