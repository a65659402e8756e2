"""Personalities: how other firmware, or a reverse proxy in front of the server, behaves.

Each field is one behaviour that a spec-following server may plausibly show and that the
simulator otherwise does not: numbers sent as strings, 401 instead of 403, a proxy's HTML
error pages, slow TLS handshakes, ``Connection: close`` on every reply, HTTP/1.0 replies.
(``Retry-After`` as seconds or as an HTTP date is ``SimulatorConfig.retry_after``.)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

PROXY_SERVER = b"nginx/1.22.1"
"""The ``Server`` header (and page footer) of the simulated reverse proxy."""

PROXY_REASONS = {
    502: "Bad Gateway",
    503: "Service Temporarily Unavailable",
    504: "Gateway Time-out",
}
"""The statuses a proxy answers with its own page, and their titles (as nginx writes them)."""


def replace_from_mapping(instance: T, data: Mapping[str, Any], what: str) -> T:
    """``instance`` with the fields in ``data`` changed; unknown names are a ``ValueError``."""
    known = {f.name for f in dataclasses.fields(instance)}  # type: ignore[arg-type]
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown {what} fields: {sorted(unknown)}")
    return dataclasses.replace(instance, **data)  # type: ignore[type-var]


@dataclass(frozen=True, slots=True)
class Personality:
    """Behaviours of other servers, switched on one by one (all off: the simulator's own)."""

    numbers_as_strings: bool = False
    """Every number in a reply body travels as a JSON string holding its exact text
    (``"status":"20.5"``, ``"comm_obj":"3"``, ``"connected_clients":"1"``)."""
    auth_failure_status: int = 403
    """Status for refused credentials or an unknown key: 403 (the spec) or 401. A local-form
    401 carries the site's ``WWW-Authenticate`` challenge, as HTTP requires."""
    tls_handshake_delay: float = 0.0
    """Seconds the server waits before it takes part in each TLS handshake (HTTPS only)."""
    connection_close: bool = False
    """``Connection: close`` on every reply; the server closes the connection after it."""
    http10: bool = False
    """Replies carry the status line ``HTTP/1.0`` and close the connection after the body,
    unless the request asked for ``Connection: keep-alive`` (then the reply says so too)."""

    def __post_init__(self) -> None:
        if self.auth_failure_status not in (401, 403):
            raise ValueError("auth_failure_status must be 401 or 403")
        if not 0.0 <= self.tls_handshake_delay <= 3600.0:
            raise ValueError("tls_handshake_delay must be within 0..3600 seconds")
        for name in ("numbers_as_strings", "connection_close", "http10"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")

    @property
    def rewrites_bodies(self) -> bool:
        """Whether successful reply bodies must be re-encoded."""
        return self.numbers_as_strings

    def body(self, body: bytes) -> bytes:
        """A successful reply's body as this server writes it."""
        if not self.numbers_as_strings:
            return body
        data = json.loads(body, parse_int=str, parse_float=str)
        return json.dumps(data, separators=(",", ":")).encode()

    @property
    def sets_connection(self) -> bool:
        """Whether replies carry a ``Connection`` header of this personality."""
        return self.connection_close or self.http10

    def connection_headers(self, request_connection: bytes | None) -> list[tuple[bytes, bytes]]:
        """The ``Connection`` header of a reply, when ``sets_connection``."""
        if not self.connection_close:  # HTTP/1.0: persistent only when asked for
            tokens = (request_connection or b"").lower().split(b",")
            if b"keep-alive" in (t.strip() for t in tokens):
                return [(b"connection", b"keep-alive")]
        return [(b"connection", b"close")]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (inverse of ``from_dict``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], base: Personality | None = None) -> Personality:
        """A personality from a JSON object; fields not given keep ``base``'s values."""
        return replace_from_mapping(base or cls(), data, "personality")


def proxy_page(status: int) -> bytes:
    """The HTML error page a reverse proxy (nginx, default settings) sends for ``status``."""
    title = f"{status} {PROXY_REASONS[status]}".encode()
    return (
        b"<html>\r\n<head><title>" + title + b"</title></head>\r\n<body>\r\n"
        b"<center><h1>" + title + b"</h1></center>\r\n"
        b"<hr><center>" + PROXY_SERVER + b"</center>\r\n</body>\r\n</html>\r\n"
    )
