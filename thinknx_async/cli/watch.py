"""``thinknx watch TARGET...``: the selected devices' state, printed as it changes.

A TARGET is an inventory alias, a glob over aliases (``'*'``: every alias with a state), or
``KIND:GUID`` (``light:1IzPszHWAEuvzxtXBMkzWQ``), resolved on every selected site. On a
terminal a live table shows each device's state; otherwise one line per change, or one JSON
object per change with ``--json``. Failed polls are diagnostics on stderr (``"type": "error"``
objects with ``--json``). It runs until Ctrl-C (status 130) or ``--duration`` seconds.
"""

from __future__ import annotations

import argparse
import fnmatch
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import anyio
from rich.live import Live
from rich.table import Table

from ..devices import Device
from ..inventory import _PROXIES, DeviceKind, Fleet
from ..site import Site
from ..state import State
from ..watch import DEFAULT_EVERY, Change, WatchError
from .exits import OK
from .render import Ui
from .targets import UsageError, load_inventory, make_session, open_sites
from .values import seconds

__all__ = ["add_arguments", "run_watch", "watched_devices"]

_WATCHABLE = frozenset({"light", "blind", "thermostat", "hvac"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The verb's own arguments (the target and output options are added with every verb)."""
    parser.add_argument("targets", nargs="+", metavar="TARGET",
                        help="alias, glob over aliases ('*'), or KIND:GUID")  # fmt: skip
    every = f"seconds between reads of a device (default {DEFAULT_EVERY:g})"
    parser.add_argument("--every", type=seconds, default=DEFAULT_EVERY, metavar="S", help=every)
    parser.add_argument("--duration", type=seconds, default=None, metavar="S",
                        help="stop after S seconds (default: until Ctrl-C)")  # fmt: skip


def _on_site(site: Site, fleet: Fleet | None, target: str) -> list[tuple[str, Device]]:
    kind, sep, guid = target.partition(":")
    if sep:
        if kind not in _WATCHABLE:
            raise UsageError(f"{target!r}: {kind!r} has no state to watch (kinds: "
                             f"{', '.join(sorted(_WATCHABLE))})")  # fmt: skip
        return [(guid, _PROXIES[cast(DeviceKind, kind)](site, guid))]
    if fleet is None:
        raise UsageError(f"{target!r}: without an inventory, name devices as KIND:GUID")
    aliases = fleet.entry(site).aliases
    if any(c in target for c in "*?["):
        names = [n for n in sorted(aliases) if fnmatch.fnmatchcase(n, target)]
        return [(n, fleet.device(site, n)) for n in names if aliases[n].kind in _WATCHABLE]
    if target not in aliases:
        return []  # another selected site may have it
    if aliases[target].kind not in _WATCHABLE:
        raise UsageError(f"alias {target!r} is a {aliases[target].kind}: it has no state")
    return [(target, fleet.device(site, target))]


def watched_devices(
    sites: Sequence[Site], fleet: Fleet | None, targets: Sequence[str]
) -> dict[Device, str]:
    """Every device the targets name on the sites, with the name to show it by."""
    devices: dict[Device, str] = {}
    for site in sites:
        for target in targets:
            for name, device in _on_site(site, fleet, target):
                devices.setdefault(device, name)
    if not devices:
        raise UsageError(f"no device to watch: {' '.join(targets)} names none on the sites")
    return devices


def describe_state(state: State | None) -> str:
    """A device's known state in a few words: ``on``, ``height 40``, ``21.5 °C``..."""
    if state is None:
        return "?"
    parts = []
    for field, value in state.values.items():
        if field == "on":
            parts.append("on" if value else "off")
        elif field == "temperature":
            parts.append(f"{value:g} °C")
        elif field == "setpoint":
            parts.append(f"set {value:g} °C")
        else:
            parts.append(f"{field} {value}")
    text = ", ".join(parts)
    return text if state.confirmed else f"{text} (unconfirmed)"


def _kind(device: Device) -> str:
    return type(device).__name__.lower()


class _Table:
    """The live table: one row per device, its state and when it last changed."""

    def __init__(self, devices: dict[Device, str]) -> None:
        self.devices = devices
        self.changed: dict[Device, datetime] = {}
        self.errors: dict[Device, str] = {}

    def render(self) -> Table:
        table = Table(box=None, pad_edge=False)
        for column in ("site", "device", "kind", "state", "changed", "last error"):
            table.add_column(column)
        for device, name in self.devices.items():
            when = self.changed.get(device)
            table.add_row(device.site.name, name, _kind(device), describe_state(device.state),
                          "" if when is None else when.astimezone().strftime("%H:%M:%S"),
                          self.errors.get(device, ""))  # fmt: skip
        return table


def _record(device: Device, name: str, event: Change | WatchError) -> dict[str, Any]:
    base = {"site": device.site.name, "device": name, "guid": device.guid, "kind": _kind(device)}
    if isinstance(event, WatchError):
        return {"type": "error", **base, "error": type(event.error).__name__,
                "message": str(event.error), "when": event.when}  # fmt: skip
    old = None if event.old is None else event.old.as_dict()
    return {"type": "change", **base, "old": old, "new": event.new.as_dict(),
            "confirmed": event.new.confirmed, "source": event.new.source,
            "when": event.when}  # fmt: skip


async def run_watch(args: argparse.Namespace, ui: Ui) -> int:
    """Watch until Ctrl-C or ``--duration``; the exit status."""
    inventory = load_inventory(args)
    async with make_session(args) as session:
        sites, fleet = open_sites(args, session, inventory)
        devices = watched_devices(sites, fleet, args.targets)
        live = not ui.json and ui.out.is_terminal
        table = _Table(devices)
        with anyio.move_on_after(args.duration if args.duration is not None else float("inf")):
            async with session.watch(list(devices), every=args.every) as changes:
                if live:
                    with Live(table.render(), console=ui.out, auto_refresh=False) as screen:
                        async for event in changes:
                            if isinstance(event, WatchError):
                                table.errors[event.device] = type(event.error).__name__
                            else:
                                table.changed[event.device] = event.when
                                table.errors.pop(event.device, None)
                            screen.update(table.render(), refresh=True)
                    return OK
                async for event in changes:
                    name = devices[event.device]
                    if ui.json:
                        ui.emit(_record(event.device, name, event))
                    elif isinstance(event, WatchError):
                        ui.note(f"{event.device.site.name} {name}: {type(event.error).__name__}: "
                                f"{event.error}")  # fmt: skip
                    else:
                        ui.print(f"{event.when.astimezone():%H:%M:%S} {event.device.site.name} "
                                 f"{name}: {describe_state(event.old)} -> "
                                 f"{describe_state(event.new)}")  # fmt: skip
                        ui.out.file.flush()
    return OK
