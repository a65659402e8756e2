"""Keeping Integration Kit keys and passwords out of every message and log record.

httpx logs each request's full URL at INFO, and a cloud URL carries the key in its path. A
filter on httpx's and httpcore's loggers (and ours) rewrites any record that contains a secret
a live site registered. It runs only for records that a logger actually emits.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from urllib.parse import quote

__all__ = ["MASK", "SecretRegistry", "redact", "secrets"]

MASK = "***"
_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "thinknx_async",
)


class SecretRegistry(logging.Filter):
    """The secrets of live sites, counted, and the log filter that masks them."""

    def __init__(self) -> None:
        super().__init__()
        self._counts: Counter[str] = Counter()
        self._pattern: re.Pattern[str] | None = None  # rebuilt after a change
        self._installed = False

    def add(self, secret: str) -> None:
        """Mask ``secret`` (and its percent-encoded form) from now on."""
        if not secret:
            return
        for form in {secret, quote(secret, safe="")}:
            self._counts[form] += 1
        self._pattern = None
        if not self._installed:
            for name in _LOGGERS:
                logging.getLogger(name).addFilter(self)
            self._installed = True

    def discard(self, secret: str) -> None:
        """One user of ``secret`` is gone; stop masking it when none is left."""
        for form in {secret, quote(secret, safe="")}:
            if self._counts[form] > 1:
                self._counts[form] -= 1
            else:
                self._counts.pop(form, None)
        self._pattern = None

    def redact(self, text: str) -> str:
        """``text`` with every registered secret replaced by ``***``."""
        if not self._counts:
            return text
        if self._pattern is None:
            # One pass over the text whatever the number of sites; longest first, so a secret
            # that contains another is masked whole.
            ordered = sorted(self._counts, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered)))
        return self._pattern.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite ``record`` when its message holds a secret; never drop it."""
        if self._counts:
            message = record.getMessage()
            masked = self.redact(message)
            if masked != message:
                record.msg, record.args = masked, None
        return True


secrets = SecretRegistry()
redact = secrets.redact
