"""Rate limits against the simulator's own, timed: how close to ideal, how near the real rate.

Scenarios (each against a simulator process with per-site token buckets):

- ``matched``: client limit = server limit, over HTTPS with fresh connections; total time
  against the ideal (the burst at once, then one request per 1/rate) and the 429s drawn.
- ``too-fast``: the client told 10 times the server's rate; every command must get through
  exactly once; the rate the client settles at against the server's.
- ``parallel``: 20 sites at once, each at its own limit; total time against one site's.

Run: ``python -m benchmarks.rate_limits [--quick]``.
"""

from __future__ import annotations

import argparse
import ssl
import time
from typing import Any

import anyio
import httpx

from thinknx_async import RateLimit, RetryPolicy, Session, ThinknxError

from ._common import show, simulator, summary, table, write_json, write_table


def _control(
    relay: str, route: str, ca_file: str | None, body: dict[str, Any] | None = None
) -> Any:
    """The simulator's control endpoint, over HTTPS too."""
    verify: ssl.SSLContext | bool = True
    if ca_file is not None:
        verify = ssl.create_default_context(cafile=ca_file)
    with httpx.Client(verify=verify, timeout=30) as client:
        if body is None:
            return client.get(f"{relay}/_sim/{route}").json()
        return client.post(f"{relay}/_sim/{route}", json=body).json()


def _reset(relay: str, ca_file: str | None) -> None:
    _control(relay, "reset", ca_file, {"counters": True, "state": True})


def _429s(relay: str, ca_file: str | None) -> int:
    return int(_control(relay, "counters", ca_file)["responses"].get("429", 0))


async def _burst(calls: list[Any]) -> tuple[float, int]:
    """Run every call at once; the wall time and how many failed."""
    failed = 0

    async def one(call: Any) -> None:
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


async def matched(relay: str, ca_file: str, site: dict[str, Any], n: int) -> dict[str, Any]:
    rate, burst = float(site["rate"]), int(site["burst"])
    context = ssl.create_default_context(cafile=ca_file)
    async with Session(rate_limit=RateLimit(rate, burst), verify=context, max_in_flight=16) as s:
        light = s.on_premise(relay, site["key"]).light(site["devices"]["light"][0])
        elapsed, failed = await _burst([light.turn_on for _ in range(n)])
    ideal = (n - burst) / rate
    return {"elapsed": elapsed, "ideal": ideal, "ratio": elapsed / ideal, "failed": failed}


async def too_fast(relay: str, site: dict[str, Any], n: int) -> dict[str, Any]:
    rate = float(site["rate"])
    limit = RateLimit(rate * 10, int(site["burst"]) * 10)
    retry = RetryPolicy(max_attempts=10, deadline=120.0)
    async with Session(rate_limit=limit, retry=retry, max_in_flight=64) as s:
        remote = s.on_premise(relay, site["key"], allow_insecure=True)
        light = remote.light(site["devices"]["light"][0])
        elapsed, failed = await _burst([light.turn_on for _ in range(n)])
        settled = remote.bucket.rate if remote.bucket else rate
        episodes = remote.bucket.decreases if remote.bucket else 0
    return {
        "elapsed": elapsed,
        "achieved": n / elapsed,
        "settled": settled,
        "server_rate": rate,
        "episodes": episodes,
        "failed": failed,
    }


async def parallel(relay: str, sites: list[dict[str, Any]], per_site: int) -> dict[str, Any]:
    rate, burst = float(sites[0]["rate"]), int(sites[0]["burst"])
    async with Session(rate_limit=RateLimit(rate, burst)) as s:
        calls = []
        for site in sites:
            light = s.on_premise(relay, site["key"], allow_insecure=True).light(
                site["devices"]["light"][0]
            )
            calls += [light.turn_on] * per_site
        elapsed, failed = await _burst(calls)
    one_site = (per_site - burst) / rate
    return {"elapsed": elapsed, "one_site_ideal": one_site, "ratio": elapsed / one_site,
            "failed": failed}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer requests and runs")
    args = parser.parse_args(argv)
    return 0 if run(args.quick)["failed"] == 0 else 1


def run(quick: bool) -> dict[str, Any]:
    """Every scenario, interleaved run by run; the figures (also written as JSON)."""
    runs = 1 if quick else 3
    n = 60 if quick else 120
    results: dict[str, list[dict[str, Any]]] = {"matched": [], "too_fast": [], "parallel": []}
    limits = ["--rate", "20", "--burst", "5"]
    with (
        simulator("--sites", "1", "--tls", *limits) as tls,
        simulator("--sites", "21", *limits) as plain,
    ):
        tls_site = tls.manifest()["sites"][0]
        ca = str(tls.manifest()["ca_file"])
        sites = plain.manifest()["sites"]
        for run in range(runs):
            for name in ("matched", "too_fast", "parallel"):  # interleaved, run by run
                _reset(tls.relay_url, ca)
                _reset(plain.relay_url, None)
                if name == "matched":
                    result = anyio.run(matched, tls.relay_url, ca, tls_site, n)
                    result["429s"] = _429s(tls.relay_url, ca)
                elif name == "too_fast":
                    result = anyio.run(too_fast, plain.relay_url, sites[0], n)
                    result["429s"] = _429s(plain.relay_url, None)
                else:
                    # Not site 0: the too-fast run leaves the server's bucket for it empty.
                    result = anyio.run(parallel, plain.relay_url, sites[1:], n // 4)
                    result["429s"] = _429s(plain.relay_url, None)
                results[name].append(result)
                print(f"run {run + 1}/{runs} {name}: {result}", flush=True)

    def stat(name: str, key: str) -> dict[str, float]:
        return summary([r[key] for r in results[name]])

    rows = [
        ["matched limits, HTTPS: time / ideal", show(stat("matched", "ratio"), 3),
         show(stat("matched", "429s"))],
        ["10x too fast: settled rate (server 20/s)", show(stat("too_fast", "settled"), 1),
         show(stat("too_fast", "429s"))],
        ["10x too fast: achieved req/s over the run", show(stat("too_fast", "achieved"), 1), ""],
        ["20 sites at once: time / one site's ideal", show(stat("parallel", "ratio"), 3),
         show(stat("parallel", "429s"))],
    ]  # fmt: skip
    text = table(f"Rate limits against the simulator ({n} requests, {runs} runs)",
                 ["scenario", "median (min-max)", "429s"], rows)  # fmt: skip
    print(text)
    failed = sum(r["failed"] for group in results.values() for r in group)
    print(f"commands that failed: {failed}")
    write_json("rate_limits", {"requests": n, "runs": results})
    write_table("rate_limits", text)
    return {"requests": n, "runs": results, "failed": failed}


if __name__ == "__main__":
    raise SystemExit(main())
