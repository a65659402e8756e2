"""What every benchmark shares: the simulator process, CPU pinning, statistics, tables, JSON."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from thinknx_async.simulator import SimulatorProcess

RESULTS = Path(__file__).resolve().parent / "results"
T = TypeVar("T")

#: The client runs on this core, the simulator on the other one (on a machine with two or more).
CLIENT_CPU = 0
SERVER_CPU = 1


def two_cores() -> bool:
    """Whether the client and the simulator can each have a core of their own."""
    return (os.cpu_count() or 1) >= 2 and hasattr(os, "sched_setaffinity")


def pin_client() -> None:
    """Keep this process on the client core (the simulator gets the other one)."""
    if two_cores():
        os.sched_setaffinity(0, {CLIENT_CPU})


def simulator(*args: str) -> SimulatorProcess:
    """Start the simulator in its own process, pinned to the server core when possible."""
    cpus = str(SERVER_CPU) if two_cores() else None
    return SimulatorProcess(["--log-level", "error", *args], cpus=cpus, startup_timeout=120.0)


def control(relay_url: str, route: str, method: str = "GET", body: bytes | None = None) -> Any:
    """Call the simulator's control endpoint (``/_sim/...``) and return its JSON."""
    request = urllib.request.Request(f"{relay_url}/_sim/{route}", data=body, method=method)
    if body is not None:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read() or b"null")


def reset_counters(relay_url: str) -> None:
    """Zero the simulator's counters (its state and rate buckets too)."""
    control(relay_url, "reset", "POST", b'{"counters": true, "state": true}')


def counters(relay_url: str) -> dict[str, Any]:
    """The simulator's counters now."""
    result: dict[str, Any] = control(relay_url, "counters")
    return result


def summary(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of the runs of one measurement."""
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "runs": len(values),
    }


def show(stat: dict[str, float], digits: int = 0, scale: float = 1.0) -> str:
    """``median (min-max)`` for a table cell."""
    m, lo, hi = (stat[k] * scale for k in ("median", "min", "max"))
    if stat["runs"] == 1 or lo == hi:
        return f"{m:,.{digits}f}"
    return f"{m:,.{digits}f} ({lo:,.{digits}f}-{hi:,.{digits}f})"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table (it prints well in a terminal and pastes into the docs as is)."""
    widths = [max(len(str(c)) for c in column) for column in zip(headers, *rows, strict=True)]
    lines = [f"### {title}", ""]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        lines.append(
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        )
    return "\n".join(lines) + "\n"


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "-"


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (Linux), else the platform's word for it."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> dict[str, Any]:
    """The machine and the versions a result was measured with."""
    packages = ("httpx", "httpcore", "aiohttp", "anyio", "uvloop", "aiolimiter", "uvicorn")
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "packages": {name: _version(name) for name in ("thinknx-async", *packages)},
        "pinned": two_cores(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def write_json(name: str, data: dict[str, Any]) -> Path:
    """Write ``benchmarks/results/NAME.json`` (with the machine facts) and return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), "argv": sys.argv[1:], **data}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def write_table(name: str, text: str) -> Path:
    """Write the printed tables next to the JSON (``results/NAME.md``) for the docs."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text)
    return path


def run_loop(main: Callable[[], Awaitable[T]], loop: str = "asyncio") -> T:
    """Run ``main()`` on a fresh event loop: ``"asyncio"`` or ``"uvloop"``."""

    async def wrapper() -> T:
        return await main()

    if loop == "uvloop":
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(wrapper())
    with asyncio.Runner() as runner:
        return runner.run(wrapper())


@contextlib.contextmanager
def timed() -> Iterator[dict[str, float]]:
    """Wall and process (CPU) time spent in the block."""
    result: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result["wall"] = time.perf_counter() - wall
        result["cpu"] = time.process_time() - cpu
