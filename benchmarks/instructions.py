"""CPU instructions per request, counted by valgrind's callgrind: a cost figure timing noise
does not move.

Each variant sends ``power?guid=G&cmd=1`` to one simulated site, 10 at a time, in a worker
process run under callgrind twice (``--requests`` and three times as many); the difference
divided by the extra requests is the instructions per request, start-up and imports cancelled
out. Only the client process is counted (the simulator runs apart). Instructions are not time
(cache misses are not counted), but a change that removes work shows here first.

Needs ``valgrind`` on the PATH; not part of ``python -m benchmarks``.
``python -m benchmarks.instructions [--requests N]``
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from thinknx_async.cli.load import Call

from . import _common as common
from ._clients import Target, bare_aiohttp, httpx_sharded, library

CONCURRENCY = 10
VARIANTS: dict[str, Callable[[Target, int], AbstractAsyncContextManager[Call]]] = {
    "thinknx_async (aiohttp)": functools.partial(library, transport="aiohttp"),
    "bare aiohttp": bare_aiohttp,
    "thinknx_async (httpx)": functools.partial(library, transport="httpx"),
    "bare httpx, clients of 1 connection": functools.partial(httpx_sharded, per_client=1),
}
_COLLECTED = re.compile(r"Collected\s*:\s*(\d+)")


async def _drive(variant: str, target: Target, requests: int) -> None:
    async with VARIANTS[variant](target, CONCURRENCY) as call:
        for _ in range(50):  # connections open, caches warm
            await call()

        async def caller() -> None:
            for _ in range(requests // CONCURRENCY):
                await call()

        await asyncio.gather(*(caller() for _ in range(CONCURRENCY)))


def _count(variant: str, requests: int, manifest: str) -> int:
    """Instructions of one worker run under callgrind."""
    command = [
        "valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
        sys.executable, "-m", "benchmarks.instructions",
        "--worker", variant, str(requests), manifest,
    ]  # fmt: skip
    root = str(Path(__file__).resolve().parents[1])
    done = subprocess.run(command, capture_output=True, text=True, cwd=root, check=True)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def run(requests: int) -> dict[str, Any]:
    """Count every variant (two at a time); print the table, write the JSON."""
    args = ("--sites", "1", "--local-ports", "0", "--devices-per-kind", "1")
    with common.simulator(*args) as sim, tempfile.TemporaryDirectory() as tmp:
        manifest = str(Path(tmp) / "manifest.json")
        Path(manifest).write_text(json.dumps(sim.manifest()))
        jobs = [(v, n) for v in VARIANTS for n in (requests, 3 * requests)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            found = pool.map(lambda job: _count(job[0], job[1], manifest), jobs)
            counts = dict(zip(jobs, found, strict=True))
    per_request = {
        v: (counts[v, 3 * requests] - counts[v, requests]) / (2 * requests) for v in VARIANTS
    }
    data = {"requests": requests, "concurrency": CONCURRENCY, "per_request": per_request}
    rows = [[v, f"{n:,.0f}"] for v, n in per_request.items()]
    ratios = [
        ["thinknx_async (aiohttp) / bare aiohttp", _ratio(per_request, "aiohttp", "bare aiohttp")],
        [
            "thinknx_async (httpx) / bare httpx, clients of 1 connection",
            _ratio(per_request, "httpx", "bare httpx, clients of 1 connection"),
        ],
    ]
    text = (
        common.table(
            f"CPU instructions per request ({CONCURRENCY} in flight)",
            ["client", "instructions"],
            rows,
        )
        + "\n"
        + common.table("Ratios", ["", "ratio"], ratios)
    )
    print(text)
    common.write_json("instructions", data)
    common.write_table("instructions", text)
    return data


def _ratio(per_request: dict[str, float], transport: str, bare: str) -> str:
    return f"{per_request[f'thinknx_async ({transport})'] / per_request[bare]:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions")
    parser.add_argument("--requests", type=int, default=1000, help="requests of the short run")
    parser.add_argument("--worker", nargs=3, metavar=("VARIANT", "REQUESTS", "MANIFEST"))
    args = parser.parse_args(argv)
    if args.worker:
        variant, requests, manifest = args.worker
        target = Target.from_manifest(json.loads(Path(manifest).read_text()))
        asyncio.run(_drive(variant, target, int(requests)))
        return 0
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing to count", file=sys.stderr)
        return 1
    run(args.requests)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
