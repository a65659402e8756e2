"""Single site, concurrency 1/10/100: the library (both transports) against bare clients.

Every variant sends ``power?guid=G&cmd=1`` to one simulated site through the relay form and
decodes the reply. The simulator runs in its own process on the other core; the client is
pinned to its core, so ``time.process_time()`` per request is the client's own CPU cost.
Variants are interleaved (A B C ... A B C ...) and reported as median (min-max) over rounds.

``python -m benchmarks.throughput [--quick]``
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from thinknx_async.cli.load import Call

from . import _common as common
from ._clients import (
    Target,
    bare_aiohttp,
    httpx_default,
    httpx_limits,
    httpx_sharded,
    library,
    raw_socket,
)
from ._load import measure
from ._throughput_plot import data_from_tables, plot

Factory = Callable[[Target, int], AbstractAsyncContextManager[Call]]

CONCURRENCY = (1, 10, 100)
PLOT = Path(__file__).resolve().parents[1] / "docs" / "img" / "throughput.png"

#: httpx configurations tried for "best-tuned bare httpx" (the best one in this run is used).
TUNINGS: dict[str, Factory] = {
    "1 client, Limits(100, 100)": functools.partial(httpx_limits, connections=100),
    "clients of 1 connection": functools.partial(httpx_sharded, per_client=1),
    "clients of 2 connections": functools.partial(httpx_sharded, per_client=2),
    "clients of 5 connections": functools.partial(httpx_sharded, per_client=5),
    "clients of 10 connections": functools.partial(httpx_sharded, per_client=10),
}


def variants(tuned: Factory) -> dict[str, tuple[Factory, str]]:
    """Name -> (client factory, event loop)."""
    return {
        "thinknx_async (httpx)": (functools.partial(library, transport="httpx"), "asyncio"),
        "thinknx_async (aiohttp)": (functools.partial(library, transport="aiohttp"), "asyncio"),
        "bare httpx, default limits": (httpx_default, "asyncio"),
        "bare httpx, best tuning": (tuned, "asyncio"),
        "bare aiohttp": (bare_aiohttp, "asyncio"),
        "thinknx_async (aiohttp), uvloop": (
            functools.partial(library, transport="aiohttp"),
            "uvloop",
        ),
        "bare aiohttp, uvloop": (bare_aiohttp, "uvloop"),
    }


def _trial(target: Target, factory: Factory, loop: str, n: int, seconds: float) -> dict[str, Any]:
    return common.run_loop(
        lambda: measure(lambda: factory(target, n), n, seconds, warmup=min(0.5, seconds / 3)),
        loop,
    )


def tune_httpx(target: Target, seconds: float) -> tuple[str, list[dict[str, Any]]]:
    """Try each httpx configuration at concurrency 10 and 100; the best by the sum of req/s."""
    rows = []
    for name, factory in TUNINGS.items():
        row: dict[str, Any] = {"config": name}
        for n in (10, 100):
            row[f"rps_{n}"] = _trial(target, factory, "asyncio", n, seconds)["rps"]
        rows.append(row)
    best = max(rows, key=lambda r: r["rps_10"] + r["rps_100"])
    return str(best["config"]), rows


def server_ceiling(target: Target, seconds: float, rounds: int) -> dict[str, float]:
    """The simulator's ceiling: req/s a bare asyncio socket client on uvloop gets, 100 in flight."""
    runs = [_trial(target, raw_socket, "uvloop", 100, seconds)["rps"] for _ in range(rounds)]
    return common.summary(runs)


def run(quick: bool = False) -> dict[str, Any]:
    """Measure every variant at every concurrency; return the results (and print the tables)."""
    rounds, seconds = (2, 0.8) if quick else (3, 1.5)
    common.pin_client()
    args = ("--sites", "1", "--local-ports", "0", "--devices-per-kind", "1")
    with common.simulator(*args) as sim:
        target = Target.from_manifest(sim.manifest())
        best, tuning = tune_httpx(target, seconds)
        chosen = variants(TUNINGS[best])
        raw: dict[str, dict[int, list[dict[str, Any]]]] = {
            name: {n: [] for n in CONCURRENCY} for name in chosen
        }
        for _, n, name in itertools.product(range(rounds), CONCURRENCY, chosen):
            factory, loop = chosen[name]
            raw[name][n].append(_trial(target, factory, loop, n, seconds))
        ceiling = server_ceiling(target, seconds, rounds)
    results = {
        name: {
            str(n): {
                key: common.summary([trial[key] for trial in trials])
                for key in ("rps", "p50_ms", "p99_ms", "cpu_us", "errors")
            }
            for n, trials in by_n.items()
        }
        for name, by_n in raw.items()
    }
    data = {
        "rounds": rounds,
        "seconds_per_trial": seconds,
        "httpx_best_tuning": best,
        "httpx_tuning": tuning,
        "server_ceiling_rps": ceiling,
        "results": results,
        "ratios": ratios(results),
    }
    text = tables(data)
    print(text)
    common.write_json("throughput", data)
    common.write_table("throughput", text)
    plot(data, PLOT)
    return data


def _median(results: dict[str, Any], name: str, n: int, key: str) -> float:
    value: float = results[name][str(n)][key]["median"]
    return value


def ratios(results: dict[str, Any]) -> dict[str, float]:
    """The issue's targets, as ratios of medians measured side by side in this run."""
    lib, fast = "thinknx_async (httpx)", "thinknx_async (aiohttp)"
    return {
        "default transport vs bare httpx default limits, 100 in flight (>= 3)": _median(
            results, lib, 100, "rps"
        )
        / _median(results, "bare httpx, default limits", 100, "rps"),
        "default transport vs best-tuned bare httpx, 100 in flight (>= 1.0)": _median(
            results, lib, 100, "rps"
        )
        / _median(results, "bare httpx, best tuning", 100, "rps"),
        "CPU per request, default transport / best-tuned httpx, concurrency 1 (<= 1.1)": _median(
            results, lib, 1, "cpu_us"
        )
        / _median(results, "bare httpx, best tuning", 1, "cpu_us"),
        "fast transport vs bare aiohttp, concurrency 10 (>= 0.8)": _median(results, fast, 10, "rps")
        / _median(results, "bare aiohttp", 10, "rps"),
        "fast transport vs bare aiohttp, concurrency 100 (>= 0.8)": _median(
            results, fast, 100, "rps"
        )
        / _median(results, "bare aiohttp", 100, "rps"),
    }


def tables(data: dict[str, Any]) -> str:
    """The printed report: one table per concurrency, then tuning, ceiling and ratios."""
    out = []
    for n in CONCURRENCY:
        rows = []
        for name, by_n in data["results"].items():
            cell = by_n[str(n)]
            rows.append(
                [
                    name,
                    common.show(cell["rps"]),
                    common.show(cell["p50_ms"], 2),
                    common.show(cell["p99_ms"], 2),
                    common.show(cell["cpu_us"]),
                    common.show(cell["errors"]),
                ]
            )
        out.append(
            common.table(
                f"One site, {n} in flight",
                ["client", "req/s", "p50 ms", "p99 ms", "client CPU us/req", "errors"],
                rows,
            )
        )
    tuning = [
        [r["config"], f"{r['rps_10']:,.0f}", f"{r['rps_100']:,.0f}"] for r in data["httpx_tuning"]
    ]
    out.append(
        common.table(
            f"Bare httpx tuning (best: {data['httpx_best_tuning']})",
            ["configuration", "req/s at 10", "req/s at 100"],
            tuning,
        )
    )
    out.append(
        common.table(
            "Server ceiling (bare asyncio socket client on uvloop, 100 in flight)",
            ["simulator", "req/s"],
            [["one process, one core", common.show(data["server_ceiling_rps"])]],
        )
    )
    out.append(
        common.table(
            "Targets (ratios of medians)",
            ["target", "ratio"],
            [[k, f"{v:.2f}"] for k, v in data["ratios"].items()],
        )
    )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument(
        "--plot-only",
        action="store_true",
        help="redraw the plot from results/throughput.json, else from results/throughput.md",
    )
    args = parser.parse_args(argv)
    if args.plot_only:
        saved = common.RESULTS / "throughput.json"
        if saved.is_file():
            plot(json.loads(saved.read_text()), PLOT)
        else:
            plot(data_from_tables((common.RESULTS / "throughput.md").read_text()), PLOT)
        return 0
    run(args.quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
