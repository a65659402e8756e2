"""Rate limits nobody told us, timed: time against the ideal and 429s drawn, per scenario.

Every scenario sends against a server limit of 20 requests/s per site, burst 5, answering a 429
with ``Retry-After`` in whole seconds, on two servers (:func:`targets`): the simulator's token
bucket (its burst at once, then its rate), and, when nginx is installed, nginx's
``limit_req zone=... burst=5 nodelay`` per key in front of an unthrottled simulator (the interop
tests' launcher), its 429s counted from its access log. The ideal time is the server's own: what
its full bucket lets through at once (the simulator: 5; nginx: the first request and its burst,
6), then one request per 1/rate.

- ``matched, 1 site``: the client told the server's figures, over TLS, each new connection's
  handshake slowed by 20-400 ms (a loopback proxy); 100 commands.
- ``matched, 20 sites cold``: the same, 20 sites at once, every connection new.
- ``10x too fast``: the client told 200/s (burst 5), plain HTTP to the simulator, HTTPS to
  nginx; 100 commands.
- ``auto()``: :meth:`RateLimit.auto`, the figure unknown; then ``auto(), again``: a second
  fan-out of the same session, which starts at the learned rate.
- ``default 5/s``: the library's default limit against the same server, for the decision on
  the default.

Run: ``python -m benchmarks.rate_limits [--quick]``. Each scenario runs once per round, rounds
interleaved; the table shows the median of the rounds with min-max.
"""

from __future__ import annotations

import argparse
import ssl
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, Literal

import anyio
import attrs

from tests.limits.slow_proxy import SlowProxy
from thinknx_async import DEFAULT_RATE_LIMIT, RateLimit, RetryPolicy, Session, ThinknxError
from thinknx_async.simulator import SimulatorProcess

from ._common import (
    control,
    reset_counters,
    show,
    simulator,
    summary,
    table,
    write_json,
    write_table,
)

RATE, BURST = 20.0, 5
Transport = Literal["httpx", "aiohttp"]
TRANSPORTS: tuple[Transport, ...] = ("httpx", "aiohttp")
HANDSHAKES = [0.05, 0.3, 0.1, 0.4, 0.02, 0.2]
RETRY = RetryPolicy(max_attempts=12, deadline=180.0)


@attrs.frozen
class Target:
    """One server to measure: where to reach it, how to trust it, how to read its 429s."""

    name: str
    plain: str
    """The URL of the one-site scenarios (plain HTTP for the simulator, HTTPS for nginx)."""
    tls: str
    """The HTTPS URL the ``matched`` scenarios reach through the slow-handshake proxy."""
    ca_file: str
    manifest: dict[str, Any]
    refused: Callable[[], int]
    """The 429s the server has answered so far."""
    reset: Callable[[], None]
    """Fresh counters and full buckets before a scenario."""
    at_once: int = BURST
    """Requests the server lets through at once from a full bucket (for the ideal time)."""

    def context(self) -> ssl.SSLContext:
        """A client context trusting the target's CA."""
        return ssl.create_default_context(cafile=self.ca_file)


def _tls_control(target_tls: str, ca_file: str, route: str, body: Any = None) -> Any:
    import httpx

    context = ssl.create_default_context(cafile=ca_file)
    with httpx.Client(verify=context, timeout=30) as client:
        if body is None:
            return client.get(f"{target_tls}/_sim/{route}").json()
        return client.post(f"{target_tls}/_sim/{route}", json=body).json()


def _simulator_target(plain: SimulatorProcess, tls: SimulatorProcess) -> Target:
    manifest = tls.manifest()
    ca_file = str(manifest["ca_file"])

    def refused() -> int:
        over_tls = _tls_control(tls.relay_url, ca_file, "counters")
        ours = control(plain.relay_url, "counters")["responses"].get("429", 0)
        return int(ours) + int(over_tls["responses"].get("429", 0))

    def reset() -> None:
        reset_counters(plain.relay_url)
        _tls_control(tls.relay_url, ca_file, "reset", {"counters": True, "state": True})

    return Target("simulator", plain.relay_url, tls.relay_url, ca_file, manifest, refused, reset)


@contextmanager
def _nginx_target(sites: int) -> Iterator[Target | None]:
    """nginx's ``limit_req`` (per key, ``burst=5 nodelay``, ``Retry-After: 1``) in front of an
    unthrottled simulator; ``None`` when nginx is not installed."""
    from tests.interop._process import ServerUnavailable
    from tests.interop.nginx import Limit, nginx_relay

    limit = Limit(f"{RATE:.0f}r/s", burst=BURST, nodelay=True, retry_after=1, per="key")
    with ExitStack() as stack:
        origin = stack.enter_context(simulator("--sites", str(sites)))
        try:
            relay = stack.enter_context(nginx_relay(relay_origin=origin.relay_url, limit=limit))
        except ServerUnavailable as exc:
            print(f"nginx left out: {exc}", flush=True)
            yield None
            return

        def refused() -> int:
            return sum(1 for line in relay.access_log() if line.startswith("429 "))

        def reset() -> None:
            reset_counters(origin.relay_url)
            time.sleep(1.0)  # nginx's buckets drain at 20/s: full again well within 1 s

        # A new key passes its first request and ``burst`` more at once (nginx counts the
        # excess over the rate and refuses it above ``burst``).
        yield Target(
            "nginx", relay.https_url, relay.https_url, relay.ca_file, origin.manifest(),
            refused, reset, at_once=BURST + 1,
        )  # fmt: skip


@contextmanager
def targets(sites: int) -> Iterator[list[Target]]:
    """The servers every scenario runs against: the simulator (plain and TLS processes, its
    own token bucket), and nginx's ``limit_req`` in front of a simulator when nginx is
    installed."""
    limits = ["--rate", str(RATE), "--burst", str(BURST), "--sites", str(sites)]
    with (
        simulator(*limits) as plain,
        simulator("--tls", *limits) as tls,
        _nginx_target(sites) as nginx,
    ):
        found = [_simulator_target(plain, tls)]
        yield found if nginx is None else [*found, nginx]


async def _burst(calls: list[Callable[[], Awaitable[Any]]]) -> tuple[float, int]:
    """Run every call at once; the wall time and how many failed."""
    failed = 0

    async def one(call: Callable[[], Awaitable[Any]]) -> None:
        nonlocal failed
        try:
            await call()
        except ThinknxError:
            failed += 1

    start = time.perf_counter()
    async with anyio.create_task_group() as tg:
        for call in calls:
            tg.start_soon(one, call)
    return time.perf_counter() - start, failed


def _ideal(target: Target, n: int) -> float:
    """The server's own time for ``n`` requests: its burst at once, then one per 1/rate."""
    return (n - target.at_once) / RATE


async def matched(target: Target, transport: Transport, sites: int, n: int) -> dict[str, Any]:
    """Limits matched over slow TLS handshakes: ``sites`` at once, ``n`` commands each; the
    ideal is one site's (the sites' limits are their own)."""
    port = int(target.tls.rsplit(":", 1)[1])
    host = target.tls.rsplit(":", 1)[0]
    context = target.context()
    with SlowProxy(("127.0.0.1", port), HANDSHAKES) as proxy:
        async with Session(
            rate_limit=RateLimit(RATE, BURST), retry=RETRY, verify=context, transport=transport
        ) as s:
            calls: list[Callable[[], Awaitable[Any]]] = []
            for entry in target.manifest["sites"][:sites]:
                site = s.on_premise(f"{host}:{proxy.port}", entry["key"])
                calls += [site.light(entry["devices"]["light"][0]).turn_on] * n
            elapsed, failed = await _burst(calls)
    return {"elapsed": elapsed, "ratio": elapsed / _ideal(target, n), "failed": failed}


async def one_site(
    target: Target, transport: Transport, limit: RateLimit, n: int, rounds: int = 1
) -> list[dict[str, Any]]:
    """``n`` commands to one site at ``target.plain``, ``rounds`` times in one session."""
    entry = target.manifest["sites"][0]
    out = []
    before = target.refused()
    async with Session(
        rate_limit=limit, retry=RETRY, verify=target.context(), transport=transport
    ) as s:
        for _ in range(rounds):
            site = s.on_premise(target.plain, entry["key"], allow_insecure=True)
            light = site.light(entry["devices"]["light"][0])
            elapsed, failed = await _burst([light.turn_on] * n)
            bucket = site.bucket
            settled = bucket.rate if bucket is not None else limit.rate
            after = target.refused()  # a blocking call between rounds: nothing in flight
            out.append(
                {"elapsed": elapsed, "ratio": elapsed / _ideal(target, n), "failed": failed,
                 "settled": settled, "429s": after - before}
            )  # fmt: skip
            before = after
    return out


SCENARIOS = [
    "matched, 1 site, slow TLS",
    "matched, 20 sites cold, slow TLS",
    "10x too fast (200/s)",
    "auto()",
    "auto(), again",
    "default 5/s",
]


def one_round(target: Target, transport: Transport, n: int, cold: int) -> dict[str, dict[str, Any]]:
    """Every scenario once against ``target``, the server's counters reset before each."""
    out: dict[str, dict[str, Any]] = {}
    for sites, count, name in ((1, n, SCENARIOS[0]), (20, cold, SCENARIOS[1])):
        target.reset()
        before = target.refused()
        result = anyio.run(matched, target, transport, sites, count)
        result["429s"] = target.refused() - before
        out[name] = result
    target.reset()
    fast = RateLimit(RATE * 10, BURST, jitter=0.0)
    out[SCENARIOS[2]] = anyio.run(one_site, target, transport, fast, n)[0]
    target.reset()
    out[SCENARIOS[3]], out[SCENARIOS[4]] = anyio.run(
        one_site, target, transport, RateLimit.auto(), n, 2
    )
    target.reset()
    out[SCENARIOS[5]] = anyio.run(one_site, target, transport, DEFAULT_RATE_LIMIT, n)[0]
    return out


def run(quick: bool) -> dict[str, Any]:
    """Every scenario against every target, both transports, rounds interleaved."""
    rounds = 1 if quick else 3
    n = 60 if quick else 100
    cold = 40 if quick else 100
    results: dict[str, list[dict[str, Any]]] = {}
    with targets(20) as servers:
        for r in range(rounds):
            for target in servers:
                for transport in TRANSPORTS:
                    for name, result in one_round(target, transport, n, cold).items():
                        key = f"{target.name} | {transport} | {name}"
                        results.setdefault(key, []).append(result)
                        print(f"round {r + 1}/{rounds} {key}: {result}", flush=True)
    rows: list[list[str]] = []
    for key, runs in results.items():
        ratio = show(summary([x["ratio"] for x in runs]), 2)
        count = show(summary([x["429s"] for x in runs]))
        rows.append([*key.split(" | "), ratio, count])
    text = table(
        f"Rate limits, server 20/s burst 5 ({n} commands; 20 sites x {cold}; {rounds} rounds)",
        ["server", "transport", "scenario", "time / ideal", "429s"],
        rows,
    )
    print(text)
    failed = sum(x["failed"] for runs in results.values() for x in runs)
    print(f"commands that failed: {failed}")
    write_json("rate_limits", {"commands": n, "cold_per_site": cold, "runs": results})
    write_table("rate_limits", text)
    return {"runs": results, "failed": failed}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer commands, one round")
    args = parser.parse_args(argv)
    return 0 if run(args.quick)["failed"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
