"""Running a verb over its sites: the fan-out, its progress, its counts and the exit status."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..errors import ThinknxError, ValidationError
from ..fanout import Outcome, Report
from ..inventory import InventoryError
from ..session import Session
from ..site import Site
from .exits import FAILED, OK, USAGE
from .render import Ui
from .targets import UsageError, describe, load_inventory, make_session, open_sites
from .verbs import Prepare, Send, make_resolver, make_verb

__all__ = ["SORTED_UP_TO", "prepare_all", "run_command", "run_on_sites"]

SORTED_UP_TO = 20
"""Up to this many sites, results print sorted by site name once all are in; a larger fan-out
streams them as they complete."""


async def run_on_sites(
    session: Session,
    sites: Sequence[Site],
    title: str,
    operation: Callable[[Site], Awaitable[Any]],
    *,
    ui: Ui,
    reads: bool,
    concurrency: int,
) -> Report[Any]:
    """Fan ``operation`` out over ``sites`` with progress and a line per outcome; the report.

    Up to :data:`SORTED_UP_TO` sites the lines come sorted by site name at the end, beyond that
    they stream in completion order."""
    many, streamed = len(sites) > 1, len(sites) > SORTED_UP_TO
    with ui.progress(title, len(sites)) as advance:

        def seen(outcome: Outcome[Any]) -> None:
            if streamed:
                ui.outcome(outcome, reads=reads, many=many)
            advance()

        report = await session.gather(sites, operation, concurrency=concurrency, on_outcome=seen)
    if not streamed:
        for outcome in sorted(report.outcomes, key=lambda o: o.site.name or ""):
            ui.outcome(outcome, reads=reads, many=many)
    return report


def prepare_all(sites: Sequence[Site], prepare: Prepare) -> Callable[[Site], Awaitable[Any]]:
    """Check every site's request before any is sent; the operation for the fan-out.

    When no site can take the request (a bad GUID, an alias none of them has) that is a
    :class:`~.targets.UsageError` and nothing is sent; a site that alone cannot take it fails
    alone, with its error, while the others run."""
    ready: dict[Site, Send] = {}
    refused: dict[Site, ThinknxError] = {}
    for site in sites:
        try:
            ready[site] = prepare(site)
        except (ValidationError, InventoryError) as exc:
            refused[site] = exc
    if refused and not ready:
        site, error = next(iter(refused.items()))
        named = len(sites) == 1 or isinstance(error, InventoryError)  # names its site
        where = "" if named else f"{site.name}: "
        others = f" (and {len(refused) - 1} more sites)" if len(refused) > 1 else ""
        raise UsageError(f"{where}{error}{others}")

    async def operation(site: Site) -> Any:
        send = ready.get(site)
        if send is None:
            raise refused[site]
        return await send()

    return operation


async def run_command(args: argparse.Namespace, ui: Ui) -> int:
    """Run a one-site or many-site verb; the exit status."""
    inventory = load_inventory(args)
    if args.verb == "sites":
        if inventory is None:
            ui.error("'thinknx sites' needs an inventory (--inventory FILE)")
            return USAGE
        for row in describe(inventory):
            if ui.json:
                ui.emit({"type": "site", **row})
            else:
                tags = ",".join(row["tags"]) or "-"
                ui.print(f"{row['site']}  {row['mode']}  {row['where']}  tags: {tags}  "
                         f"aliases: {', '.join(row['aliases']) or '-'}")  # fmt: skip
        return OK
    if args.cluster:
        from .cluster import run_verb

        return await run_verb(args, ui, inventory)
    async with make_session(args) as session:
        sites, fleet = open_sites(args, session, inventory)
        verb = make_verb(args, make_resolver(fleet), getattr(args, "controllers", ()))
        report = await run_on_sites(
            session,
            sites,
            verb.title,
            prepare_all(sites, verb.prepare),
            ui=ui,
            reads=verb.reads,
            concurrency=args.concurrency,
        )
    code = OK if report.ok else FAILED
    if len(sites) > 1 or ui.json:
        ui.summary(verb.title, report.summary(), code)
    return code
