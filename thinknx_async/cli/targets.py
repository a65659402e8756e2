"""Which sites a command talks to: an inventory selection, or one site given by flags."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

from ..inventory import Fleet, Inventory
from ..retry import RetryPolicy
from ..session import DEFAULT_RATE_LIMIT, InsecureCredentialsWarning, Session
from ..site import Site
from ..throttle import RateLimit

__all__ = ["UsageError", "load_inventory", "make_session", "open_sites", "session_options"]

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
    inventory = Inventory.load(path)
    if args.all_sites or not _selected(args):
        return inventory
    return inventory.select(*(args.sites or ()), tags=args.tags or ())


def session_options(args: argparse.Namespace) -> dict[str, Any]:
    """The ``Session`` arguments of the command line's limits, retries, timeout and trust."""
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
        if not (args.username and args.password):
            raise UsageError("a local site needs --username and --password")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureCredentialsWarning)
            return session.local(
                args.host,
                username=args.username,
                password=args.password,
                auth=args.auth,
                port=args.port,
                name=args.host,
            )
    if not args.key:
        raise UsageError("--relay needs --key KEY (or $THINKNX_KEY)")
    if args.relay:
        return session.on_premise(args.relay, args.key, allow_insecure=args.insecure, name="relay")
    return session.cloud(args.key, name="cloud")


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
