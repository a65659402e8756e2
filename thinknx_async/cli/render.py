"""What the command prints: outcome lines, JSON lines, the progress bar and the summary table."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager, suppress
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..fanout import Outcome, Summary
from ..models import CommandResult, KnxResult, ServerStatus

__all__ = ["Ui", "describe_value", "jsonable"]


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (attrs classes as objects, durations in seconds)."""
    if attrs.has(type(value)):
        return {f.name: jsonable(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def describe_value(value: Any) -> str:
    """A short human form of an operation's result."""
    if isinstance(value, CommandResult):
        return "done" if value.status is None else f"done, status {value.status}"
    if isinstance(value, KnxResult):
        return f"sent {value.group} = {value.value}"
    if isinstance(value, ServerStatus):
        clients = f"{value.connected_clients} client" + (
            "" if value.connected_clients == 1 else "s"
        )
        parts = [f"version {value.version}"]
        if value.process_uptime_text:  # since the server software restarted
            parts.append(f"process up {value.process_uptime_text}")
        if value.server_uptime_text:  # since the machine booted
            parts.append(f"server up {value.server_uptime_text}")
        return ", ".join([*parts, clients])
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _error_text(outcome: Outcome[Any]) -> str:
    return f"{outcome.error_type}: {outcome.error}"


class Ui:
    """Results on stdout (human lines or JSON lines); diagnostics, and a progress bar when
    stderr is a terminal, on stderr. The same streams whether or not either is a terminal."""

    def __init__(self, *, json_lines: bool, verbose: bool, progress: bool) -> None:
        self.json = json_lines
        self.verbose = verbose
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.progress_asked = progress
        self.progress_wanted = progress and not json_lines and self.err.is_terminal
        self._progress: Progress | None = None

    def print(self, text: str = "") -> None:
        """A line of human output on stdout (nothing in JSON mode)."""
        if self.json:
            return
        progress = self._progress
        if progress is None or not self.out.is_terminal:
            self.out.print(text)
            return
        progress.stop()  # both on one screen: lift the bar, print, put it back below
        try:
            self.out.print(text)
            self.out.file.flush()
        finally:
            progress.start()

    def error(self, text: str) -> None:
        """A message on stderr."""
        self.err.print(f"[bold red]error:[/] {escape(text)}")

    def note(self, text: str) -> None:
        """A diagnostic line on stderr (not a result: a pipe on stdout never sees it)."""
        self.err.print(escape(text))

    def emit(self, data: Mapping[str, Any]) -> None:
        """One JSON line."""
        sys.stdout.write(json.dumps(jsonable(data), separators=(",", ":")) + "\n")

    @contextmanager
    def progress(self, title: str, total: int) -> Iterator[Any]:
        """A progress bar while a fan-out runs; yields an ``advance()`` callable."""
        if not self.progress_wanted or total < 2:
            yield lambda: None
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn())  # fmt: skip
        with Progress(*columns, console=self.err, transient=True, redirect_stdout=False,
                      redirect_stderr=False) as progress:  # fmt: skip
            task = progress.add_task(escape(title), total=total)
            self._progress = progress
            try:
                yield lambda: progress.advance(task)
            finally:
                self._progress = None

    @asynccontextmanager
    async def timed(self, title: str, seconds: float) -> AsyncIterator[None]:
        """While a step of known length runs: a bar filling with time on a terminal, else one
        line saying what is measured (both on stderr)."""
        if not self.progress_wanted:
            if self.progress_asked:
                self.note(f"{title}: {seconds:g} s")
            yield
            return
        columns = (TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
        with Progress(*columns, console=self.err, transient=True, redirect_stdout=False,
                      redirect_stderr=False) as progress:  # fmt: skip
            task = progress.add_task(escape(title), total=seconds)
            started = time.monotonic()

            async def tick() -> None:
                while True:
                    progress.update(task, completed=min(seconds, time.monotonic() - started))
                    await asyncio.sleep(0.1)

            ticker = asyncio.create_task(tick())
            try:
                yield
            finally:
                ticker.cancel()
                with suppress(asyncio.CancelledError):
                    await ticker

    def outcome(self, outcome: Outcome[Any], *, reads: bool, many: bool) -> None:
        """Report one outcome as it arrives."""
        name = outcome.site.name
        if self.json:
            self.emit(
                {
                    "type": "outcome",
                    "site": name,
                    "ok": outcome.ok,
                    "value": outcome.value,
                    "error": None
                    if outcome.error is None
                    else {"type": outcome.error_type, "message": str(outcome.error)},
                    "attempts": outcome.attempts,
                    "elapsed": round(outcome.elapsed, 6),
                }
            )
        elif outcome.error is not None:
            self.print(f"[red]✗[/] {escape(name)}: {escape(_error_text(outcome))}")
        elif reads or not many or self.verbose:
            self.print(f"[green]✓[/] {escape(name)}: {escape(describe_value(outcome.value))}")

    def summary(self, title: str, summary: Summary, exit_code: int) -> None:
        """The table at the end (or a ``summary`` JSON line)."""
        if self.json:
            self.emit(
                {
                    "type": "summary",
                    "command": title,
                    "sites": summary.total,
                    "succeeded": summary.succeeded,
                    "failed": summary.failed,
                    "errors": dict(summary.errors),
                    "responses_429": summary.rate_limited,
                    "retries": summary.retries,
                    "elapsed": round(summary.elapsed, 3),
                    "exit_code": exit_code,
                }
            )
            return
        self.out.print(summary_table(title, summary))


def summary_table(title: str, summary: Summary) -> Table:
    """Succeeded, failed by error type, 429s seen, retries, elapsed."""
    table = Table(title=escape(title), title_justify="left", show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column(justify="right")
    table.add_row("sites", str(summary.total))
    table.add_row("succeeded", f"[green]{summary.succeeded}[/]")
    table.add_row("failed", f"[red]{summary.failed}[/]" if summary.failed else "0")
    for name, count in summary.errors.items():
        table.add_row(f"  {escape(name)}", str(count))
    table.add_row("429s seen", str(summary.rate_limited))
    table.add_row("retries", str(summary.retries))
    table.add_row("elapsed", f"{summary.elapsed:.2f} s")
    return table
