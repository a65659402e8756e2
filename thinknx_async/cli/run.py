"""Running a verb over its sites: the fan-out, its progress, its counts and the exit status."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable, Sequence
from contextvars import ContextVar
from typing import Any

import attrs

from ..errors import RateLimitedError
from ..fanout import Outcome, Report
from ..session import Session
from ..site import Site
from .exits import FAILED, OK
from .render import Ui
from .targets import describe, load_inventory, make_session, open_sites
from .verbs import make_resolver, make_verb

__all__ = ["Counts", "RetryCounter", "run_command", "run_on_sites"]


@attrs.define
class Counts:
    """One site's retries, and the 429 replies among the attempts that were retried."""

    retries: int = 0
    rate_limited: int = 0


_current: ContextVar[Counts | None] = ContextVar("thinknx_cli_counts", default=None)


class RetryCounter(logging.Handler):
    """Counts each operation's retries and 429s from the library's retry log.

    The retry policy logs one DEBUG record on the ``thinknx_async`` logger per failed attempt
    it retries. Logging runs inside the request's task, so a context variable set around each
    operation says whose attempt it was: exact retries per site, whatever path the request
    took. Use it as a context manager: it raises the logger to DEBUG only while installed.
    """

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.rate_limited = 0
        self._logger = logging.getLogger("thinknx_async")
        self._level = self._logger.level

    def __enter__(self) -> RetryCounter:
        self._logger.addHandler(self)
        if not self._logger.isEnabledFor(logging.DEBUG):
            self._logger.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self._logger.removeHandler(self)
        self._logger.setLevel(self._level)

    def emit(self, record: logging.LogRecord) -> None:
        """Count a "retrying" record against the operation that logged it."""
        counts = _current.get()
        message = record.getMessage()
        if counts is None or "retrying in" not in message:
            return
        counts.retries += 1
        args = record.args if isinstance(record.args, tuple) else ()
        if any(isinstance(a, RateLimitedError) for a in args) or "RateLimitedError" in message:
            counts.rate_limited += 1
            self.rate_limited += 1

    def wrap(
        self, operation: Callable[[Site], Awaitable[Any]], counts: dict[Site, Counts]
    ) -> Callable[[Site], Awaitable[Any]]:
        """``operation`` with its retries counted into ``counts[site]``."""

        async def counted(site: Site) -> Any:
            token = _current.set(counts.setdefault(site, Counts()))
            try:
                return await operation(site)
            finally:
                _current.reset(token)

        return counted


def _exact(outcome: Outcome[Any], counts: dict[Site, Counts]) -> Outcome[Any]:
    """The outcome with its attempts counted (a success may have needed retries)."""
    seen = counts.get(outcome.site)
    if seen is None or outcome.error is not None:
        return outcome
    return attrs.evolve(outcome, attempts=seen.retries + 1)


def _count_429(report: Report[Any], counts: dict[Site, Counts]) -> int:
    retried = sum(c.rate_limited for c in counts.values())
    return retried + sum(isinstance(o.error, RateLimitedError) for o in report.outcomes)


async def run_on_sites(
    session: Session,
    counter: RetryCounter,
    sites: Sequence[Site],
    title: str,
    operation: Callable[[Site], Awaitable[Any]],
    *,
    ui: Ui,
    reads: bool,
    concurrency: int,
) -> tuple[Report[Any], int]:
    """Fan ``operation`` out over ``sites`` with progress and a line per outcome; print the
    summary. Returns the report (attempts made exact) and the 429 replies seen."""
    counts: dict[Site, Counts] = {}
    many = len(sites) > 1
    with ui.progress(title, len(sites)) as advance:

        def seen(outcome: Outcome[Any]) -> None:
            ui.outcome(_exact(outcome, counts), reads=reads, many=many)
            advance()

        report = await session.gather(
            sites, counter.wrap(operation, counts), concurrency=concurrency, on_outcome=seen
        )
    report = Report(tuple(_exact(o, counts) for o in report.outcomes), report.elapsed)
    return report, _count_429(report, counts)


async def run_command(args: argparse.Namespace, ui: Ui) -> int:
    """Run a one-site or many-site verb; the exit status."""
    inventory = load_inventory(args)
    if args.verb == "sites":
        if inventory is None:
            ui.error("'thinknx sites' needs an inventory (--inventory FILE)")
            return 2
        for row in describe(inventory):
            if ui.json:
                ui.emit({"type": "site", **row})
            else:
                tags = ",".join(row["tags"]) or "-"
                ui.print(f"{row['site']}  {row['mode']}  {row['where']}  tags: {tags}  "
                         f"aliases: {', '.join(row['aliases']) or '-'}")  # fmt: skip
        return OK
    async with make_session(args) as session:
        with RetryCounter() as counter:
            sites, fleet = open_sites(args, session, inventory)
            verb = make_verb(args, make_resolver(fleet))
            report, rate_limited = await run_on_sites(
                session,
                counter,
                sites,
                verb.title,
                verb.operation,
                ui=ui,
                reads=verb.reads,
                concurrency=args.concurrency,
            )
    code = OK if report.ok else FAILED
    if len(sites) > 1 or ui.json:
        ui.summary(verb.title, report.summary(), rate_limited, code)
    return code
