"""Fixtures of the hardening tests: a hostile server, simulators."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ._hostile import HostileServer


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    """One hostile server per module; each test picks its behaviour with ``use``."""
    with HostileServer() as server:
        yield server
