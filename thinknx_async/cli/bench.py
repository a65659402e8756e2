"""``thinknx bench``: measure request throughput and latency against a target.

With no target it starts the simulator in its own process (pinned to another core when there
is one) and measures against it, unthrottled. Against a real server or relay it sends only
reads (``powerstatus`` of ``--guid``, else ``system/serverStatus``) and respects the rate limit
(``--rate``/``--burst``, default the session's 5/s burst 5) unless ``--no-rate-limit``.
Closed loop: N callers each send the next request when the last one is answered. Each
installed transport is measured (httpx; aiohttp too with its extra) unless ``--transport``
names one; a bar per level shows on stderr while it runs, the figures go to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from .._addresses import local_target
from ..session import DEFAULT_RATE_LIMIT, Session
from ..site import Site
from ..throttle import RateLimit
from . import load
from .render import Ui
from .targets import UsageError, insecure_hint, installed_transports, require_transports
from .values import per_second, positive, seconds

__all__ = ["add_parser", "call_of", "load_session", "run"]


def _concurrencies(text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list like 1,10,100") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("concurrencies must be integers >= 1")
    return values


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``bench`` verb to the ``thinknx`` command's subparsers."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "bench",
        help="measure throughput and latency (the simulator by default)",
        description=(__doc__ or "").replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s [options]",
    )
    add = parser.add_argument
    target = parser.add_argument_group("target (default: a simulator started for the run)")
    target.add_argument("--relay", dest="bench_relay", metavar="URL",
                        help="a relay's or the cloud's root URL (with --key)")  # fmt: skip
    target.add_argument("--key", dest="bench_key", metavar="KEY",
                        help="the site's Integration Kit key")  # fmt: skip
    target.add_argument("--local", dest="bench_local", metavar="HOST|URL",
                        help="a local server, by host or URL (with --password)")  # fmt: skip
    target.add_argument("--port", dest="bench_port", type=int, metavar="PORT",
                        help="the local server's port (default 5051)")  # fmt: skip
    target.add_argument("--username", dest="bench_username", metavar="USER",
                        help="the local user (default service)")  # fmt: skip
    target.add_argument(
        "--password", dest="bench_password", metavar="PASSWORD",
        default=os.environ.get("THINKNX_PASSWORD"),
        help="the local password ($THINKNX_PASSWORD)",
    )  # fmt: skip
    target.add_argument("--auth", dest="bench_auth", choices=["digest", "basic"],
                        default="digest", help="local authentication (default digest)")  # fmt: skip
    target.add_argument("--guid", dest="bench_guid", metavar="GUID",
                        help="read this light's state instead of the server status")  # fmt: skip
    target.add_argument("--insecure", dest="bench_insecure", action="store_true",
                        help="allow a relay over plain http://")  # fmt: skip
    add("--concurrencies", dest="bench_concurrency", type=_concurrencies, default=[1, 10, 100],
        metavar="N,N,...", help="requests in flight, one run each (default 1,10,100)")  # fmt: skip
    add("--seconds", dest="bench_seconds", type=seconds, default=3.0, metavar="SECONDS",
        help="measured time per run (default 3)")  # fmt: skip
    installed = installed_transports()
    add("--transport", dest="bench_transport", choices=["httpx", "aiohttp", "both"],
        default="both" if len(installed) > 1 else installed[0],
        help="which transport to measure (default: every installed one, here "
        f"{' and '.join(installed)})")  # fmt: skip
    add("--rate", dest="bench_rate", type=per_second, metavar="PER_S",
        help="requests/s the target allows")  # fmt: skip
    add("--burst", dest="bench_burst", type=positive, metavar="N",
        help="burst the target allows")  # fmt: skip
    add("--no-rate-limit", dest="bench_unlimited", action="store_true",
        help="do not throttle (only for a target you own)")  # fmt: skip
    add("--json", dest="bench_json", action="store_true", help="print JSON instead of a table")
    add("--no-progress", dest="bench_quiet", action="store_true",
        help="no progress while measuring")  # fmt: skip
    from .cluster import add_bench_arguments

    add_bench_arguments(parser)
    return parser


def _limit(args: argparse.Namespace, simulated: bool) -> RateLimit | None:
    if args.bench_unlimited or (simulated and args.bench_rate is None):
        return None
    if args.bench_rate is None:
        return DEFAULT_RATE_LIMIT
    burst = args.bench_burst if args.bench_burst is not None else max(1, int(args.bench_rate))
    return RateLimit(rate=args.bench_rate, burst=burst)


def _site(session: Session, args: argparse.Namespace, manifest: dict[str, Any] | None) -> Site:
    if manifest is not None:
        first = manifest["sites"][0]
        return session.on_premise(manifest["relay_url"], first["key"], allow_insecure=True)
    if args.bench_relay:
        if not args.bench_key:
            raise UsageError("--relay needs --key KEY")
        return insecure_hint(
            lambda: session.on_premise(
                args.bench_relay, args.bench_key, allow_insecure=args.bench_insecure
            )
        )
    target = local_target(args.bench_local, args.bench_port, None, args.bench_username,
                          args.bench_password)  # fmt: skip
    if not target.password:
        raise UsageError("--local needs --password PASSWORD (or $THINKNX_PASSWORD)")
    return session.local(
        args.bench_local,
        port=args.bench_port,
        username=args.bench_username or (None if target.username else "service"),
        password=args.bench_password,
        auth=args.bench_auth,
    )


def _transports(args: argparse.Namespace) -> list[str]:
    return ["httpx", "aiohttp"] if args.bench_transport == "both" else [args.bench_transport]


def _warmup(args: argparse.Namespace) -> float:
    return float(min(0.5, args.bench_seconds / 4))


def load_session(limit: RateLimit | None, concurrency: int, transport: str) -> Session:
    """A session for ``concurrency`` requests in flight to one site, on ``transport``."""
    return Session(
        rate_limit=limit,
        max_in_flight=concurrency,
        max_connections=max(100, concurrency),
        transport="aiohttp" if transport == "aiohttp" else "httpx",
    )


def call_of(site: Site, args: argparse.Namespace, manifest: dict[str, Any] | None) -> load.Call:
    """The read the load repeats: ``--guid``'s (or the simulator's first light's) state, else
    the server status."""
    guid = args.bench_guid or (manifest["sites"][0]["devices"]["light"][0] if manifest else None)
    return site.light(guid).is_on if guid else site.server_status


async def _one_run(
    args: argparse.Namespace,
    manifest: dict[str, Any] | None,
    transport: str,
    concurrency: int,
) -> dict[str, Any]:
    limit = _limit(args, manifest is not None)
    async with load_session(limit, concurrency, transport) as session:
        call = call_of(_site(session, args, manifest), args, manifest)
        result = await load.measure(call, concurrency, args.bench_seconds, _warmup(args))
    return {
        "transport": transport,
        "concurrency": concurrency,
        **result,
        "rate_limit": None if limit is None else {"rate": limit.rate, "burst": limit.burst},
    }


async def _measure(
    args: argparse.Namespace, manifest: dict[str, Any] | None, ui: Ui
) -> list[dict[str, Any]]:
    runs = [(c, t) for c in args.bench_concurrency for t in _transports(args)]  # interleaved: drift
    results = []  # hits both transports alike
    for number, (concurrency, transport) in enumerate(runs, start=1):
        title = f"[{number}/{len(runs)}] {transport}, {concurrency} in flight"
        async with ui.timed(title, _warmup(args) + args.bench_seconds):
            results.append(await _one_run(args, manifest, transport, concurrency))
    return results


def _print_table(results: list[dict[str, Any]], target: str) -> None:
    print(f"target: {target}")
    header = f"{'transport':<10}{'in flight':>10}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}"
    header += f"{'CPU us/req':>12}{'errors':>8}"
    print(header)
    for r in results:
        print(
            f"{r['transport']:<10}{r['concurrency']:>10}{r['rps']:>10,.0f}{r['p50_ms']:>9.2f}"
            f"{r['p99_ms']:>9.2f}{r['cpu_us']:>12,.0f}{r['errors']:>8}"
        )
    limit = results[0]["rate_limit"] if results else None
    print(
        "rate limit: " + ("off" if limit is None else f"{limit['rate']:g}/s burst {limit['burst']}")
    )


async def run(args: argparse.Namespace, ui: Ui) -> int:
    """Run ``thinknx bench``; return the exit status (0, or 1 when any request failed).

    A wrong target or a transport that is not installed is a
    :class:`~.targets.UsageError` (or ``ValidationError``) before anything is measured."""
    require_transports(args.bench_transport, _transports(args))
    ui = Ui(json_lines=False, verbose=False, progress=ui.progress_asked and not args.bench_quiet)
    manifest = None
    simulator = None
    if args.bench_relay or args.bench_local:
        async with Session() as probe:
            _site(probe, args, None)  # the target's flags, checked before measuring
    else:
        from ..simulator import SimulatorProcess

        cores = os.cpu_count() or 1
        simulator = SimulatorProcess(
            ["--sites", "1", "--local-ports", "0", "--log-level", "error"],
            cpus="1" if cores >= 2 and sys.platform == "linux" else None,
        )
        simulator.start()
        manifest = simulator.manifest()
        if cores >= 2 and hasattr(os, "sched_setaffinity") and not args.bench_cluster:
            os.sched_setaffinity(0, {0})
    try:
        try:
            if args.bench_cluster:
                from .cluster import run_bench as run_on_cluster

                results = await run_on_cluster(args, manifest)
            else:
                results = await _measure(args, manifest, ui)
        except ValueError as exc:
            print(f"thinknx bench: {exc}", file=sys.stderr)
            return 2
    finally:
        if simulator is not None:
            simulator.stop()
    target = "simulator (own process)" if manifest else (args.bench_relay or args.bench_local)
    if args.bench_json:
        print(json.dumps({"target": target, "results": results}, indent=2))
    else:
        _print_table(results, target)
    return 1 if any(r["errors"] for r in results) else 0
