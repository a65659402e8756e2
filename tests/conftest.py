"""Shared fixtures: the async backends the core tests run on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._logs import Collector, capture_all_logs


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Core tests marked ``@pytest.mark.anyio`` run once on asyncio and once on trio."""
    return str(request.param)


@pytest.fixture
def logs() -> Iterator[Collector]:
    """Every record of the library, httpx, httpcore and the root logger, at DEBUG."""
    with capture_all_logs() as collector:
        yield collector
