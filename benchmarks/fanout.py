"""Fan-out: one command to each of 1,000 and 10,000 sites through one relay, and to 200 local
sites on their own ports.

Each trial runs in a fresh client process (so its peak memory is its own), pinned to the
client core; the simulator runs in its own process on the other core. Every variant sends one
``power?cmd=1`` per site, at most 200 operations at once over at most 100 connections.
Reported: total time, errors, TCP connections the simulator saw opened, and the client's peak
memory growth (peak RSS during the run less RSS just before it).

``python -m benchmarks.fanout [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from . import _common as common

CONCURRENCY = 200
CONNECTIONS = 100
SCENARIOS: dict[str, tuple[str, int]] = {
    "relay, 1,000 sites": ("relay", 1000),
    "relay, 10,000 sites": ("relay", 10000),
    "local, 200 sites on their own ports": ("local", 200),
}
VARIANTS = (
    "thinknx_async (httpx)",
    "thinknx_async (aiohttp)",
    "bare aiohttp",
    "bare httpx, one shared client",
    "bare httpx, one client per site",
)
#: Variants too slow or too heavy to run at this size (10,000 httpx clients, a queue of
#: 10,000 requests in one httpx pool): left out, not failed.
SKIP = {("relay", 10000): {"bare httpx, one client per site", "bare httpx, one shared client"}}
TRIAL_TIMEOUT = 120.0


def _status_kib(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB (``VmRSS`` now, ``VmHWM`` its peak).

    ``VmHWM`` belongs to this program image (unlike ``ru_maxrss``, which a child inherits from
    the parent that forked it).
    """
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Job:
    """One site's request: URL (and headers) for bare clients, what the library needs."""

    def __init__(self, manifest: dict[str, Any], site: dict[str, Any], form: str) -> None:
        self.key: str = site["key"]
        self.guid: str = site["devices"]["light"][0]
        self.relay_url: str = manifest["relay_url"]
        self.headers: dict[str, str] = {"accept": "application/json"}
        self.local_url: str | None = site["local_url"]
        self.username: str = site["username"]
        self.password: str = site["password"]
        query = f"guid={self.guid}&cmd=1"
        if form == "relay":
            self.url = f"{self.relay_url}/{self.key}/api/V1/power?{query}"
        else:
            self.url = f"{self.local_url}/api/V1/power?{query}&auth=basic"
            token = httpx.BasicAuth(self.username, self.password)._auth_header
            self.headers["authorization"] = token


async def _bounded(jobs: list[Job], send: Callable[[Job], Awaitable[object]]) -> int:
    """Run ``send`` for every job, at most CONCURRENCY at once; the number that failed."""
    slots = asyncio.Semaphore(CONCURRENCY)
    errors = 0

    async def one(job: Job) -> None:
        nonlocal errors
        async with slots:
            try:
                await send(job)
            except Exception:
                errors += 1

    await asyncio.gather(*(one(job) for job in jobs))
    return errors


async def _library(jobs: list[Job], form: str, transport: str) -> int:
    from thinknx_async import Session

    async with Session(
        max_connections=CONNECTIONS, transport="aiohttp" if transport == "aiohttp" else "httpx"
    ) as session:
        guids = {}
        for job in jobs:
            if form == "relay":
                site = session.on_premise(job.relay_url, job.key, allow_insecure=True)
            else:
                assert job.local_url is not None
                port = int(job.local_url.rsplit(":", 1)[1])
                site = session.local(
                    "127.0.0.1",
                    port=port,
                    username=job.username,
                    password=job.password,
                    auth="basic",
                )
            guids[site] = job.guid
        report = await session.gather(
            list(guids), lambda site: site.light(guids[site]).turn_on(), concurrency=CONCURRENCY
        )
        return len(report.failed)


async def _bare_aiohttp(jobs: list[Job]) -> int:
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector) as client:

        async def send(job: Job) -> object:
            async with client.get(job.url, headers=job.headers) as reply:
                reply.raise_for_status()
                return json.loads(await reply.read())

        return await _bounded(jobs, send)


async def _httpx_shared(jobs: list[Job]) -> int:
    async with httpx.AsyncClient() as client:

        async def send(job: Job) -> object:
            reply = await client.get(job.url, headers=job.headers)
            reply.raise_for_status()
            return reply.json()

        return await _bounded(jobs, send)


async def _httpx_per_site(jobs: list[Job]) -> int:
    async with contextlib.AsyncExitStack() as stack:
        clients = {
            job.key: await stack.enter_async_context(
                httpx.AsyncClient(limits=httpx.Limits(max_connections=1))
            )
            for job in jobs
        }

        async def send(job: Job) -> object:
            reply = await clients[job.key].get(job.url, headers=job.headers)
            reply.raise_for_status()
            return reply.json()

        return await _bounded(jobs, send)


def worker(variant: str, form: str, sites: int, manifest_path: str) -> dict[str, Any]:
    """One trial in this process: build the jobs, then time the fan-out."""
    common.pin_client()
    manifest = json.loads(Path(manifest_path).read_text())
    chosen = [s for s in manifest["sites"] if form == "relay" or s["local_url"]][:sites]
    jobs = [Job(manifest, site, form) for site in chosen]
    runners: dict[str, Callable[[], Coroutine[Any, Any, int]]] = {
        "thinknx_async (httpx)": lambda: _library(jobs, form, "httpx"),
        "thinknx_async (aiohttp)": lambda: _library(jobs, form, "aiohttp"),
        "bare aiohttp": lambda: _bare_aiohttp(jobs),
        "bare httpx, one shared client": lambda: _httpx_shared(jobs),
        "bare httpx, one client per site": lambda: _httpx_per_site(jobs),
    }
    before = _status_kib("VmRSS")
    wall, cpu = time.perf_counter(), time.process_time()
    errors = asyncio.run(runners[variant]())
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = _status_kib("VmHWM")
    return {
        "sites": len(jobs),
        "seconds": wall,
        "cpu_seconds": cpu,
        "errors": errors,
        "peak_mib": max(0, peak - before) / 1024,
    }


def _trial(variant: str, form: str, sites: int, manifest: str, relay: str) -> dict[str, Any]:
    common.reset_counters(relay)
    command = [sys.executable, "-m", "benchmarks.fanout", "--worker", variant, form]
    command += [str(sites), manifest]
    root = str(Path(__file__).resolve().parents[1])
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=TRIAL_TIMEOUT, cwd=root, check=True
        )
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        result = {"sites": sites, "seconds": TRIAL_TIMEOUT, "errors": sites, "timed_out": True}
    counts = common.counters(relay)
    result["tcp_connections"] = counts["tcp_connections_opened"]
    result["executed"] = counts.get("requests_total", 0)
    return result


def run(quick: bool = False) -> dict[str, Any]:
    """Every scenario, every variant, interleaved rounds; print the tables, write the JSON."""
    rounds = 1 if quick else 3
    args = ("--sites", "10000", "--local-ports", "200", "--devices-per-kind", "1")
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {s: {} for s in SCENARIOS}
    with common.simulator(*args) as sim, tempfile.TemporaryDirectory() as tmp:
        manifest = str(Path(tmp) / "manifest.json")
        Path(manifest).write_text(json.dumps(sim.manifest()))
        for _, scenario, variant in itertools.product(range(rounds), SCENARIOS, VARIANTS):
            form, sites = SCENARIOS[scenario]
            if quick and sites > 1000 and variant.startswith("bare httpx"):
                continue
            if variant in SKIP.get((form, sites), set()):
                continue
            trial = _trial(variant, form, sites, manifest, sim.relay_url)
            raw[scenario].setdefault(variant, []).append(trial)
    results = {
        scenario: {
            variant: {
                key: common.summary([float(t.get(key, float("nan"))) for t in trials])
                for key in ("seconds", "errors", "tcp_connections", "peak_mib", "cpu_seconds")
            }
            for variant, trials in by_variant.items()
        }
        for scenario, by_variant in raw.items()
    }
    data: dict[str, Any] = {
        "rounds": rounds,
        "concurrency": CONCURRENCY,
        "connections": CONNECTIONS,
        "results": results,
        "raw": raw,
    }
    relay = results["relay, 1,000 sites"]
    data["ratios"] = {
        "fast transport time / bare aiohttp time, 1,000 sites through one relay (<= 1.5)": (
            relay["thinknx_async (aiohttp)"]["seconds"]["median"]
            / relay["bare aiohttp"]["seconds"]["median"]
        ),
        "errors, default transport, 1,000 sites (0)": relay["thinknx_async (httpx)"]["errors"][
            "max"
        ],
        "errors, fast transport, 1,000 sites (0)": relay["thinknx_async (aiohttp)"]["errors"][
            "max"
        ],
    }
    text = tables(data)
    print(text)
    common.write_json("fanout", data)
    common.write_table("fanout", text)
    return data


def tables(data: dict[str, Any]) -> str:
    out = []
    for scenario, by_variant in data["results"].items():
        rows = [
            [
                variant,
                common.show(cell["seconds"], 2),
                common.show(cell["errors"]),
                common.show(cell["tcp_connections"]),
                common.show(cell["peak_mib"], 1),
                common.show(cell["cpu_seconds"], 2),
            ]
            for variant, cell in by_variant.items()
        ]
        out.append(
            common.table(
                f"Fan-out: {scenario}",
                ["client", "total s", "errors", "TCP connections", "peak MiB", "client CPU s"],
                rows,
            )
        )
    out.append(
        common.table(
            "Targets",
            ["target", "value"],
            [[k, f"{v:.2f}"] for k, v in data["ratios"].items()],
        )
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fanout")
    parser.add_argument("--quick", action="store_true", help="one round, large httpx runs skipped")
    parser.add_argument("--worker", nargs=4, metavar=("VARIANT", "FORM", "SITES", "MANIFEST"))
    args = parser.parse_args(argv)
    if args.worker:
        variant, form, sites, manifest = args.worker
        print(json.dumps(worker(variant, form, int(sites), manifest)))
        return 0
    run(args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
