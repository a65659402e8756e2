"""Operations the tests run on the workers (pickled by value: the workers need not import us)."""

from __future__ import annotations

import logging
import os

from thinknx_async import Fleet, Site


async def turn_on(site: Site, fleet: Fleet) -> None:
    """Switch the site's ``lobby`` light on: a command, so not idempotent by default."""
    await fleet.light(site, "lobby").turn_on()


async def status(site: Site) -> str:
    """The server's version: a read."""
    return (await site.server_status()).version


class _Keep(logging.Handler):
    """Keeps the formatted text of every record it sees."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.kept: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.kept.append(self.format(record))


def capture_logs() -> None:
    """On a worker: keep every record of httpx, httpcore and the library from now on."""
    for name in ("httpx", "httpcore", "thinknx_async"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        logger.addHandler(_Keep())


def captured_logs() -> list[str]:
    """On a worker: the records :func:`capture_logs` kept."""
    return [
        text
        for name in ("httpx", "httpcore", "thinknx_async")
        for handler in logging.getLogger(name).handlers
        for text in getattr(handler, "kept", ())
    ]


def set_env(name: str, value: str) -> None:
    """On a worker: set one environment variable of that worker's process."""
    os.environ[name] = value
