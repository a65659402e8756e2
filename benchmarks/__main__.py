"""Run every benchmark: ``python -m benchmarks [--quick] [--only NAME ...]``.

Each prints its tables and writes ``benchmarks/results/NAME.json`` (and ``NAME.md``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

from . import _common as common
from . import fanout, limiter, memory, rate_limits, throughput, watch

BENCHMARKS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "throughput": throughput.run,
    "fanout": fanout.run,
    "limiter": limiter.run,
    "memory": memory.run,
    "rate_limits": rate_limits.run,
    "watch": watch.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (~3 min)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run just these")
    args = parser.parse_args(argv)
    machine = common.machine()
    print(
        f"machine: {machine['nproc']} x {machine['cpu']}, Python {machine['python']}, "
        + ", ".join(f"{k} {v}" for k, v in machine["packages"].items())
    )
    if not common.two_cores():
        print("note: fewer than two cores; the simulator and the client share a core")
    for name in args.only or list(BENCHMARKS):
        started = time.perf_counter()
        print(f"\n## {name}\n", flush=True)
        BENCHMARKS[name](args.quick)
        print(f"({name}: {time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
