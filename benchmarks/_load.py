"""The benchmarks' load: the closed loop of ``thinknx bench``, around a client to open first."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from thinknx_async.cli import load
from thinknx_async.cli.load import Call


async def measure(
    client: Callable[[], AbstractAsyncContextManager[Call]],
    concurrency: int,
    seconds: float,
    warmup: float,
) -> dict[str, Any]:
    """Open the client, then :func:`thinknx_async.cli.load.measure` it."""
    async with client() as call:
        return await load.measure(call, concurrency, seconds, warmup)
