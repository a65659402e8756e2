"""A closed-loop load: N callers, each sending its next request when the last is answered.

``thinknx bench`` measures with it, and so do the project's benchmarks: one way to count.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["measure", "percentile"]

Call = Callable[[], Awaitable[object]]


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value under which ``fraction`` of the (sorted) values fall (nearest rank); 0.0
    when there are none."""
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def _drive(
    call: Call, concurrency: int, seconds: float, latencies: list[float] | None
) -> int:
    """``concurrency`` callers for ``seconds``; the number of calls that raised."""
    deadline = time.perf_counter() + seconds
    errors = 0

    async def caller() -> None:
        nonlocal errors
        clock = time.perf_counter
        while (started := clock()) < deadline:
            try:
                await call()
            except Exception:
                errors += 1
            if latencies is not None:
                latencies.append(clock() - started)

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return errors


async def measure(call: Call, concurrency: int, seconds: float, warmup: float) -> dict[str, Any]:
    """Warm up (connections opened) for ``warmup`` seconds, then measure for ``seconds``.

    Returns requests, errors, seconds, requests/s, p50 and p99 latency (ms) and this process's
    CPU time per request (microseconds: the client's own cost when the server runs apart).
    """
    await _drive(call, concurrency, warmup, None)
    latencies: list[float] = []
    wall, cpu = time.perf_counter(), time.process_time()
    errors = await _drive(call, concurrency, seconds, latencies)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    latencies.sort()
    count = len(latencies)
    return {
        "requests": count,
        "errors": errors,
        "seconds": wall,
        "rps": count / wall,
        "p50_ms": percentile(latencies, 0.50) * 1e3,
        "p99_ms": percentile(latencies, 0.99) * 1e3,
        "cpu_us": cpu / max(1, count) * 1e6,
    }
