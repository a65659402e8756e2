"""Serving a simulator on real sockets: uvicorn in a background thread, TLS, manifests.

The HTTP protocol (connection counting, TLS per connection) lives in ``protocol.py``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import uvicorn

from .app import create_app
from .personality import Personality
from .protocol import cancel_handshakes, protocol_class
from .responses import ConnectionDropped
from .simulator import Simulator

_log_filter_lock = threading.Lock()
_log_filter_installed = False


class _DropFilter(logging.Filter):
    """Simulated dropped connections are intended: keep them out of the server log."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ConnectionDropped)


def _install_log_filter() -> None:
    global _log_filter_installed
    with _log_filter_lock:
        if not _log_filter_installed:
            logging.getLogger("uvicorn.error").addFilter(_DropFilter())
            _log_filter_installed = True


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop when installed, else asyncio's."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is part of the sim extra
        return asyncio.new_event_loop
    return uvloop.new_event_loop


class TlsFiles:
    """A throwaway CA and a server certificate for 127.0.0.1 / localhost."""

    def __init__(self, directory: Path) -> None:
        import trustme

        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.ca_file = directory / "simulator-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def server_context(self) -> ssl.SSLContext:
        """Server-side context presenting the certificate."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(ctx)
        return ctx


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say they are TCP.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def write_json_atomic(path: str | Path, data: Any) -> None:
    """Write JSON so that a reader never sees a half-written file."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


class SimulatorThread:
    """Serve ``sim`` on real sockets from a background thread with its own event loop.

    The relay form (and ``/_sim/``) listens on ``port``; each of the simulator's local sites
    gets its own port (``local_ports``, or free ports). Port 0 picks a free port. TLS follows
    ``sim.config.tls`` unless ``tls`` is given. ``personality``, when given, replaces the
    simulator's (``sim.set_personality``) before serving.
    """

    def __init__(
        self,
        sim: Simulator,
        host: str = "127.0.0.1",
        port: int = 0,
        local_ports: Sequence[int] | None = None,
        tls: bool | None = None,
        cert_dir: str | Path | None = None,
        log_level: str = "warning",
        startup_timeout: float = 10.0,
        personality: Personality | None = None,
    ) -> None:
        self.sim = sim
        self.host = host
        self.port = port
        self.requested_local_ports = list(local_ports or [])
        self.tls = sim.config.tls if tls is None else tls
        self.cert_dir = Path(cert_dir) if cert_dir else None
        self.log_level = log_level
        self.startup_timeout = startup_timeout
        self.personality = personality
        self.relay_url = ""
        self.local_urls: dict[str, str] = {}
        self.ca_file: str | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._tmpdir: str | None = None
        self._error: BaseException | None = None
        self._saved_ports: dict[int, Any] = {}
        self._handshakes: set[asyncio.Task[None]] = set()

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> SimulatorThread:
        """Bind, start serving and return once the server accepts connections."""
        _install_log_filter()
        sim = self.sim
        if self.personality is not None:
            sim.set_personality(self.personality)
        scheme = "https" if self.tls else "http"
        context: ssl.SSLContext | None = None
        if self.tls:
            directory = self.cert_dir
            if directory is None:
                self._tmpdir = tempfile.mkdtemp(prefix="thinknx-sim-")
                directory = Path(self._tmpdir)
            tls_files = TlsFiles(directory)
            self.ca_file = str(tls_files.ca_file)
            context = tls_files.server_context()
        sockets: list[socket.socket] = []
        try:
            sockets.append(_bind(self.host, self.port))
            for i, _site in enumerate(sim.local_sites):
                wanted = self.requested_local_ports[i] if i < len(self.requested_local_ports) else 0
                sockets.append(_bind(self.host, wanted))
        except OSError:
            for sock in sockets:
                sock.close()
            self.stop()
            raise
        ports = [s.getsockname()[1] for s in sockets]
        url_host = f"[{self.host}]" if ":" in self.host else self.host
        self.relay_url = f"{scheme}://{url_host}:{ports[0]}"
        self._saved_ports = dict(sim.by_port)
        sim.by_port.clear()
        for site, port in zip(sim.local_sites, ports[1:], strict=True):
            sim.bind_local_port(port, site.name)
            self.local_urls[site.name] = f"{scheme}://{url_host}:{port}"
        sim.urls = {"relay_url": self.relay_url, "ca_file": self.ca_file, "local": self.local_urls}
        sim.closing.clear()

        protocol, self._handshakes = protocol_class(sim, context)
        config = uvicorn.Config(
            create_app(sim),
            host=self.host,
            http=protocol,
            lifespan="off",
            log_config=None,
            log_level=self.log_level,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, args=(sockets,), name="thinknx-simulator", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("simulator server failed to start") from self._error
            time.sleep(0.002)
        return self

    def _run(self, sockets: list[socket.socket]) -> None:
        assert self._server is not None
        # TLS is negotiated per connection (protocol.py), which needs a transport paused in
        # connection_made to stay paused: asyncio's does, uvloop's resumes reading after it.
        loop = asyncio.new_event_loop() if self.tls else loop_factory()()
        try:
            loop.run_until_complete(self._server.serve(sockets=sockets))
        except BaseException as exc:  # reported by start()/stop()
            self._error = exc
        finally:
            loop.run_until_complete(cancel_handshakes(self._handshakes))
            for sock in sockets:
                sock.close()
            loop.close()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving, release held requests, join the thread and free every port."""
        self.sim.closing.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():  # pragma: no cover - a stuck app
                if self._server is not None:
                    self._server.force_exit = True
                self._thread.join(timeout)
            self._thread = None
        if self._saved_ports:
            self.sim.by_port.clear()
            self.sim.by_port.update(self._saved_ports)
            self._saved_ports = {}
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def manifest(self) -> dict[str, Any]:
        """How to reach every site (see ``docs/simulator.md``)."""
        return self.sim.manifest()

    def write_manifest(self, path: str | Path) -> Path:
        """Write :meth:`manifest` as JSON (atomically) and return the path."""
        write_json_atomic(path, self.manifest())
        return Path(path)

    def ssl_context(self) -> ssl.SSLContext | None:
        """A client context trusting the generated CA (None over plain HTTP)."""
        if self.ca_file is None:
            return None
        return ssl.create_default_context(cafile=self.ca_file)
