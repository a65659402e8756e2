"""The limiter: the cost of one acquire against aiolimiter's, and achieved against configured rate.

1. Cost: a bucket that never runs dry, acquired in a loop; ``TokenBucket.try_acquire`` (what the
   request path calls first), ``await TokenBucket.acquire()`` and aiolimiter's
   ``async with AsyncLimiter``, interleaved in the same process.
2. Rate: 50 callers ask for tokens as fast as they can for a few seconds; the rate achieved
   over the steady state (after the initial burst), for the library's bucket and aiolimiter.
3. End to end: 50 callers through one site whose simulated server allows 50 requests/s
   (burst 10), with the library set to the same figures: achieved rate and 429s received.

``python -m benchmarks.limiter [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

from aiolimiter import AsyncLimiter

from thinknx_async import RateLimit, Session, TokenBucket

from . import _common as common
from ._clients import Target

N_CALLS = 100_000
RATES = ((10.0, 1), (50.0, 10), (200.0, 20))
CALLERS = 50


async def _cost_try(n: int) -> float:
    bucket = TokenBucket(RateLimit(rate=1e9, burst=1_000_000_000))
    start = time.perf_counter()
    for _ in range(n):
        bucket.try_acquire()
    return (time.perf_counter() - start) / n * 1e6


async def _cost_bucket(n: int) -> float:
    bucket = TokenBucket(RateLimit(rate=1e9, burst=1_000_000_000))
    start = time.perf_counter()
    for _ in range(n):
        await bucket.acquire()
    return (time.perf_counter() - start) / n * 1e6


async def _cost_aiolimiter(n: int) -> float:
    limiter = AsyncLimiter(1e9, 1.0)
    start = time.perf_counter()
    for _ in range(n):
        async with limiter:
            pass
    return (time.perf_counter() - start) / n * 1e6


async def _achieved(kind: str, rate: float, burst: int, seconds: float) -> dict[str, float]:
    """Callers take tokens for ``seconds``; steady rate = tokens after the first burst / time."""
    stamps: list[float] = []
    if kind == "thinknx_async":
        bucket = TokenBucket(RateLimit(rate=rate, burst=burst))

        async def take() -> None:
            await bucket.acquire()

    else:
        limiter = AsyncLimiter(burst, burst / rate)

        async def take() -> None:
            await limiter.acquire()

    start = time.perf_counter()
    deadline = start + seconds

    async def caller() -> None:
        while time.perf_counter() < deadline:
            await take()
            stamps.append(time.perf_counter())

    await asyncio.gather(*(caller() for _ in range(CALLERS)))
    stamps.sort()
    steady = [t for t in stamps if t - start > burst / rate + 0.05]
    span = steady[-1] - steady[0] if len(steady) > 1 else float("nan")
    return {
        "total": len(stamps),
        "overall_rate": len(stamps) / seconds,
        "steady_rate": (len(steady) - 1) / span if span == span and span > 0 else float("nan"),
    }


async def _end_to_end(target: Target, seconds: float) -> dict[str, float]:
    limit = RateLimit(rate=50.0, burst=10)
    async with Session(rate_limit=limit, max_in_flight=CALLERS) as session:
        light = session.on_premise(target.relay_url, target.key, allow_insecure=True).light(
            target.guid
        )
        done = 0
        start = time.perf_counter()
        deadline = start + seconds

        async def caller() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await light.turn_on()
                done += 1

        await asyncio.gather(*(caller() for _ in range(CALLERS)))
        elapsed = time.perf_counter() - start
    return {"requests": done, "rate": done / elapsed}


def run(quick: bool = False) -> dict[str, Any]:
    rounds, seconds = (3, 1.5) if quick else (5, 3.0)
    n = N_CALLS // 4 if quick else N_CALLS
    common.pin_client()
    costs: dict[str, list[float]] = {"try_acquire": [], "acquire": [], "aiolimiter": []}
    for _ in range(rounds):
        costs["try_acquire"].append(asyncio.run(_cost_try(n)))
        costs["acquire"].append(asyncio.run(_cost_bucket(n)))
        costs["aiolimiter"].append(asyncio.run(_cost_aiolimiter(n)))
    achieved: dict[str, dict[str, Any]] = {}
    for rate, burst in RATES:
        runs: dict[str, list[dict[str, float]]] = {"thinknx_async": [], "aiolimiter": []}
        for _ in range(max(1, rounds // 2)):
            for kind in runs:
                runs[kind].append(asyncio.run(_achieved(kind, rate, burst, seconds)))
        achieved[f"{rate:g}/s burst {burst}"] = {
            kind: {
                "steady_rate": common.summary([r["steady_rate"] for r in trials]),
                "overall_rate": common.summary([r["overall_rate"] for r in trials]),
            }
            for kind, trials in runs.items()
        }
    args = ("--sites", "1", "--local-ports", "0", "--devices-per-kind", "1")
    with common.simulator(*args, "--rate", "50", "--burst", "10") as sim:
        target = Target.from_manifest(sim.manifest())
        common.reset_counters(sim.relay_url)
        e2e = asyncio.run(_end_to_end(target, seconds * 2))
        e2e["responses_429"] = common.counters(sim.relay_url)["responses"].get("429", 0)
    data = {
        "rounds": rounds,
        "calls_per_round": n,
        "cost_us": {k: common.summary(v) for k, v in costs.items()},
        "achieved": achieved,
        "end_to_end": e2e,
    }
    text = tables(data)
    print(text)
    common.write_json("limiter", data)
    common.write_table("limiter", text)
    return data


def tables(data: dict[str, Any]) -> str:
    cost = data["cost_us"]
    names = {
        "try_acquire": "thinknx_async TokenBucket.try_acquire()",
        "acquire": "thinknx_async await TokenBucket.acquire()",
        "aiolimiter": "aiolimiter async with AsyncLimiter",
    }
    out = [
        common.table(
            "Cost of one acquire (token always available)",
            ["limiter", "us per acquire"],
            [[names[k], common.show(cost[k], 3)] for k in names],
        )
    ]
    rows = []
    for label, kinds in data["achieved"].items():
        for kind, cell in kinds.items():
            rows.append(
                [
                    label,
                    kind,
                    common.show(cell["steady_rate"], 2),
                    common.show(cell["overall_rate"]),
                ]
            )
    out.append(
        common.table(
            f"Achieved vs configured rate ({CALLERS} callers)",
            ["configured", "limiter", "steady req/s", "overall req/s (incl. first burst)"],
            rows,
        )
    )
    e2e = data["end_to_end"]
    out.append(
        common.table(
            "End to end: server allows 50/s burst 10; Session(rate_limit=RateLimit(50, 10))",
            ["requests", "achieved req/s", "429 replies"],
            [[str(e2e["requests"]), f"{e2e['rate']:.2f}", str(e2e["responses_429"])]],
        )
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.limiter")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    run(parser.parse_args(argv).quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
