"""Watching: 10,000 devices over 200 relay sites, each site limited to 5 requests/s.

One :meth:`Session.watch` keeps every device fresh. The servers are an in-process stand-in
(``httpx.MockTransport``) that answers each read at once and enforces each site's 5/s (burst 5)
the way the simulator does, counting 429s; so the process's CPU time is the client's own:
watch, scheduler, site, bucket, pool, httpx and reply decoding. Every device asks to be read
every second, far more than the budget allows, so the poller runs flat out at its share.

Reported: the staleness of every device (seconds since its state was last learned), sampled
once a second after a warm-up of two full sweeps, as p50 and p99 against the ideal sweep
(devices per site / rate, and the same at the poller's share), the polls per second, the 429s,
the client CPU per poll, and the memory per device (resident memory grown from before the
devices were made to the end of the warm-up: proxies, sites, buckets, schedule and state).

``python -m benchmarks.watch [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from thinknx_async import Device, RateLimit, RetryPolicy, Session
from thinknx_async.simulator.ratelimit import TokenBucket as ServerBucket

from . import _common as common

SITES, DEVICES_PER_SITE, RATE, BURST = 200, 50, 5.0, 5
SHARE = 0.75


def _server() -> tuple[httpx.MockTransport, dict[str, int]]:
    """Every site's stand-in: its own 5/s bucket, an immediate reply to each read."""
    buckets: dict[str, ServerBucket] = {}
    counts = {"requests": 0, "429": 0}

    def handle(request: httpx.Request) -> httpx.Response:
        url = urlsplit(str(request.url))
        key, _, controller = url.path.strip("/").partition("/api/V1/")
        counts["requests"] += 1
        bucket = buckets.get(key)
        if bucket is None:
            bucket = buckets[key] = ServerBucket(RATE, BURST)
        if bucket.acquire() > 0:
            counts["429"] += 1
            return httpx.Response(429, json={"error": "too many requests"})
        guid = parse_qs(url.query)["guid"][0]
        status = 21.5 if controller == "actualtemp" else int(time.monotonic()) % 2
        body = {"namespace": controller, "guid": guid, "status": status, "comm_obj": 1}
        return httpx.Response(200, content=json.dumps(body).encode())

    return httpx.MockTransport(handle), counts


def _rss() -> int:
    """This process's resident memory now, in bytes (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def _percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if values else 0.0


async def trial(seconds: float) -> dict[str, Any]:
    transport, counts = _server()
    client = httpx.AsyncClient(transport=transport)
    limit = RateLimit(rate=RATE, burst=BURST)
    retry = RetryPolicy(max_attempts=1)
    async with client, Session(http_client=client, rate_limit=limit, retry=retry) as session:
        rss0 = _rss()
        devices: list[Device] = []
        for s in range(SITES):
            site = session.on_premise(
                "https://relay.example", f"K{s:05d}xxxxxxxxxxxx", name=f"s{s}"
            )
            for d in range(DEVICES_PER_SITE):
                guid = f"g{s:04d}d{d:03d}xxxxxxxxxxx"
                devices.append(site.light(guid) if d % 2 else site.thermostat(guid))
        sweep = DEVICES_PER_SITE / (RATE * SHARE)
        samples: list[float] = []
        async with session.watch(devices, every=1.0, share=SHARE) as changes:
            drained = asyncio.create_task(_drain(changes))
            await asyncio.sleep(2 * sweep)  # warm-up: every device read, the pace settled
            memory = (_rss() - rss0) / len(devices)
            polls0, cpu0, wall0 = changes.polls, time.process_time(), time.monotonic()
            requests0, rejected0 = counts["requests"], counts["429"]
            while time.monotonic() - wall0 < seconds:
                await asyncio.sleep(1.0)
                now = time.monotonic()
                samples.extend(now - d.state.learned if d.state else now for d in devices)
            polls, cpu = changes.polls - polls0, time.process_time() - cpu0
            wall = time.monotonic() - wall0
            drained.cancel()
        return {
            "devices": len(devices),
            "sites": SITES,
            "rate": RATE,
            "share": SHARE,
            "ideal_full_rate_s": DEVICES_PER_SITE / RATE,
            "ideal_at_share_s": sweep,
            "staleness_p50_s": _percentile(samples, 50),
            "staleness_p99_s": _percentile(samples, 99),
            "staleness_max_s": max(samples),
            "polls_per_s": polls / wall,
            "requests": counts["requests"] - requests0,
            "rate_limited": counts["429"] - rejected0,
            "cpu_per_poll_us": 1e6 * cpu / polls if polls else 0.0,
            "cpu_share": cpu / wall,
            "memory_per_device_bytes": memory,
            "seconds": wall,
        }


async def _drain(changes: Any) -> None:
    async for _ in changes:
        pass


def render(result: dict[str, Any]) -> str:
    headers = ["devices / sites", "ideal sweep (full rate)", "ideal at 75 %", "staleness p50",
               "staleness p99", "polls/s", "429s", "client CPU per poll",
               "memory per device"]  # fmt: skip
    row = [
        f"{result['devices']:,} / {result['sites']}",
        f"{result['ideal_full_rate_s']:.1f} s",
        f"{result['ideal_at_share_s']:.1f} s",
        f"{result['staleness_p50_s']:.1f} s",
        f"{result['staleness_p99_s']:.1f} s",
        f"{result['polls_per_s']:,.0f}",
        f"{result['rate_limited']}",
        f"{result['cpu_per_poll_us']:.0f} µs",
        f"{result['memory_per_device_bytes'] / 1000:.1f} kB",
    ]
    title = f"watch: {SITES} sites at {RATE:g} requests/s each, polls at {SHARE:.0%} of it"
    return common.table(title, headers, [row])


def run(quick: bool) -> dict[str, Any]:
    """Run the benchmark, print its table, write ``results/watch.{json,md}``."""
    result = common.run_loop(lambda: trial(15.0 if quick else 40.0))
    text = render(result)
    print(text)
    common.write_json("watch", {"result": result})
    common.write_table("watch", text)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.watch", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="15 s of measurement, not 40")
    run(parser.parse_args(argv).quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
