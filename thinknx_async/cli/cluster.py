"""``--cluster``: a fan-out verb, or ``thinknx bench``, on a Dask cluster.

``thinknx ... --cluster ADDRESS`` runs any verb over the selected inventory sites on the
cluster (``local:N`` starts a ``LocalCluster`` of N processes); ``thinknx bench --cluster
ADDRESS --workers N`` runs the closed-loop load on N workers against one target, all starting
together, the in-flight count (and a rate limit) split between them, and merges their counts
and latency histograms. Needs the ``dask`` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from typing import Any

from ..fanout import Outcome
from ..inventory import Fleet, Inventory
from ..site import Site
from ..throttle import RateLimit
from .exits import FAILED, OK
from .render import Ui
from .targets import UsageError, session_options
from .verbs import make_resolver, make_verb

__all__ = ["add_bench_arguments", "merge_histograms", "run_bench", "run_verb"]

# What a verb's operation reads from the command line: nothing else travels to the workers
# (no key, no password).
_VERB_FIELDS = ("verb", "action", "target", "value", "feedback", "params", "controller",
                "idempotent", "group")  # fmt: skip
_BUCKET = 1e-5  # latency histograms count in buckets of 10 microseconds


def _dask() -> Any:
    try:
        from .. import distributed
    except ImportError as exc:
        raise UsageError(
            f"--cluster needs the dask extra: pip install 'thinknx-async[dask]' ({exc})"
        ) from None
    return distributed


async def _verb_on_worker(fields: Mapping[str, Any], site: Site, fleet: Fleet) -> Any:
    """One site's part of a verb, on a worker: aliases resolve through the worker's fleet."""
    verb = make_verb(argparse.Namespace(**fields), make_resolver(fleet))
    return await verb.prepare(site)()


async def run_verb(args: argparse.Namespace, ui: Ui, inventory: Inventory | None) -> int:
    """Run a verb over the selected inventory sites on ``args.cluster``; the exit status."""
    if inventory is None or args.host or args.relay:
        raise UsageError("--cluster runs over inventory sites: give --inventory FILE")
    if len(inventory) > 1 and not (args.sites or args.tags or args.all_sites):
        raise UsageError(
            f"the inventory has {len(inventory)} sites: choose with --site, --tag or --all"
        )
    fields = {name: getattr(args, name) for name in _VERB_FIELDS if hasattr(args, name)}
    verb = make_verb(argparse.Namespace(**fields), make_resolver(None))
    idempotent = verb.reads or bool(fields.get("idempotent"))
    distributed = _dask()
    many = len(inventory) > 1
    async with distributed.DaskFleet(args.cluster, session_options=session_options(args)) as fleet:
        with ui.progress(verb.title, len(inventory)) as advance:

            def seen(outcome: Outcome[Any]) -> None:
                ui.outcome(outcome, reads=verb.reads, many=many)
                advance()

            report = await fleet.gather(
                inventory,
                functools.partial(_verb_on_worker, fields),
                concurrency=args.concurrency,
                idempotent=idempotent,
                pass_fleet=True,
                on_outcome=seen,
            )
    code = OK if report.ok else FAILED
    if many or ui.json:
        ui.summary(verb.title, report.summary(), code)
    return code


# bench --cluster ----------------------------------------------------------------------------


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cluster`` and ``--workers`` of ``thinknx bench``."""
    add = parser.add_argument
    add("--cluster", dest="bench_cluster", metavar="ADDRESS",
        help="run the load on a Dask cluster (tcp://HOST:8786 or local:N)")  # fmt: skip
    add("--workers", dest="bench_workers", type=int, metavar="N",
        help="workers to load from (default: every worker)")  # fmt: skip


def merge_histograms(histograms: list[Mapping[int, int]]) -> Counter[int]:
    """The sum of latency histograms (bucket -> count)."""
    total: Counter[int] = Counter()
    for histogram in histograms:
        total.update({int(k): v for k, v in histogram.items()})
    return total


def _percentile_ms(histogram: Mapping[int, int], fraction: float) -> float:
    count = sum(histogram.values())
    if not count:
        return 0.0
    rank, seen = max(1, round(fraction * count)), 0
    for bucket in sorted(histogram):
        seen += histogram[bucket]
        if seen >= rank:
            return (bucket + 1) * _BUCKET * 1e3  # the bucket's upper edge
    return 0.0  # pragma: no cover - the ranks add up


async def _load_on_worker(
    args: argparse.Namespace,
    manifest: dict[str, Any] | None,
    transport: str,
    share: int,
    limit: RateLimit | None,
    barrier: tuple[str, str],
) -> dict[str, Any]:
    """One worker's part: warm up, wait for every worker, then the closed loop."""
    from distributed import Event, Queue

    from . import bench, load

    async with bench.load_session(limit, share, transport) as session:
        site = bench._site(session, args, manifest)
        call = bench.call_of(site, args, manifest)
        await load._drive(call, share, min(0.5, args.bench_seconds / 4), None)
        ready = await Queue(barrier[0])
        await ready.put(1)
        await Event(barrier[1]).wait()
        latencies: list[float] = []
        wall, cpu = time.perf_counter(), time.process_time()
        errors = await load._drive(call, share, args.bench_seconds, latencies)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    histogram = Counter(int(latency / _BUCKET) for latency in latencies)
    return {"requests": len(latencies), "errors": errors, "seconds": wall, "cpu": cpu,
            "histogram": dict(histogram)}  # fmt: skip


async def _one_cluster_run(
    client: Any, workers: list[str], args: argparse.Namespace, manifest: dict[str, Any] | None,
    transport: str, concurrency: int,
) -> dict[str, Any]:  # fmt: skip
    from distributed import Event, Queue

    from . import bench

    limit = bench._limit(args, manifest is not None)
    n = len(workers)
    if limit is not None:  # the target's limit is split, not multiplied
        limit = RateLimit(rate=limit.rate / n, burst=max(1, limit.burst // n))
    run = uuid.uuid4().hex[:12]
    barrier = (f"thinknx-bench-ready-{run}", f"thinknx-bench-go-{run}")
    ready = await Queue(barrier[0], client=client)
    go = Event(barrier[1], client=client)
    shares = [concurrency // n + (1 if i < concurrency % n else 0) for i in range(n)]
    futures = [
        client.submit(
            _load_on_worker,
            args,
            manifest,
            transport,
            share,
            limit,
            barrier,
            key=f"thinknx-bench-{run}-{i}",
            workers=[w],
            pure=False,
        )
        for i, (w, share) in enumerate(zip(workers, shares, strict=True))
        if share > 0
    ]
    for _ in futures:  # the start barrier: every worker warmed up and waiting
        await ready.get()
    await go.set()
    parts = await client.gather(futures)
    ready.close()
    histogram = merge_histograms([p["histogram"] for p in parts])
    requests = sum(p["requests"] for p in parts)
    seconds = max(p["seconds"] for p in parts)
    return {
        "transport": transport,
        "concurrency": concurrency,
        "workers": len(futures),
        "requests": requests,
        "errors": sum(p["errors"] for p in parts),
        "seconds": seconds,
        "rps": requests / seconds if seconds else 0.0,
        "p50_ms": _percentile_ms(histogram, 0.50),
        "p99_ms": _percentile_ms(histogram, 0.99),
        "cpu_us": sum(p["cpu"] for p in parts) / max(1, requests) * 1e6,
        "rate_limit": None if limit is None else {"rate": limit.rate * n, "burst": limit.burst * n},
    }


async def run_bench(
    args: argparse.Namespace, manifest: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Every (concurrency, transport) run of ``thinknx bench`` on ``args.bench_cluster``."""
    try:
        distributed = _dask()
    except UsageError as exc:
        raise ValueError(str(exc)) from None
    if args.bench_workers is not None and args.bench_workers < 1:
        raise ValueError("--workers must be at least 1")
    if manifest is not None and distributed.parse_local(args.bench_cluster) is None:
        # The simulator started for the run listens on this machine's loopback only.
        raise ValueError("a remote --cluster needs a target its workers reach: --relay or --local")
    transports = ["httpx", "aiohttp"] if args.bench_transport == "both" else [args.bench_transport]
    client, close = await distributed.cluster.open_client(args.bench_cluster)
    try:
        scheduler: Any = client.scheduler
        workers = sorted((await scheduler.identity())["workers"])
        if args.bench_workers is not None:
            if args.bench_workers > len(workers):
                raise ValueError(f"--workers {args.bench_workers}: the cluster has {len(workers)}")
            workers = workers[: args.bench_workers]
        results = []
        for concurrency in args.bench_concurrency:
            for transport in transports:
                results.append(
                    await _one_cluster_run(client, workers, args, manifest, transport, concurrency)
                )
        return results
    finally:
        await asyncio.shield(close())
