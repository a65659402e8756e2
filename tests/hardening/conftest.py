"""Fixtures of the hardening tests: log capture at DEBUG, a hostile server, simulators."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from ._hostile import HostileServer


class Collector(logging.Handler):
    """Every record, formatted as a handler would write it (exception tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Collector]:
    """Capture every record of the library, httpx, httpcore and the root logger at DEBUG."""
    collector = Collector()
    root = logging.getLogger()
    names = ("httpx", "httpcore", "thinknx_async", "hpack", "h11", "anyio")
    saved = {name: logging.getLogger(name).level for name in names}
    saved_root = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield collector
    finally:
        root.removeHandler(collector)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    """One hostile server per module; each test picks its behaviour with ``use``."""
    with HostileServer() as server:
        yield server
