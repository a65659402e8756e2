"""Throughput of one session before and after storms of asyncio's own task cancellations.

    python -m benchmarks.healing [--quick]

Before the small pools healed, such storms stranded connections inside httpcore and every call
routed to them waited the whole pool timeout (0.06x of the throughput before, in one run). Each
round measures the same session's throughput on 3,000 calls over 20 relay sites, storms it with
random ``Task.cancel()``, and measures again: the ratio is the figure (one run, same machine).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from typing import Any, Literal

from thinknx_async import RateLimit, RetryPolicy, Session, Site

from . import _common as common

SITES = 20
CALLS = 3000
Transport = Literal["httpx", "aiohttp"]


async def _sweep(sites: list[tuple[Site, dict[str, Any]]], calls: int) -> float:
    """Calls per second for ``calls`` level commands over ``sites``, every one succeeding."""
    started = time.perf_counter()
    await asyncio.gather(*(_one(sites, n) for n in range(calls)))
    return calls / (time.perf_counter() - started)


def _one(sites: list[tuple[Site, dict[str, Any]]], n: int) -> Any:
    site, entry = sites[n % len(sites)]
    return site.light(entry["devices"]["light"][0]).set_level(n % 101)


async def _storm(sites: list[tuple[Site, dict[str, Any]]], rng: random.Random) -> None:
    tasks = [asyncio.create_task(_one(sites, n)) for n in range(CALLS)]
    for _ in range(20):
        await asyncio.sleep(rng.uniform(0.005, 0.05))
        for task in rng.sample(tasks, len(tasks) // 20):
            task.cancel()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _round(
    relay_url: str, manifest: dict[str, Any], transport: Transport, seed: int
) -> dict[str, Any]:
    retry = RetryPolicy(max_attempts=2, backoff=0.01, max_backoff=0.02)
    limit = RateLimit(rate=1000.0, burst=50)
    async with Session(
        rate_limit=limit, retry=retry, max_connections=24, max_in_flight=2, transport=transport
    ) as session:
        sites = [(session.on_premise(relay_url, e["key"], allow_insecure=True), e)
                 for e in manifest["sites"]]  # fmt: skip
        before = await _sweep(sites, CALLS)
        rng = random.Random(seed)
        for _ in range(3):
            await _storm(sites, rng)
        after = await _sweep(sites, CALLS)
        stats = session.pool_stats()
        assert stats is not None
    return {"before": before, "after": after, "ratio": after / before,
            "held": stats.held, "replaced": stats.replaced}  # fmt: skip


def run(quick: bool = False) -> dict[str, Any]:
    """Every round on both transports, interleaved; the table and the JSON."""
    rounds = 2 if quick else 3
    common.pin_client()
    results: dict[Transport, list[dict[str, Any]]] = {"httpx": [], "aiohttp": []}
    args = ("--sites", str(SITES), "--local-ports", "0", "--devices-per-kind", "1",
            "--latency", "0.005-0.03")  # fmt: skip
    with common.simulator(*args) as sim:
        for number in range(rounds):
            for transport, trials in results.items():
                trials.append(asyncio.run(_round(sim.relay_url, sim.manifest(), transport, number)))
    rows = []
    for transport, trials in results.items():
        ratio = common.summary([t["ratio"] for t in trials])
        rows.append([
            transport,
            common.show(common.summary([t["before"] for t in trials])),
            common.show(common.summary([t["after"] for t in trials])),
            common.show(ratio, 2),
            str(sum(t["replaced"] for t in trials)),
            str(max(t["held"] for t in trials)),
        ])  # fmt: skip
    text = common.table(
        "After cancellation storms (3 x 3,000 calls, random Task.cancel), same session",
        [
            "transport",
            "req/s before",
            "req/s after",
            "after / before",
            "pools replaced",
            "held after",
        ],
        rows,
    )
    print(text)
    common.write_table("healing", text)
    data = {"rounds": rounds, "results": results}
    common.write_json("healing", data)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.healing", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    run(parser.parse_args(argv).quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
