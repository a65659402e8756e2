"""Which worker runs which sites: hosts with a shared limit stay whole, chunks stay small.

Every site behind a relay or cloud host with a shared limit (``relay_rate_limit``) goes to the
same worker, so that host's one bucket and its 429 adaptation live in one process and stay
right without a coordinator. Other sites may go anywhere. Each worker's sites are then cut into
chunks of at most ``chunk_size``: one task each, so a dead worker loses at most its chunks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import attrs
import httpx

from ..inventory import SiteEntry
from ..session import CLOUD_URL

__all__ = ["Chunk", "host_of", "shard"]


@attrs.define(slots=True)
class Chunk:
    """One task's sites (``indices`` into the fan-out's entries), the worker it is pinned to,
    and how many times it was submitted."""

    number: int
    indices: tuple[int, ...]
    worker: str
    submissions: int = 0


def host_of(entry: SiteEntry, cloud_url: str = CLOUD_URL) -> str:
    """The host whose shared limit ``entry`` counts against (as the session keys its buckets)."""
    if entry.mode == "local":
        return f"local {entry.host}:{entry.port}"
    url = cloud_url if entry.mode == "cloud" else entry.url
    assert url is not None
    return httpx.URL(url).host


def shard(
    entries: Sequence[SiteEntry],
    workers: Sequence[str],
    *,
    chunk_size: int,
    shared_limit: bool,
    cloud_url: str = CLOUD_URL,
) -> list[Chunk]:
    """Chunks covering every entry once, each pinned to one of ``workers``.

    With ``shared_limit``, each relay or cloud host goes whole to one worker (the biggest hosts
    first, each to the least loaded worker); otherwise, and for local sites, sites are dealt out
    evenly. Chunk numbers follow the order chunks are made.
    """
    assert workers, "a fan-out needs at least one worker"
    whole: dict[str, list[int]] = defaultdict(list)
    loose: list[int] = []
    for index, entry in enumerate(entries):
        if shared_limit and entry.mode != "local":
            whole[host_of(entry, cloud_url)].append(index)
        else:
            loose.append(index)
    load = dict.fromkeys(workers, 0)
    placed: dict[str, list[int]] = {worker: [] for worker in workers}
    for indices in sorted(whole.values(), key=len, reverse=True):
        worker = min(workers, key=load.__getitem__)
        placed[worker].extend(indices)
        load[worker] += len(indices)
    # Loose sites fill the workers up to an even share, the least loaded first.
    target = -(-len(entries) // len(workers))
    position = 0
    for worker in sorted(workers, key=load.__getitem__):
        room = max(0, target - load[worker])
        placed[worker].extend(loose[position : position + room])
        position += room
    placed[min(workers, key=lambda w: len(placed[w]))].extend(loose[position:])
    chunks: list[Chunk] = []
    for worker in workers:
        indices = sorted(placed[worker])
        for start in range(0, len(indices), chunk_size):
            part = tuple(indices[start : start + chunk_size])
            chunks.append(Chunk(len(chunks), part, worker))
    return chunks
