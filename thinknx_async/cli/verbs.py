"""What each verb does to one site: parsed arguments -> an operation for the fan-out."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from ..devices import Blind, Button, Hvac, Light, Scene, Thermostat
from ..inventory import DeviceKind, Fleet
from ..site import Site
from .parser import READ_ACTIONS

__all__ = ["Resolve", "Verb", "make_resolver", "make_verb"]

#: (site, alias or GUID, kind or None) -> the GUID to send.
Resolve = Callable[[Site, str, DeviceKind | None], str]
Operation = Callable[[Site], Awaitable[Any]]


@attrs.frozen
class Verb:
    """A verb ready to run: its title, the per-site operation, and whether it reads a value."""

    title: str
    operation: Operation
    reads: bool


def make_resolver(fleet: Fleet | None) -> Resolve:
    """Aliases resolve per site through the fleet; without an inventory a target is a GUID."""

    def resolve(site: Site, target: str, kind: DeviceKind | None) -> str:
        if fleet is None:
            return target
        if kind is None:
            alias = fleet.entry(site).aliases.get(target)
            return target if alias is None else alias.guid
        return fleet.guid(site, target, kind)

    return resolve


def _device_operation(args: argparse.Namespace, resolve: Resolve) -> Operation:
    kind: DeviceKind = args.verb
    action: str = args.action
    target: str = args.target
    value: Any = getattr(args, "value", None)
    fb = bool(getattr(args, "feedback", False))

    def guid(site: Site) -> str:
        return resolve(site, target, kind)

    table: dict[tuple[str, str], Operation] = {
        ("light", "on"): lambda s: Light(s, guid(s)).turn_on(feedback=fb),
        ("light", "off"): lambda s: Light(s, guid(s)).turn_off(feedback=fb),
        ("light", "status"): lambda s: Light(s, guid(s)).is_on(),
        ("light", "level"): lambda s: Light(s, guid(s)).set_level(value, feedback=fb),
        ("blind", "up"): lambda s: Blind(s, guid(s)).up(),
        ("blind", "down"): lambda s: Blind(s, guid(s)).down(),
        ("blind", "stop"): lambda s: Blind(s, guid(s)).stop(),
        ("blind", "angle"): lambda s: Blind(s, guid(s)).set_angle(value, feedback=fb),
        ("thermostat", "temperature"): lambda s: Thermostat(s, guid(s)).temperature(),
        ("thermostat", "setpoint"): lambda s: Thermostat(s, guid(s)).set_setpoint(
            value, feedback=fb
        ),
        ("hvac", "on"): lambda s: Hvac(s, guid(s)).turn_on(feedback=fb),
        ("hvac", "off"): lambda s: Hvac(s, guid(s)).turn_off(feedback=fb),
        ("scene", "launch"): lambda s: Scene(s, guid(s)).launch(),
        ("scene", "stop"): lambda s: Scene(s, guid(s)).stop(),
        ("button", "trigger"): lambda s: Button(s, guid(s)).trigger(),
    }
    if (kind, action) == ("blind", "height"):
        if value is None:
            return lambda s: Blind(s, guid(s)).height()
        return lambda s: Blind(s, guid(s)).set_height(value, feedback=fb)
    return table[kind, action]


def _call_operation(args: argparse.Namespace, resolve: Resolve) -> Operation:
    params: list[tuple[str, str | None]] = args.params
    controller: str = args.controller

    async def call(site: Site) -> dict[str, Any]:
        sent = {k: resolve(site, v, None) if k == "guid" and v else v for k, v in params}
        return await site.call(controller, sent, feedback=args.feedback, idempotent=args.idempotent)

    return call


def make_verb(args: argparse.Namespace, resolve: Resolve) -> Verb:
    """The :class:`Verb` that ``args`` (parsed by :func:`~.parser.build_parser`) ask for."""
    verb: str = args.verb
    if verb == "status":
        return Verb("status", lambda s: s.server_status(), reads=True)
    if verb == "call":
        shown = " ".join(k if v is None else f"{k}={v}" for k, v in args.params)
        return Verb(
            f"call {args.controller} {shown}".rstrip(), _call_operation(args, resolve), True
        )
    if verb == "knx":
        method = {"send-bit": "send_bit", "send-byte": "send_byte", "send-float": "send_float"}
        name, address, value = method[args.action], args.group, args.value

        async def send(site: Site) -> Any:
            return await getattr(site.knx, name)(address, value)

        return Verb(f"knx {args.action} {address} {value}", send, reads=False)
    value = getattr(args, "value", None)
    title = f"{verb} {args.action} {args.target}" + ("" if value is None else f" {value}")
    reads = (verb, args.action) in READ_ACTIONS or (verb, args.action, value) == (
        "blind",
        "height",
        None,
    )
    return Verb(title, _device_operation(args, resolve), reads)
