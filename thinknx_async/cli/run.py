"""Running a verb over its sites: the fan-out, its progress, its counts and the exit status."""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..fanout import Outcome, Report
from ..session import Session
from ..site import Site
from .exits import FAILED, OK, USAGE
from .render import Ui
from .targets import describe, load_inventory, make_session, open_sites
from .verbs import make_resolver, make_verb

__all__ = ["run_command", "run_on_sites"]


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
    """Fan ``operation`` out over ``sites`` with progress and a line per outcome; the report."""
    many = len(sites) > 1
    with ui.progress(title, len(sites)) as advance:

        def seen(outcome: Outcome[Any]) -> None:
            ui.outcome(outcome, reads=reads, many=many)
            advance()

        return await session.gather(sites, operation, concurrency=concurrency, on_outcome=seen)


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
        verb = make_verb(args, make_resolver(fleet))
        report = await run_on_sites(
            session,
            sites,
            verb.title,
            verb.operation,
            ui=ui,
            reads=verb.reads,
            concurrency=args.concurrency,
        )
    code = OK if report.ok else FAILED
    if len(sites) > 1 or ui.json:
        ui.summary(verb.title, report.summary(), code)
    return code
