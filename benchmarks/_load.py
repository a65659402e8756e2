"""A closed-loop load generator: N callers, each sending its next request when the last is done."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from ._clients import Call


def percentile(sorted_values: list[float], fraction: float) -> float:
    """The value under which ``fraction`` of the (sorted) values fall (nearest rank)."""
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def _drive(
    call: Call, concurrency: int, seconds: float, latencies: list[float] | None
) -> int:
    deadline = time.perf_counter() + seconds
    errors = 0

    async def caller() -> None:
        nonlocal errors
        clock = time.perf_counter
        while True:
            started = clock()
            if started >= deadline:
                return
            try:
                await call()
            except Exception:
                errors += 1
            if latencies is not None:
                latencies.append(clock() - started)

    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return errors


async def measure(
    client: Callable[[], AbstractAsyncContextManager[Call]],
    concurrency: int,
    seconds: float,
    warmup: float,
) -> dict[str, Any]:
    """Open the client, warm it up (connections opened), then measure for ``seconds``.

    Returns requests/s, p50 and p99 latency (ms), client CPU per request (microseconds of
    this process's CPU time, which excludes the simulator) and the error count.
    """
    async with client() as call:
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
