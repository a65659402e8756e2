"""Soak run: tens of thousands of commands over hundreds of simulated sites, with faults on.

    python -m benchmarks.soak            # the full run (about 40 000 commands, 300 sites)
    python -m benchmarks.soak --quick    # a short run (about 3 000 commands, 60 sites)

The simulator runs as a separate process on 127.0.0.1 (its counters read over its control
endpoint), so the client's memory and file descriptors are measured alone. Every command's
outcome is recorded and then checked against what the simulator executed; see
``docs/reliability.md`` for the accounting. The run exits 1 when a command was lost or doubled,
a call crashed with an untyped error, or file descriptors were left open.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import anyio

from thinknx_async import RateLimit, RetryPolicy, Session, Site

from ._ledger import KNX_CONTROLLERS, Figures, Key, Ledger, may_have_run

__all__ = ["KNX_CONTROLLERS", "Figures", "Ledger", "Workload", "main", "may_have_run", "run_round"]

# The run ---------------------------------------------------------------------------------------


@dataclass
class Config:
    """The shape of one soak run."""

    sites: int
    commands: int
    rounds: int
    concurrency: int
    seed: int = 1
    faults: dict[str, Any] = field(default_factory=dict)
    timeout: float = 1.0
    transport: Literal["httpx", "aiohttp"] = "httpx"
    storm_seconds: float = 1.0
    down_seconds: float = 1.5


FULL = Config(sites=300, commands=40_000, rounds=8, concurrency=400)
QUICK = Config(sites=60, commands=3_000, rounds=3, concurrency=200)
#: Faults on for the whole run; one 429 storm and one outage are added in the middle rounds.
FAULTS: dict[str, Any] = {
    "latency": 0.0,
    "latency_max": 0.01,
    "spike_rate": 0.01,
    "spike_seconds": 1.5,  # longer than the client's read timeout: the reply is lost
    "error_before_rate": 0.02,
    "error_after_rate": 0.02,
    "drop_before_rate": 0.01,
    "drop_after_rate": 0.01,
    "slow_rate": 0.01,
    "slow_seconds": 0.2,
    "gateway_rate": 0.01,  # a proxy's HTML 502/503/504 page instead of the server's reply
}


def rss_kib() -> int:
    """Resident memory of this process (KiB), from /proc."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def open_fds() -> int:
    """File descriptors open in this process."""
    return len(os.listdir("/proc/self/fd"))


class Control:
    """The simulator's control endpoint (counters, faults), over plain HTTP on 127.0.0.1."""

    def __init__(self, relay_url: str) -> None:
        self.base = f"{relay_url}/_sim"

    def _send(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(  # our own simulator, on 127.0.0.1
            f"{self.base}/{path}", data=data, method=method
        )
        request.add_header("content-type", "application/json")
        with urllib.request.urlopen(request, timeout=10) as reply:
            return json.loads(reply.read() or b"null")

    def counters(self) -> dict[str, Any]:
        """The counters snapshot."""
        snapshot: dict[str, Any] = self._send("GET", "counters")
        return snapshot

    def faults(self, **faults: Any) -> None:
        """Replace every fault (fields not given take their defaults)."""
        self._send("PUT", "faults", faults)


Command = tuple[Key, bool, Callable[[], Awaitable[object]]]


class Workload:
    """The commands of a run: a mix over every site, each non-idempotent one on its own target."""

    def __init__(self, sites: list[tuple[Site, dict[str, Any]]], seed: int) -> None:
        self.sites = sites
        self.rng = random.Random(seed)
        self.next_group = 1  # 0/0/0 is KNX's broadcast address

    def _group(self) -> str:
        # Every telegram gets a KNX group address of its own (the counters are per address):
        # 32 x 8 x 256 three-level addresses, then two-level ones (0/0 skipped as well).
        n = self.next_group
        self.next_group += 1
        if n < 32 * 8 * 256:
            return f"{n // 2048}/{(n // 256) % 8}/{n % 256}"
        n -= 32 * 8 * 256 - 1
        return f"{(n // 2048) % 32}/{n % 2048}"

    def command(self) -> Command:
        """One command, drawn at random."""
        site, entry = self.rng.choice(self.sites)
        devices = entry["devices"]
        pick = self.rng.random()
        if pick < 0.30:
            group = self._group()
            kind = self.rng.randrange(3)
            if kind == 0:
                key: Key = ("system/sendKNXbit", group)
                return key, False, lambda: site.knx.send_bit(group, 1)
            if kind == 1:
                return ("system/sendKNXbyte", group), False, lambda: site.knx.send_byte(group, 7)
            key = ("system/sendKNXfloat2bytes", group)
            return key, False, lambda: site.knx.send_float(group, 21.5)
        if pick < 0.40:
            guid = self.rng.choice(devices["button"])
            return ("trigger", guid), False, site.button(guid).trigger
        if pick < 0.45:
            guid = self.rng.choice(devices["scene"])
            return ("scenelaunch", guid), False, site.scene(guid).launch
        if pick < 0.70:
            guid = self.rng.choice(devices["light"])
            level = self.rng.randrange(101)
            return ("powerlevel", guid), True, lambda: site.light(guid).set_level(level)
        if pick < 0.80:
            guid = self.rng.choice(devices["light"])
            return ("powerstatus", guid), True, site.light(guid).is_on
        if pick < 0.90:
            guid = self.rng.choice(devices["blind"])
            height = self.rng.randrange(101)
            return ("heightlevel", guid), True, lambda: site.blind(guid).set_height(height)
        guid = self.rng.choice(devices["thermostat"])
        return ("setpoint", guid), True, lambda: site.thermostat(guid).set_setpoint(20.5)

    def batch(self, count: int) -> Iterator[Command]:
        """``count`` commands."""
        for _ in range(count):
            yield self.command()


async def run_round(ledger: Ledger, commands: list[Command], concurrency: int) -> None:
    """Every command of a round, at most ``concurrency`` at once."""
    limiter = anyio.Semaphore(concurrency)

    async def one(command: Command) -> None:
        key, idempotent, call = command
        async with limiter:
            await ledger.run(key, idempotent, call)

    async with anyio.create_task_group() as group:
        for command in commands:
            group.start_soon(one, command)


async def run_storm(
    ledger: Ledger, commands: list[Command], concurrency: int, rng: random.Random
) -> None:
    """A round whose calls asyncio's own ``Task.cancel()`` hits at random: a tenth of the calls
    still running every 20 ms or so, then whatever is left after a second."""
    limiter = asyncio.Semaphore(concurrency)

    async def one(command: Command) -> None:
        key, idempotent, call = command
        async with limiter:
            await ledger.run(key, idempotent, call)

    tasks = [asyncio.create_task(one(command)) for command in commands]
    for _ in range(50):
        await asyncio.sleep(rng.uniform(0.005, 0.035))
        running = [task for task in tasks if not task.done()]
        for task in rng.sample(running, len(running) // 10):
            task.cancel()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def executed_from(snapshot: dict[str, Any]) -> Callable[[str, str], int]:
    """``executed(controller, target)`` read from a counters snapshot."""
    devices: dict[str, dict[str, int]] = snapshot["executed"]
    groups: dict[str, dict[str, int]] = snapshot["knx"]

    def executed(controller: str, target: str) -> int:
        table = groups if controller in KNX_CONTROLLERS else devices
        return table.get(target, {}).get(controller, 0)

    return executed


def total_executed(snapshot: dict[str, Any]) -> int:
    """Every execution the simulator counted."""
    tables = (snapshot["executed"], snapshot["knx"])
    return sum(n for table in tables for counts in table.values() for n in counts.values())


async def soak(config: Config, relay_url: str, manifest: dict[str, Any]) -> dict[str, Any]:
    """Drive the simulator at ``relay_url``; return the report."""
    control = Control(relay_url)
    gc.collect()
    fds_start = open_fds()
    rss_start = rss_kib()
    ledger = Ledger()
    rounds: list[dict[str, Any]] = []
    started = time.monotonic()
    session = Session(
        rate_limit=RateLimit(rate=40.0, burst=10),
        retry=RetryPolicy(max_attempts=4, backoff=0.05, max_backoff=0.5, deadline=15.0),
        timeout=config.timeout,
        max_connections=200,
        transport=config.transport,
    )
    async with session:
        sites = [
            (session.on_premise(relay_url, entry["key"], allow_insecure=True), entry)
            for entry in manifest["sites"]
        ]
        workload = Workload(sites, config.seed)
        per_round = config.commands // config.rounds
        for number in range(config.rounds):
            round_started = time.monotonic()
            faults = dict(FAULTS, seed=config.seed * 1000 + number)
            event = ""
            middle = config.rounds // 2
            if number == middle:
                faults["storm_seconds"] = config.storm_seconds
                event = f"429 storm {config.storm_seconds:g}s"
            control.faults(**faults)
            commands = list(workload.batch(per_round))
            if number == middle - 1:
                event = "cancellation storm"
                rng = random.Random(config.seed * 7 + number)
                with anyio.fail_after(300):
                    await run_storm(ledger, commands, config.concurrency, rng)
            async with anyio.create_task_group() as group:
                if number != middle - 1:
                    group.start_soon(run_round, ledger, commands, config.concurrency)
                if number == middle + 1:
                    event = f"outage {config.down_seconds:g}s"
                    await anyio.sleep(0.2)
                    control.faults(**dict(faults, down=True, down_max_hold=30.0))
                    await anyio.sleep(config.down_seconds)
                    control.faults(**faults)
            gc.collect()
            rounds.append(
                {
                    "round": number + 1,
                    "commands": len(commands),
                    "seconds": round(time.monotonic() - round_started, 2),
                    "rss_kib": rss_kib(),
                    "open_fds": open_fds(),
                    "event": event,
                }
            )
            print(json.dumps(rounds[-1]), flush=True)
        stats = session.pool_stats()
        idle = {
            "pool_in_flight": stats.in_flight if stats else None,
            "pool_waiting": stats.waiting if stats else None,
            "pool_held": stats.held if stats else None,
            "pools_replaced": stats.replaced if stats else None,
            "sites_in_flight": sum(site.in_flight for site, _ in sites),
            "bucket_waiters": sum(
                site.bucket.waiting for site, _ in sites if site.bucket is not None
            ),
        }
    control.faults()
    # Requests the client gave up on may still be running in the server (held, or delayed),
    # and may still execute: the counters are final once every request has been answered.
    for _ in range(300):
        snapshot = control.counters()
        if snapshot["requests_total"] == sum(snapshot["responses"].values()):
            break
        await anyio.sleep(0.1)
    elapsed = time.monotonic() - started
    snapshot = control.counters()
    figures = ledger.settle(executed_from(snapshot))
    errors = dict(ledger.errors.most_common())
    del ledger, sites, workload
    gc.collect()
    fds_end = open_fds()
    rss_end = rss_kib()
    return {
        "config": {k: v for k, v in asdict(config).items() if k != "faults"},
        "faults": FAULTS,
        "seconds": round(elapsed, 1),
        "commands_per_second": round(figures.sent / elapsed, 1),
        "figures": {k: v for k, v in asdict(figures).items() if k != "problems"},
        "problems": figures.problems,
        "errors": errors,
        "unexplained_executions": total_executed(snapshot) - figures.executed,
        "server_responses": snapshot["responses"],
        "server_requests": snapshot["requests_total"],
        "idle_after_run": idle,
        "rss_kib": {
            "start": rss_start,
            "after_first_round": rounds[0]["rss_kib"],
            "end": rss_end,
            "rounds": [r["rss_kib"] for r in rounds],
        },
        "open_fds": {"start": fds_start, "end": fds_end},
        "rounds": rounds,
    }


def _table(report: dict[str, Any]) -> str:
    f = report["figures"]
    rss, fds = report["rss_kib"], report["open_fds"]
    rows = [
        ("transport", report["config"]["transport"]),
        ("commands sent", f["sent"]),
        ("succeeded", f["succeeded"]),
        ("failed, reported to the caller", f["failed"]),
        ("  of which may have run (5xx, dropped, timed out)", f["failed_may_have_run"]),
        ("executed by the server", f["executed"]),
        ("  idempotent repeats (retries after a lost reply)", f["idempotent_repeats"]),
        ("cancelled by their caller (storm round)", f["cancelled"]),
        ("lost", f["lost"]),
        ("doubled", f["doubled"]),
        ("crashed (untyped error)", f["crashed"]),
        ("hung (never ended)", f["hung"]),
        (
            "pool after the run: in flight, held, small pools replaced",
            "{pool_in_flight}, {pool_held}, {pools_replaced}".format(**report["idle_after_run"]),
        ),
        ("executions no command explains", report["unexplained_executions"]),
        ("memory RSS at start (MiB)", f"{rss['start'] / 1024:.1f}"),
        (
            "memory RSS after round 1 -> end (MiB)",
            f"{rss['after_first_round'] / 1024:.1f} -> {rss['end'] / 1024:.1f}",
        ),
        ("memory RSS after each round (MiB)", " ".join(f"{r / 1024:.1f}" for r in rss["rounds"])),
        ("open file descriptors start -> end", f"{fds['start']} -> {fds['end']}"),
        ("wall time (s)", report["seconds"]),
        ("commands/s (faults on)", report["commands_per_second"]),
    ]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def main(argv: list[str] | None = None) -> int:
    """Run the soak and print its figures; exit 1 when a rule was broken."""
    from thinknx_async.simulator import SimulatorProcess

    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (CI-sized)")
    parser.add_argument("--sites", type=int, help="override the number of sites")
    parser.add_argument("--commands", type=int, help="override the number of commands")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--transport", choices=["httpx", "aiohttp"], default="httpx")
    parser.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    config = Config(
        sites=args.sites or base.sites,
        commands=args.commands or base.commands,
        rounds=base.rounds,
        concurrency=base.concurrency,
        seed=args.seed,
        transport=args.transport,
    )
    sim_args = [
        "--sites", str(config.sites), "--seed", str(config.seed), "--devices-per-kind", "3",
        "--local-ports", "0", "--rate", "50", "--burst", "10",
    ]  # fmt: skip
    cpus = "1" if (os.cpu_count() or 1) > 1 else None
    with SimulatorProcess(sim_args, cpus=cpus) as server:
        report = anyio.run(soak, config, server.relay_url, server.manifest())
    print()
    print(_table(report))
    print("failures by type:", ", ".join(f"{k} {v}" for k, v in report["errors"].items()))
    for problem in report["problems"]:
        print("PROBLEM:", problem)
    if args.json:
        with open(args.json, "w") as out:
            json.dump(report, out, indent=2)
    fds = report["open_fds"]
    broken = (
        report["figures"]["lost"]
        or report["figures"]["doubled"]
        or report["figures"]["crashed"]
        or report["idle_after_run"]["pool_held"]
        or report["unexplained_executions"]
        or fds["end"] > fds["start"]
    )
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
