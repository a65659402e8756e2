"""Waiting for a state that another thread or process reaches: polled, and bounded so that a
test that would hang fails instead. The bound only ends a broken test (a green run never waits
for it), so it is generous: a loaded machine may be slow, and must not turn a run red."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import pytest

BOUND = 30.0
"""Seconds a test waits for any one state before it fails."""


async def until(condition: Callable[[], object], what: str, limit: float = BOUND) -> None:
    """Poll ``condition`` until true; fail the test (not hang) after ``limit`` seconds."""
    with anyio.move_on_after(limit):
        while not condition():  # noqa: ASYNC110 - the state changes in other threads too
            await anyio.sleep(0.005)
        return
    pytest.fail(f"never reached: {what}")


def until_blocking(condition: Callable[[], object], what: str, limit: float = BOUND) -> None:
    """:func:`until` for a test, or a thread, with no event loop."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never reached: {what}")
        time.sleep(0.01)
