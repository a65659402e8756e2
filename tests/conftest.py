"""Shared fixtures: the async backends the core tests run on."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Core tests marked ``@pytest.mark.anyio`` run once on asyncio and once on trio."""
    return str(request.param)
