"""What each verb does to one site: parsed arguments -> an operation for the fan-out."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import attrs

from .._endpoints import Endpoint, check_controller, encode_params
from ..controllers import Controller, DeviceKind, by_kind
from ..devices import PROXIES
from ..inventory import Fleet
from ..site import Site

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


def _controller(args: argparse.Namespace, extra: Iterable[Controller[Any]]) -> Controller[Any]:
    """The controller a device verb sends: its read when no value is given and it has one."""
    controllers = by_kind(args.verb, extra)[args.action]
    if getattr(args, "value", None) is None:
        reads = [c for c in controllers if c.read]
        if reads:
            return reads[0]
    return next(c for c in controllers if not c.read)


def _device_prepare(
    args: argparse.Namespace, resolve: Resolve, controller: Controller[Any]
) -> Prepare:
    kind: DeviceKind = args.verb
    target: str = args.target
    fixed = controller.actions[args.action]
    value: Any = getattr(args, "value", None) if fixed is None else fixed
    fb = bool(getattr(args, "feedback", False))

    def prepare(site: Site) -> Send:
        device = PROXIES[kind](site, resolve(site, target, kind))  # checks the GUID
        if controller.read:
            return lambda: device.read(controller)
        return lambda: device.command(controller, value, feedback=fb)

    return prepare


def _call_prepare(args: argparse.Namespace, resolve: Resolve) -> Prepare:
    params: list[tuple[str, str | None]] = args.params
    endpoint = Endpoint(check_controller(args.controller), idempotent=args.idempotent)

    def prepare(site: Site) -> Send:
        sent = {k: resolve(site, v, None) if k == "guid" and v else v for k, v in params}
        query = encode_params(sent)
        return lambda: site.request(endpoint, query, feedback=args.feedback)

    return prepare


def make_verb(
    args: argparse.Namespace, resolve: Resolve, controllers: Iterable[Controller[Any]] = ()
) -> Verb:
    """The :class:`Verb` that ``args`` (parsed by :func:`~.parser.build_parser` with the same
    declared ``controllers``) ask for.

    Raises :class:`~thinknx_async.ValidationError` for what no site could take (a controller
    name that is not one)."""
    verb: str = args.verb
    if verb == "status":
        return Verb("status", lambda s: s.server_status, reads=True)
    if verb == "call":
        shown = " ".join(k if v is None else f"{k}={v}" for k, v in args.params)
        return Verb(f"call {args.controller} {shown}".rstrip(), _call_prepare(args, resolve), True)
    if verb == "knx":
        (controller,) = by_kind("knx")[args.action]
        address, value = args.group, args.value

        def knx(site: Site) -> Send:
            return lambda: site.knx.send(controller, address, value)

        return Verb(f"knx {args.action} {address} {value}", knx, reads=False)
    value = getattr(args, "value", None)
    title = f"{verb} {args.action} {args.target}" + ("" if value is None else f" {value}")
    controller = _controller(args, controllers)
    return Verb(title, _device_prepare(args, resolve, controller), controller.read)
