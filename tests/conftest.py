"""Shared fixtures: the async backends the core tests run on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal, cast

import pytest

from ._logs import Collector, capture_all_logs

Transport = Literal["httpx", "aiohttp"]


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Core tests marked ``@pytest.mark.anyio`` run once on asyncio and once on trio."""
    return str(request.param)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """aiohttp runs on asyncio only: its trio combinations are not collected at all."""
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec is not None else {}
        on_trio = params.get("anyio_backend") == "trio"
        (dropped if on_trio and params.get("transport") == "aiohttp" else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(params=["httpx", "aiohttp"])
def transport(request: pytest.FixtureRequest, anyio_backend: str) -> Transport:
    """The session's transport: tests that take it run on both (aiohttp on asyncio only)."""
    if request.param == "aiohttp" and anyio_backend != "asyncio":
        pytest.skip("aiohttp runs on asyncio only")
    return cast(Transport, request.param)


@pytest.fixture
def logs() -> Iterator[Collector]:
    """Every record of the library, httpx, httpcore and the root logger, at DEBUG."""
    with capture_all_logs() as collector:
        yield collector
