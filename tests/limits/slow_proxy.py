"""A loopback TCP proxy that makes every new connection slow to open, as a busy TLS server is.

Each accepted connection waits ``delays[i % len(delays)]`` seconds before its first bytes (a
TLS ClientHello) reach the server; after that, bytes flow both ways at once. The delays differ
from one connection to the next, so requests whose tokens were taken before connecting arrive
out of step, some late and bunched with those behind them.
"""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time
from collections.abc import Sequence
from types import TracebackType


class SlowProxy:
    """Forwards ``127.0.0.1:port`` to ``upstream``; ``url`` replaces the upstream's URL."""

    def __init__(self, upstream: tuple[str, int], delays: Sequence[float]) -> None:
        self._upstream = upstream
        self._delays = itertools.cycle(delays)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.connections = 0

    def __enter__(self) -> SlowProxy:
        self._spawn(self._accept)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._stop.set()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
        for thread in self._threads:
            thread.join(5.0)
        self._listener.close()

    def _spawn(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        with self._lock:
            self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.connections += 1
                delay = next(self._delays)
            self._spawn(self._serve, client, delay)

    def _serve(self, client: socket.socket, delay: float) -> None:
        try:
            server = socket.create_connection(self._upstream, timeout=10.0)
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets += [client, server]
        time.sleep(delay)  # the slow handshake: nothing reaches the server meanwhile
        self._spawn(self._pump, server, client)
        self._pump(client, server)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)
