"""What each verb does to one site: parsed arguments -> an operation for the fan-out."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from typing import Any

import attrs

from .._endpoints import Endpoint, check_controller, encode_params
from ..inventory import _PROXIES, DeviceKind, Fleet
from ..site import Site
from .parser import READ_ACTIONS

__all__ = ["Prepare", "Resolve", "Send", "Verb", "make_resolver", "make_verb"]

#: (site, alias or GUID, kind or None) -> the GUID to send.
Resolve = Callable[[Site, str, DeviceKind | None], str]
#: One site's request, checked and ready: calling it sends.
Send = Callable[[], Awaitable[Any]]
#: Everything checked for one site before anything is sent (alias, GUID, controller,
#: parameters): raises :class:`~thinknx_async.ValidationError` or ``InventoryError``.
Prepare = Callable[[Site], Send]


@attrs.frozen
class Verb:
    """A verb ready to run: its title, the per-site preparation, and whether it reads a
    value."""

    title: str
    prepare: Prepare
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


def _device_prepare(args: argparse.Namespace, resolve: Resolve) -> Prepare:
    kind: DeviceKind = args.verb
    action: str = args.action
    target: str = args.target
    value: Any = getattr(args, "value", None)
    fb = bool(getattr(args, "feedback", False))
    table: dict[tuple[str, str], Callable[[Any], Awaitable[Any]]] = {
        ("light", "on"): lambda d: d.turn_on(feedback=fb),
        ("light", "off"): lambda d: d.turn_off(feedback=fb),
        ("light", "status"): lambda d: d.is_on(),
        ("light", "level"): lambda d: d.set_level(value, feedback=fb),
        ("blind", "up"): lambda d: d.up(),
        ("blind", "down"): lambda d: d.down(),
        ("blind", "stop"): lambda d: d.stop(),
        ("blind", "height"): lambda d: (
            d.height() if value is None else d.set_height(value, feedback=fb)
        ),
        ("blind", "angle"): lambda d: d.set_angle(value, feedback=fb),
        ("thermostat", "temperature"): lambda d: d.temperature(),
        ("thermostat", "setpoint"): lambda d: d.set_setpoint(value, feedback=fb),
        ("hvac", "on"): lambda d: d.turn_on(feedback=fb),
        ("hvac", "off"): lambda d: d.turn_off(feedback=fb),
        ("scene", "launch"): lambda d: d.launch(),
        ("scene", "stop"): lambda d: d.stop(),
        ("button", "trigger"): lambda d: d.trigger(),
    }
    method = table[kind, action]

    def prepare(site: Site) -> Send:
        device = _PROXIES[kind](site, resolve(site, target, kind))  # checks the GUID
        return lambda: method(device)

    return prepare


def _call_prepare(args: argparse.Namespace, resolve: Resolve) -> Prepare:
    params: list[tuple[str, str | None]] = args.params
    endpoint = Endpoint(check_controller(args.controller), idempotent=args.idempotent)

    def prepare(site: Site) -> Send:
        sent = {k: resolve(site, v, None) if k == "guid" and v else v for k, v in params}
        query = encode_params(sent)
        return lambda: site.request(endpoint, query, feedback=args.feedback)

    return prepare


def make_verb(args: argparse.Namespace, resolve: Resolve) -> Verb:
    """The :class:`Verb` that ``args`` (parsed by :func:`~.parser.build_parser`) ask for.

    Raises :class:`~thinknx_async.ValidationError` for what no site could take (a controller
    name that is not one)."""
    verb: str = args.verb
    if verb == "status":
        return Verb("status", lambda s: s.server_status, reads=True)
    if verb == "call":
        shown = " ".join(k if v is None else f"{k}={v}" for k, v in args.params)
        return Verb(f"call {args.controller} {shown}".rstrip(), _call_prepare(args, resolve), True)
    if verb == "knx":
        method = {"send-bit": "send_bit", "send-byte": "send_byte", "send-float": "send_float"}
        name, address, value = method[args.action], args.group, args.value

        def knx(site: Site) -> Send:
            return lambda: getattr(site.knx, name)(address, value)

        return Verb(f"knx {args.action} {address} {value}", knx, reads=False)
    value = getattr(args, "value", None)
    title = f"{verb} {args.action} {args.target}" + ("" if value is None else f" {value}")
    reads = (verb, args.action) in READ_ACTIONS or (verb, args.action, value) == (
        "blind",
        "height",
        None,
    )
    return Verb(title, _device_prepare(args, resolve), reads)
