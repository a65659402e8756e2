"""Distributed: one process against ``local:2`` (a LocalCluster of 2 worker processes) for a
20,000-site status sweep through one relay, and ``thinknx bench`` against ``thinknx bench
--cluster local:2``.

The simulator runs in its own process; nothing is pinned (the two workers, the driver and the
simulator share the machine's cores as the OS sees fit). Every sweep sends one
``system/serverStatus`` per site, unthrottled, 200 in flight (split between the workers).
Reported: the sweep's wall time (median of the rounds), the cluster's fixed cost (starting it,
and a 100-site fan-out on it against the same in one process), and the speed-up.

``python -m benchmarks.distributed [--quick]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any

from thinknx_async import Inventory, RetryPolicy, Session, Site
from thinknx_async.distributed import DaskFleet

from . import _common as common

SITES = 20_000
CONCURRENCY = 200
TRANSPORT = "httpx"
OPTIONS: dict[str, Any] = {
    "rate_limit": None,
    "retry": RetryPolicy(max_attempts=1),
    "transport": TRANSPORT,
    "max_connections": CONCURRENCY,
}


async def status(site: Site) -> str:
    """The read every site gets."""
    return (await site.server_status()).version


def _inventory(manifest: dict[str, Any], count: int) -> Inventory:
    sites = {s["name"]: {"key": s["key"]} for s in manifest["sites"][:count]}
    defaults = {"mode": "relay", "url": manifest["relay_url"], "allow_insecure": True}
    return Inventory.from_dict({"defaults": defaults, "sites": sites})


async def _one_process(inventory: Inventory) -> dict[str, float]:
    async with Session(**OPTIONS) as session:
        fleet = inventory.open(session)
        started = time.perf_counter()
        report = await session.gather(fleet, status, concurrency=CONCURRENCY)
    return {"seconds": time.perf_counter() - started, "errors": len(report.failed)}


async def _cluster(inventory: Inventory, small: Inventory) -> dict[str, float]:
    started = time.perf_counter()
    async with DaskFleet("local:2", session_options=OPTIONS) as fleet:
        start_cost = time.perf_counter() - started
        begun = time.perf_counter()
        await fleet.gather(small, status, concurrency=CONCURRENCY, idempotent=True)
        small_seconds = time.perf_counter() - begun
        begun = time.perf_counter()
        report = await fleet.gather(inventory, status, concurrency=CONCURRENCY, idempotent=True)
        seconds = time.perf_counter() - begun
    return {
        "seconds": seconds,
        "errors": len(report.failed),
        "start_seconds": start_cost,
        "small_seconds": small_seconds,
    }


def _bench(cluster: bool, seconds: float) -> dict[str, Any]:
    argv = [sys.executable, "-m", "thinknx_async.cli", "bench", "--transport", TRANSPORT,
            "--concurrencies", "64", "--seconds", str(seconds), "--json"]  # fmt: skip
    if cluster:
        argv += ["--cluster", "local:2"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300).stdout
    result: dict[str, Any] = json.loads(out)["results"][0]
    return result


def run(quick: bool = False) -> dict[str, Any]:
    """The sweeps and the bench runs; print the table, write the JSON."""
    rounds = 1 if quick else 3
    raw: dict[str, list[dict[str, Any]]] = {"one": [], "cluster": [], "small": []}
    with common.simulator("--sites", str(SITES), "--local-ports", "0",
                          "--devices-per-kind", "1") as sim:  # fmt: skip
        manifest = sim.manifest()
        inventory, small = _inventory(manifest, SITES), _inventory(manifest, 100)
        for _ in range(rounds):
            raw["one"].append(common.run_loop(lambda: _one_process(inventory)))
            raw["small"].append(common.run_loop(lambda: _one_process(small)))
            raw["cluster"].append(common.run_loop(lambda: _cluster(inventory, small)))
    bench_seconds = 1.0 if quick else 3.0
    bench = {"one": _bench(False, bench_seconds), "cluster": _bench(True, bench_seconds)}
    one = common.summary([t["seconds"] for t in raw["one"]])
    two = common.summary([t["seconds"] for t in raw["cluster"]])
    start = common.summary([t["start_seconds"] for t in raw["cluster"]])
    small_one = common.summary([t["seconds"] for t in raw["small"]])
    small_two = common.summary([t["small_seconds"] for t in raw["cluster"]])
    errors = sum(t["errors"] for key in ("one", "cluster") for t in raw[key])
    rows = [
        ["20,000-site sweep, 1 process", common.show(one, 2) + " s",
         f"{SITES / one['median']:,.0f} sites/s", "1.00x"],
        ["20,000-site sweep, local:2", common.show(two, 2) + " s",
         f"{SITES / two['median']:,.0f} sites/s", f"{one['median'] / two['median']:.2f}x"],
        ["starting local:2 (fixed cost)", common.show(start, 2) + " s", "", ""],
        ["100-site fan-out, 1 process", common.show(small_one, 3) + " s", "", ""],
        ["100-site fan-out, local:2", common.show(small_two, 3) + " s", "", ""],
        ["thinknx bench, 64 in flight", f"{bench['one']['p50_ms']:.2f} ms p50",
         f"{bench['one']['rps']:,.0f} req/s", "1.00x"],
        ["thinknx bench --cluster local:2", f"{bench['cluster']['p50_ms']:.2f} ms p50",
         f"{bench['cluster']['rps']:,.0f} req/s",
         f"{bench['cluster']['rps'] / bench['one']['rps']:.2f}x"],
    ]  # fmt: skip
    title = f"{TRANSPORT} transport, {rounds} round(s), {errors} errors in the sweeps"
    text = common.table(title, ["run", "time", "throughput", "speed-up"], rows)
    print(text)
    data = {"rounds": rounds, "sites": SITES, "concurrency": CONCURRENCY, "raw": raw,
            "bench": bench}  # fmt: skip
    common.write_json("distributed", data)
    common.write_table("distributed", text)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.distributed", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one round, shorter bench runs")
    run(parser.parse_args(argv).quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
