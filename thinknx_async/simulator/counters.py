"""Exact, thread-safe request and command counters."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

UNKNOWN_SITE = "?"
"""Site name under which requests with an unknown key or port are counted."""


class Counters:
    """What the simulator saw and did. All methods are safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[tuple[str, str]] = Counter()
        self._executed: Counter[tuple[str, str]] = Counter()
        self._knx: Counter[tuple[str, str]] = Counter()
        self._responses: Counter[int] = Counter()
        # Client (host, port) pairs of open connections, and how many pairs have closed: a
        # long run opens millions of connections, and their ports come round again.
        self._clients: set[tuple[str, int]] = set()
        self._clients_closed = 0
        self._connected = 0
        self._tcp_opened = 0

    # -- recording (hot path) ---------------------------------------------------------------

    def record_request(self, site: str, controller: str, client: tuple[str, int] | None) -> None:
        """A request reached the API (before any check)."""
        with self._lock:
            self._requests[site, controller] += 1
            if client is not None:
                self._clients.add(client)

    def record_executed(self, guid: str, controller: str) -> None:
        """A device command or read was carried out."""
        with self._lock:
            self._executed[guid, controller] += 1

    def record_knx(self, group: str, controller: str) -> None:
        """A KNX telegram was sent to ``group``."""
        with self._lock:
            self._knx[group, controller] += 1

    def record_response(self, status: int) -> None:
        """A response with this status code was started."""
        with self._lock:
            self._responses[status] += 1

    def connection_made(self) -> None:
        """A TCP connection was accepted (reported by the server runner)."""
        with self._lock:
            self._connected += 1
            self._tcp_opened += 1

    def connection_lost(self, client: tuple[str, int] | None = None) -> None:
        """A TCP connection closed (reported by the server runner), from ``client``."""
        with self._lock:
            self._connected -= 1
            if client in self._clients:
                self._clients.remove(client)
                self._clients_closed += 1

    # -- reading ----------------------------------------------------------------------------

    def requests(self, site: str | None = None, controller: str | None = None) -> int:
        """Requests received, optionally only for one site name and/or controller."""
        with self._lock:
            return sum(
                n
                for (s, c), n in self._requests.items()
                if (site is None or s == site) and (controller is None or c == controller)
            )

    def executed(self, guid: str, controller: str | None = None) -> int:
        """Commands executed on device ``guid`` (all controllers, or one)."""
        with self._lock:
            if controller is not None:
                return self._executed[guid, controller]
            return sum(n for (g, _), n in self._executed.items() if g == guid)

    def total_executed(self) -> int:
        """Device commands plus KNX telegrams executed, all devices and groups."""
        with self._lock:
            return sum(self._executed.values()) + sum(self._knx.values())

    def knx(self, group: str, controller: str | None = None) -> int:
        """Telegrams sent to a KNX group address (all ``system/sendKNX*``, or one)."""
        with self._lock:
            if controller is not None:
                return self._knx[group, controller]
            return sum(n for (g, _), n in self._knx.items() if g == group)

    def responses(self, status: int | None = None) -> int:
        """Responses started with this status code (or all)."""
        with self._lock:
            if status is None:
                return sum(self._responses.values())
            return self._responses[status]

    @property
    def connections_opened(self) -> int:
        """Connections the application saw requests on (distinct client host and port)."""
        with self._lock:
            return len(self._clients) + self._clients_closed

    @property
    def tcp_connections_opened(self) -> int:
        """TCP connections accepted, as reported by the server runner (0 in-process)."""
        with self._lock:
            return self._tcp_opened

    @property
    def connected(self) -> int:
        """TCP connections open right now (0 in-process)."""
        with self._lock:
            return self._connected

    def reset(self) -> None:
        """Zero every counter except the live connection gauge."""
        with self._lock:
            self._requests.clear()
            self._executed.clear()
            self._knx.clear()
            self._responses.clear()
            self._clients.clear()
            self._clients_closed = 0
            self._tcp_opened = 0

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy of every counter."""
        with self._lock:
            requests: dict[str, dict[str, int]] = {}
            for (site, controller), n in self._requests.items():
                requests.setdefault(site, {})[controller] = n
            executed: dict[str, dict[str, int]] = {}
            for (guid, controller), n in self._executed.items():
                executed.setdefault(guid, {})[controller] = n
            knx: dict[str, dict[str, int]] = {}
            for (group, controller), n in self._knx.items():
                knx.setdefault(group, {})[controller] = n
            return {
                "requests_total": sum(self._requests.values()),
                "requests": requests,
                "executed": executed,
                "knx": knx,
                "responses": {str(k): v for k, v in sorted(self._responses.items())},
                "connections_opened": len(self._clients) + self._clients_closed,
                "tcp_connections_opened": self._tcp_opened,
                "connected": self._connected,
            }
