"""What the command prints: outcome lines, JSON lines, the progress bar and the summary table."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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
        return f"version {value.version}, up {value.process_uptime_text}, {clients}"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _error_text(outcome: Outcome[Any]) -> str:
    return f"{outcome.error_type}: {outcome.error}"


class Ui:
    """Human output on stdout (a progress bar on stderr when it is a terminal), or JSON lines."""

    def __init__(self, *, json_lines: bool, verbose: bool, progress: bool) -> None:
        self.json = json_lines
        self.verbose = verbose
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.progress_wanted = progress and not json_lines and self.err.is_terminal
        self._progress: Progress | None = None

    def print(self, text: str = "") -> None:
        """A line of human output (nothing in JSON mode)."""
        if not self.json:
            (self._progress.console if self._progress else self.out).print(text)

    def error(self, text: str) -> None:
        """A message on stderr."""
        self.err.print(f"[bold red]error:[/] {escape(text)}")

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
        with Progress(*columns, console=self.err, transient=True) as progress:
            task = progress.add_task(escape(title), total=total)
            self._progress = progress
            try:
                yield lambda: progress.advance(task)
            finally:
                self._progress = None

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
