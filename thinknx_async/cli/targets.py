"""Which sites a command talks to: an inventory selection, or one site given by flags."""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .._addresses import PlainHttpRefused, check_key, local_target
from ..controllers import Controller
from ..errors import ValidationError
from ..inventory import Fleet, Inventory, InventoryError
from ..retry import RetryPolicy
from ..session import DEFAULT_RATE_LIMIT, InsecureCredentialsWarning, Session
from ..site import Site
from ..throttle import RateLimit

__all__ = [
    "UsageError",
    "declared_controllers",
    "insecure_hint",
    "installed_transports",
    "load_inventory",
    "make_session",
    "open_sites",
    "require_transports",
    "session_options",
]

DEFAULT_INVENTORY = "thinknx.toml"


class UsageError(Exception):
    """The command line asks for something impossible (exit status 2)."""


def _selected(args: argparse.Namespace) -> bool:
    return bool(args.sites or args.tags or args.all_sites)


def _direct(args: argparse.Namespace) -> bool:
    return bool(args.host or args.relay or (args.key and not _selected(args)))


def load_inventory(args: argparse.Namespace) -> Inventory | None:
    """The inventory named by ``--inventory`` / ``$THINKNX_INVENTORY`` / ``./thinknx.toml``."""
    path = args.inventory
    if path is None and Path(DEFAULT_INVENTORY).is_file() and not _direct(args):
        path = DEFAULT_INVENTORY
    if path is None:
        if _selected(args):
            raise UsageError("--site, --tag and --all need an inventory (--inventory FILE)")
        return None
    file = Path(path)
    if file.is_dir():
        raise UsageError(f"{file}: is a directory, not an inventory file")
    if not file.exists():
        raise UsageError(f"{file}: no such inventory file")
    inventory = Inventory.load(file)
    if args.all_sites or not _selected(args):
        return inventory
    return inventory.select(*(args.sites or ()), tags=args.tags or ())


def declared_controllers(argv: Sequence[str]) -> tuple[Controller[Any], ...]:
    """The controllers the inventory of ``argv`` declares, for their verbs, read before the
    command line is parsed; an inventory that cannot be read declares none here (the command
    reports it when it loads the inventory)."""
    path = os.environ.get("THINKNX_INVENTORY")
    for i, arg in enumerate(argv):
        if arg in ("-i", "--inventory") and i + 1 < len(argv):
            path = argv[i + 1]
        elif arg.startswith("--inventory="):
            path = arg.partition("=")[2]
    if path is None:
        path = DEFAULT_INVENTORY
    try:
        return Inventory.load(path).controllers
    except InventoryError:
        return ()


def installed_transports() -> list[str]:
    """The transports this environment can run: httpx always, aiohttp with its extra."""
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        return ["httpx"]
    return ["httpx", "aiohttp"]


def require_transports(flag: str, transports: list[str]) -> None:
    """A :class:`UsageError` naming ``--transport FLAG`` and the extra when one of
    ``transports`` is not installed."""
    for missing in sorted(set(transports) - set(installed_transports())):
        raise UsageError(
            f"--transport {flag} needs the extra: pip install 'thinknx-async[{missing}]'"
        )


def session_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Session`` arguments of the command line's limits, retries, timeout and trust."""
    require_transports(args.transport, [args.transport])
    limit = DEFAULT_RATE_LIMIT
    if args.rate is not None or args.burst is not None:
        limit = RateLimit(
            rate=args.rate if args.rate is not None else DEFAULT_RATE_LIMIT.rate,
            burst=args.burst if args.burst is not None else DEFAULT_RATE_LIMIT.burst,
        )
    return {
        "rate_limit": limit,
        "retry": RetryPolicy(max_attempts=args.attempts),
        "timeout": args.timeout,
        "verify": args.ca_file or True,
        "max_connections": max(1, min(args.concurrency, 100)),
        "transport": args.transport,
    }


def make_session(args: argparse.Namespace) -> Session:
    """A session with the command line's limits, retries, timeout and trust."""
    return Session(**session_options(args))


def _direct_site(args: argparse.Namespace, session: Session) -> Site:
    if args.host:
        target = local_target(args.host, args.port, None, args.username, args.password)
        if not (target.username and target.password):
            raise UsageError(
                "a local site needs --username and --password (or a URL with them: "
                "--host http://USER:PASSWORD@HOST:5051)"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureCredentialsWarning)
            return session.local(
                args.host,
                username=args.username,
                password=args.password,
                auth=args.auth,
                port=args.port,
                name=target.host,
            )
    if not args.key:
        raise UsageError("--relay needs --key KEY (or $THINKNX_KEY)")
    relay, key, insecure = args.relay, args.key, args.insecure
    try:
        check_key(key)
    except ValidationError as exc:
        raise UsageError(f"--key (or $THINKNX_KEY): {exc}") from None
    if relay:
        return insecure_hint(
            lambda: session.on_premise(relay, key, allow_insecure=insecure, name="relay")
        )
    return session.cloud(key, name="cloud")


def insecure_hint(open_site: Callable[[], Site]) -> Site:
    """``open_site()``, its plain-http refusal naming the command's flag, ``--insecure``."""
    try:
        return open_site()
    except PlainHttpRefused as refused:
        raise UsageError(PlainHttpRefused("add --insecure", refused.what).args[0]) from None


def open_sites(
    args: argparse.Namespace, session: Session, inventory: Inventory | None
) -> tuple[list[Site], Fleet | None]:
    """The sites to run on, and the fleet that resolves their aliases (``None`` without one)."""
    if _direct(args):
        if _selected(args):
            raise UsageError("give either --site/--tag/--all or --host/--relay/--key, not both")
        return [_direct_site(args, session)], None
    if inventory is None:
        raise UsageError(
            "no site: give --inventory FILE with --site/--tag/--all, or one site with "
            "--key KEY, --relay URL --key KEY, or --host HOST --username U --password P"
        )
    if len(inventory) > 1 and not _selected(args):
        raise UsageError(
            f"the inventory has {len(inventory)} sites: choose with --site, --tag or --all"
        )
    fleet = inventory.open(session)
    return list(fleet), fleet


def describe(inventory: Inventory) -> list[dict[str, Any]]:
    """The selected sites as rows for ``thinknx sites`` (no secret shown)."""
    rows = []
    for entry in inventory:
        where = entry.host if entry.mode == "local" else entry.url or "cloud"
        rows.append(
            {
                "site": entry.name,
                "mode": entry.mode,
                "where": f"{where}:{entry.port}" if entry.mode == "local" else where,
                "tags": list(entry.tags),
                "aliases": {a.name: f"{a.kind} {a.guid}" for a in entry.aliases.values()},
            }
        )
    return rows
