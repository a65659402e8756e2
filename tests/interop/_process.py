"""Third-party servers as child processes: find the binary, pick ports, start, wait, stop.

Nothing here imports pytest, so a benchmark can use the launchers too: a missing binary is a
:class:`ServerUnavailable` (the tests turn it into a skip), a server that does not come up is a
:class:`ServerStartError` carrying its error log.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

__all__ = [
    "ServerProcess",
    "ServerStartError",
    "ServerUnavailable",
    "find_binary",
    "free_port",
    "start_with_free_ports",
]

SBIN_DIRS = ("/usr/sbin", "/usr/local/sbin", "/sbin")
"""Where distributions put server binaries (often outside a normal user's ``PATH``)."""


class ServerUnavailable(RuntimeError):
    """The server's binary (or a module it needs) is not installed on this machine."""


class ServerStartError(RuntimeError):
    """The server did not start; the message ends with its error log."""


def find_binary(names: Iterable[str], package: str) -> str:
    """The first of ``names`` on ``PATH`` or in the sbin directories, or ServerUnavailable."""
    names = tuple(names)
    search = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    for name in names:
        found = shutil.which(name, path=search)
        if found:
            return found
    raise ServerUnavailable(
        f"{' / '.join(names)} not found (install Debian's {package!r} package: "
        f"apt-get install {package})"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (servers that cannot take port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return text[-limit:]


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


class ServerProcess:
    """One running server: its process, the ports it listens on and the logs to show.

    Ready means: the process is alive, has written its pid file (both nginx and Apache write it
    only once every listening socket is bound, so another program's socket on a raced port is
    never taken for ours) and accepts connections on every port.
    """

    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        ports: Sequence[int],
        directory: Path,
        pid_file: str | Path,
        logs: Sequence[str | Path] = ("error.log", "access.log"),
    ) -> None:
        """``pid_file`` and ``logs`` are file names in ``directory`` (or absolute paths)."""
        self.name = name
        self.command = list(command)
        self.ports = list(ports)
        self.directory = directory
        self.pid_file = directory / pid_file
        self.logs = [directory / log for log in logs]
        self.output = directory / f"{name}.output.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Start and wait until ready; ServerStartError (with the logs) if it exits or stalls."""
        self.pid_file.unlink(missing_ok=True)
        with self.output.open("wb") as output:
            self._process = subprocess.Popen(
                self.command,
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            code = self._process.poll()
            if code is not None:
                self._process = None
                raise ServerStartError(f"{self.name} exited with {code}\n{self.error_log()}")
            if self.pid_file.exists() and all(_accepts(port) for port in self.ports):
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise ServerStartError(f"{self.name} not ready in {timeout} s\n{self.error_log()}")
            time.sleep(0.05)

    def error_log(self) -> str:
        """The end of the server's output and of each of its logs, for a failure report."""
        parts = []
        for path in [self.output, *self.logs]:
            text = _tail(path)
            if text:
                parts.append(f"--- {path.name} ---\n{text}")
        return "\n".join(parts) or f"({self.name} wrote no log)"

    def log_lines(self, name: str, at_least: int = 0, timeout: float = 10.0) -> list[str]:
        """The lines of the log file ``name``, once it has ``at_least`` of them.

        A server writes a request's access-log line after sending the reply, so a client that
        has its reply may look before the line is there: wait for the count it expects.
        """
        path = self.directory / name
        deadline = time.monotonic() + timeout
        while True:
            lines = path.read_text().splitlines() if path.exists() else []
            if len(lines) >= at_least or time.monotonic() > deadline:
                return lines
            time.sleep(0.02)

    @property
    def running(self) -> bool:
        """Whether the server's main process is alive."""
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM to the server's process group, SIGKILL if it lingers; idempotent."""
        process, self._process = self._process, None
        if process is None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if process.poll() is not None:
                break
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                break
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                continue
        process.wait(timeout)


def start_with_free_ports(
    count: int, launch: Callable[[list[int]], ServerProcess], attempts: int = 5
) -> ServerProcess:
    """Start a server on ``count`` fresh ports, again on other ports if one was taken meanwhile."""
    error: ServerStartError | None = None
    for _ in range(attempts):
        ports: list[int] = []
        while len(ports) < count:
            port = free_port()
            if port not in ports:
                ports.append(port)
        try:
            return launch(ports).start()
        except ServerStartError as exc:
            if "in use" not in str(exc):
                raise
            error = exc
    assert error is not None
    raise error
