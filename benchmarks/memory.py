"""Memory per site handle and per device proxy (tracemalloc).

Keys, GUIDs and credentials are made before measuring (they are the caller's strings); what is
counted is what the library allocates for each handle. A site also makes its token bucket and
in-flight semaphore on its first request: measured separately, on sites whose transport is a
stub answering at once (no sockets).

``python -m benchmarks.memory [--quick]``
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tracemalloc
from collections.abc import Callable, Mapping
from typing import Any

from thinknx_async import Session
from thinknx_async._transport import Outgoing, Tokens

from . import _common as common

BODY = b'{"namespace":"power","guid":"GUID000000000000000000","comm_obj":1}'


class _Stub:
    """Stands in for the session's pool: every request succeeds at once."""

    async def fetch(
        self, request: Outgoing, tokens: Tokens | None = None
    ) -> tuple[int, Mapping[str, str], bytes]:
        return 200, {}, BODY

    def stats(self) -> None:
        return None

    def held(self) -> int:
        return 0

    async def aclose(self) -> None:
        return None


def _per_item(make: Callable[[int], object], n: int) -> float:
    """Bytes allocated and still held per item after making ``n`` of them."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    held = [make(i) for i in range(n)]
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    # The list that holds them is the benchmark's, not the library's.
    total -= len(held) * 8 + 56
    return total / n


async def _measure(n: int) -> dict[str, float]:
    keys = [f"Key{i:029d}" for i in range(n)]
    guids = [f"GUID{i:018d}" for i in range(n)]
    passwords = [f"Password{i:08d}" for i in range(n)]
    cloud_keys = [f"Cloud{i:027d}" for i in range(n)]
    used_keys = [f"Used{i:028d}" for i in range(n)]
    async with Session() as session:
        relay = _per_item(lambda i: session.on_premise("https://relay.example.com", keys[i]), n)
        cloud = _per_item(lambda i: session.cloud(cloud_keys[i]), n)
        local = _per_item(
            lambda i: session.local(
                f"10.0.{i // 250}.{i % 250 + 1}", username="service", password=passwords[i]
            ),
            n,
        )
        site = session.on_premise("https://relay.example.com", "OneKey")
        light = _per_item(lambda i: site.light(guids[i]), n)
        blind = _per_item(lambda i: site.blind(guids[i]), n)
        # First request: the bucket and the in-flight cap appear.
        sites = [session.on_premise("https://relay.example.com", k + "u") for k in used_keys]
        session.pool = _Stub()
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
        for used in sites:
            await used.light("GUID000000000000000000").turn_on()
        gc.collect()
        after = tracemalloc.take_snapshot()
        tracemalloc.stop()
        grown = sum(stat.size_diff for stat in after.compare_to(before, "filename")) / n
    return {
        "site handle (relay)": relay,
        "site handle (cloud)": cloud,
        "site handle (local, digest)": local,
        "device proxy (light)": light,
        "device proxy (blind)": blind,
        "a site's first request adds (bucket, in-flight cap)": grown,
    }


def run(quick: bool = False) -> dict[str, Any]:
    n = 1000 if quick else 3000
    rounds = 2 if quick else 3
    runs = [asyncio.run(_measure(n)) for _ in range(rounds)]
    results = {key: common.summary([r[key] for r in runs]) for key in runs[0]}
    data = {"items": n, "rounds": rounds, "bytes": results}
    text = common.table(
        f"Memory per handle (tracemalloc, {n:,} of each)",
        ["what", "bytes each"],
        [[k, common.show(v)] for k, v in results.items()],
    )
    print(text)
    common.write_json("memory", data)
    common.write_table("memory", text)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.memory")
    parser.add_argument("--quick", action="store_true", help="fewer handles")
    run(parser.parse_args(argv).quick)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
