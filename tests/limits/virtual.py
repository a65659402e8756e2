"""A rate-limited server and a client fan-out on a virtual clock: episodes without sockets.

The server is the simulator's token bucket read at virtual times (its burst at once, then its
rate), answering a 429 with ``Retry-After`` in whole seconds, or :class:`LimitReq`, nginx's
``limit_req ... burst=B nodelay`` as nginx computes it (in milliseconds, ``B + 1`` at once)
with ``add_header Retry-After 1 always``. The client is a real :class:`TokenBucket` whose
tokens are taken per attempt, as a session takes them; a 429'd command is sent again.
"""

from __future__ import annotations

import math
from typing import Literal, Protocol

import anyio
import attrs

from thinknx_async.simulator.ratelimit import LimitReq
from thinknx_async.simulator.ratelimit import TokenBucket as ServerBucket
from thinknx_async.throttle import RateLimit, TokenBucket

from .clock import ManualClock

Kind = Literal["bucket", "limit_req"]


class Server(Protocol):
    def acquire(self, now: float | None = None) -> float:
        """0.0 when the request is accepted at ``now``, else the seconds it should wait."""


@attrs.define
class Outcome:
    """What a virtual fan-out did: its duration, the server's 429s and executions."""

    elapsed: float
    rejected: int
    executed: int
    decreases: int
    rate: float


async def fan_out(
    limit: RateLimit,
    commands: int,
    *,
    server_rate: float = 20.0,
    server_burst: int = 5,
    latency: float = 0.002,
    bucket: TokenBucket | None = None,
    clock: ManualClock | None = None,
    kind: Kind = "bucket",
) -> tuple[Outcome, TokenBucket, ManualClock]:
    """Send ``commands`` at once through ``limit`` (or ``bucket``) to the virtual server."""
    clock = clock or ManualClock()
    bucket = bucket or TokenBucket(limit, clock=clock, sleep=clock.sleep)
    server: Server
    if kind == "limit_req":
        server = LimitReq(server_rate, server_burst, clock.now)
    else:
        server = simulated = ServerBucket(server_rate, server_burst)
        simulated._stamp = clock.now  # the server's bucket is full when the run starts
        simulated._tokens = float(server_burst)
    started = clock.now
    counts = {"rejected": 0, "executed": 0}

    async def command() -> None:
        while True:
            granted = await bucket.acquire()
            wait = server.acquire(now=clock.now + latency / 2)
            await clock.sleep(latency)
            if wait == 0.0:
                counts["executed"] += 1
                bucket.record_success()
                return
            counts["rejected"] += 1
            bucket.record_rate_limited(granted, float(max(1, math.ceil(wait))))

    async with anyio.create_task_group() as tg:
        for _ in range(commands):
            tg.start_soon(command)
        await clock.run_until_idle()
    outcome = Outcome(
        clock.now - started, counts["rejected"], counts["executed"], bucket.decreases, bucket.rate
    )
    return outcome, bucket, clock
