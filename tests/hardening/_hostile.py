"""A deliberately broken HTTP server on 127.0.0.1: it answers each request with raw bytes.

``server.case`` names what it does next (see :data:`CASES`); it keeps every request as sent and
counts the connections still open, so a test can tell what went on the wire, and that the
client neither followed anything it should not have nor left a socket behind.
"""

from __future__ import annotations

import contextlib
import json
import socket
import socketserver
import threading
import time
from collections.abc import Callable
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

#: A case writes its reply to the socket; it returns whether the connection may be reused.
Case = Callable[[socket.socket, str, "HostileServer"], bool]


def _reply(status: str, body: bytes, headers: tuple[str, ...] = ()) -> bytes:
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def _guid(target: str) -> str:
    return parse_qs(urlsplit(target).query).get("guid", [""])[0]


def ok(sock: socket.socket, target: str, server: HostileServer) -> bool:
    guid = _guid(target) or _guid("?" + server.raw[-1].partition(b"\r\n\r\n")[2].decode())
    body = json.dumps({"namespace": "power", "guid": guid, "comm_obj": 1}).encode()
    sock.sendall(_reply("200 OK", body, ("Content-Type: application/json",)))
    return True


def digest(sock: socket.socket, target: str, server: HostileServer) -> bool:
    """Challenge a request without Digest credentials; answer one that has them."""
    if b"\r\nauthorization: digest " in server.raw[-1].lower():
        return ok(sock, target, server)
    challenge = 'Digest realm="thinknx", nonce="4d2f6a8c", qop="auth", algorithm=MD5'
    sock.sendall(_reply("401 Unauthorized", b"", (f"WWW-Authenticate: {challenge}",)))
    return True


def html_503(sock: socket.socket, target: str, server: HostileServer) -> bool:
    page = b"<html><body><h1>503 Service Unavailable</h1>Relay restarting</body></html>"
    sock.sendall(_reply("503 Service Unavailable", page, ("Content-Type: text/html",)))
    return True


def html_200(sock: socket.socket, target: str, server: HostileServer) -> bool:
    page = b"<!DOCTYPE html><html><body>Captive portal: please log in</body></html>"
    sock.sendall(_reply("200 OK", page, ("Content-Type: text/html",)))
    return True


def truncated(sock: socket.socket, target: str, server: HostileServer) -> bool:
    body = json.dumps({"namespace": "power", "guid": _guid(target), "comm_obj": 1}).encode()
    head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    sock.sendall(head + body[: len(body) // 2])
    return False


def garbage(sock: socket.socket, target: str, server: HostileServer) -> bool:
    sock.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\x00\xff\xfe garbage\r\n\r\n")
    return False


def close_at_once(sock: socket.socket, target: str, server: HostileServer) -> bool:
    return False


def no_content(sock: socket.socket, target: str, server: HostileServer) -> bool:
    sock.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")
    return True


def redirect_without_location(sock: socket.socket, target: str, server: HostileServer) -> bool:
    sock.sendall(_reply("302 Found", b""))
    return True


def teapot(sock: socket.socket, target: str, server: HostileServer) -> bool:
    sock.sendall(_reply("418 I'm a teapot", b"short and stout", ("Content-Type: text/plain",)))
    return True


def huge_declared(sock: socket.socket, target: str, server: HostileServer) -> bool:
    sock.sendall(b'HTTP/1.1 200 OK\r\nContent-Length: 1000000000000\r\n\r\n{"pad": "')
    return False


def huge_chunked(sock: socket.socket, target: str, server: HostileServer) -> bool:
    """An endless chunked body: the client must stop at its size cap, not read it all."""
    sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"x" * 16384
    frame = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    try:
        for _ in range(4096):  # 64 MiB at most
            sock.sendall(frame)
            server.chunks_sent += 1
    except OSError:
        pass
    return False


def silent(sock: socket.socket, target: str, server: HostileServer) -> bool:
    """Read the request, answer nothing, and wait for the client to give up."""
    sock.settimeout(0.05)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not server.stopping.is_set():
        try:
            if not sock.recv(1024):
                break
        except TimeoutError:
            continue
        except OSError:
            break
    return False


def redirect_to(location: str) -> Case:
    def case(sock: socket.socket, target: str, server: HostileServer) -> bool:
        sock.sendall(_reply("302 Found", b"", (f"Location: {location}",)))
        return True

    return case


CASES: dict[str, Case] = {
    "ok": ok,
    "digest": digest,
    "html-503": html_503,
    "html-200": html_200,
    "truncated": truncated,
    "garbage": garbage,
    "close-at-once": close_at_once,
    "204": no_content,
    "302-no-location": redirect_without_location,
    "418": teapot,
    "huge-declared": huge_declared,
    "huge-chunked": huge_chunked,
    "silent": silent,
}


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value)
    return 0


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        owner = self.server.owner
        sock: socket.socket = self.request
        with owner.lock:
            owner.open_connections += 1
        try:
            buffer = b""
            while True:
                while b"\r\n\r\n" not in buffer:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buffer += data
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = _content_length(head)
                while len(buffer) < length:
                    data = sock.recv(65536)
                    if not data:
                        return
                    buffer += data
                body, buffer = buffer[:length], buffer[length:]
                request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
                target = request_line.split(" ")[1] if " " in request_line else "/"
                with owner.lock:
                    owner.requests.append(target)
                    owner.raw.append(head + b"\r\n\r\n" + body)
                    case = owner.case
                if not case(sock, target, owner):
                    return
        except OSError:
            return
        finally:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with owner.lock:
                owner.open_connections -= 1


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: HostileServer


class HostileServer:
    """Serve :data:`CASES` on a free port of 127.0.0.1 from background threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.case: Case = ok
        self.requests: list[str] = []
        self.raw: list[bytes] = []  # each request as sent: head and body
        self.open_connections = 0
        self.chunks_sent = 0
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def use(self, case: str | Case) -> None:
        """Answer the next requests this way."""
        with self.lock:
            self.case = CASES[case] if isinstance(case, str) else case
            self.requests.clear()
            self.raw.clear()

    def wait_closed(self, timeout: float = 30.0) -> int:
        """Wait (bounded) until the client closed every connection; return how many are open."""
        deadline = time.monotonic() + timeout
        while self.open_connections and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.open_connections
