"""A rejected TLS certificate fails at once, with OpenSSL's reason, and is never retried."""

from __future__ import annotations

import contextlib
import datetime
import socket
import ssl
import threading
from collections.abc import Iterator

import pytest
import trustme

from thinknx_async import CertificateError, RetryPolicy, Session

from ..conftest import Transport

KEY = "CertKey0123"
RETRY = RetryPolicy(max_attempts=4, backoff=0.0, max_backoff=0.0)


class TlsServer:
    """Accepts TLS handshakes on 127.0.0.1 with one certificate, and counts the connections."""

    def __init__(self, cert: trustme.LeafCert) -> None:
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(self.context)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.port: int = self.listener.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn, contextlib.suppress(OSError):
                conn.settimeout(5)
                self.context.wrap_socket(conn, server_side=True).close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.listener.close()


@contextlib.contextmanager
def tls_server(cert: trustme.LeafCert) -> Iterator[TlsServer]:
    server = TlsServer(cert)
    try:
        yield server
    finally:
        server.close()


CA = trustme.CA()
NOW = datetime.datetime.now(datetime.UTC)
CASES = {
    "untrusted": (trustme.CA().issue_cert("127.0.0.1"), "unable to get local issuer certificate"),
    "expired": (
        CA.issue_cert("127.0.0.1", not_before=NOW - datetime.timedelta(days=30),
                      not_after=NOW - datetime.timedelta(days=1)),
        "certificate has expired",
    ),
    "other host": (CA.issue_cert("relay.example"), "mismatch, certificate is not valid"),
}  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize("case", CASES)
async def test_a_rejected_certificate_is_not_retried(case: str, transport: Transport) -> None:
    cert, reason = CASES[case]
    client = ssl.create_default_context()
    CA.configure_trust(client)
    with tls_server(cert) as server:
        async with Session(rate_limit=None, retry=RETRY, verify=client, transport=transport) as s:
            site = s.on_premise(f"https://127.0.0.1:{server.port}", KEY)
            with pytest.raises(CertificateError) as caught:
                await site.light("G1").turn_on()
        connections = server.connections
    error = caught.value
    assert reason in error.reason
    assert str(error).endswith(f"TLS certificate rejected ({error.reason})")
    assert error.never_sent
    assert error.attempts == 1
    assert connections == 1  # one handshake, no retry
