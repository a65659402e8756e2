"""Capturing every log record, as a handler would write it, for the secrets tests."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

#: Loggers raised to DEBUG while capturing: the library's and those of what it runs on.
LOGGERS = ("httpx", "httpcore", "thinknx_async", "respx", "hpack", "h11", "anyio")


class Collector(logging.Handler):
    """Every record, formatted as a handler would write it (exception tracebacks included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@contextmanager
def capture_all_logs() -> Iterator[Collector]:
    """Capture every record at DEBUG on the root logger, restoring the levels afterwards."""
    collector = Collector()
    root = logging.getLogger()
    saved = {name: logging.getLogger(name).level for name in LOGGERS}
    saved_root = root.level
    root.addHandler(collector)
    root.setLevel(logging.DEBUG)
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield collector
    finally:
        root.removeHandler(collector)
        root.setLevel(saved_root)
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
