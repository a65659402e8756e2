"""Fixtures: the project's simulator behind servers this project did not write.

nginx and Apache run as child processes (one per module, plus those a test starts itself);
a missing binary skips with the reason, a server that fails to start fails with its log, and
every failed test shows the logs of the servers it used.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import AbstractContextManager, ExitStack
from typing import Any, TypeVar

import pytest

from thinknx_async import RetryPolicy, Session
from thinknx_async.simulator import Simulator, SimulatorThread

from ..conftest import Transport
from ..integration.conftest import plain_server
from ._process import ServerStartError, ServerUnavailable
from .apache import ApacheLocal, apache_local
from .nginx import NginxRelay, local_routes, nginx_relay

__all__ = ["plain_server"]  # the simulator behind every server here: three sites, one local

USERNAME = "service"
PASSWORD = "Grüße-€-ключ-🔑"
"""Apache's password: Latin-1, Euro sign, Cyrillic and an emoji (1 to 4 UTF-8 bytes each)."""

Server = NginxRelay | ApacheLocal
S = TypeVar("S", NginxRelay, ApacheLocal)


def started(manager: AbstractContextManager[S], stack: ExitStack) -> S:
    """Enter a launcher: a skip when the server is not installed, a failure with its log when
    it does not start."""
    try:
        return stack.enter_context(manager)
    except ServerUnavailable as exc:
        reason, skip = f"third-party server not installed: {exc}", True
    except ServerStartError as exc:
        reason, skip = f"third-party server did not start: {exc}", False
    # Outside the handlers: the report is the server's log, not a chain of tracebacks.
    if skip:
        pytest.skip(reason)
    pytest.fail(reason, pytrace=False)


class Servers:
    """Servers a test starts itself; stopped at its end, their logs shown if it fails."""

    def __init__(self) -> None:
        self.stack = ExitStack()
        self.running: list[Server] = []

    def start(self, manager: AbstractContextManager[S]) -> S:
        """Start a server from its launcher for the rest of the test."""
        server = started(manager, self.stack)
        self.running.append(server)
        return server


def apache_for(server: SimulatorThread, **options: Any) -> AbstractContextManager[ApacheLocal]:
    """Apache's launcher for site 0 of ``server``, ``USERNAME`` with ``PASSWORD``."""
    key = server.manifest()["sites"][0]["key"]
    return apache_local(server.relay_url, key, {USERNAME: PASSWORD}, **options)


@pytest.fixture(scope="module")
def relay(plain_server: tuple[Simulator, SimulatorThread]) -> Iterator[NginxRelay]:
    """nginx as the TLS relay: site 0 by its local form, the other keys by the relay form."""
    _, server = plain_server
    with ExitStack() as stack:
        yield started(
            nginx_relay(local_routes(server.manifest()), relay_origin=server.relay_url), stack
        )


@pytest.fixture(scope="module")
def apache(plain_server: tuple[Simulator, SimulatorThread]) -> Iterator[ApacheLocal]:
    """Apache as site 0's local form, with Digest and Basic for ``USERNAME``/``PASSWORD``."""
    with ExitStack() as stack:
        yield started(apache_for(plain_server[1]), stack)


def session_for(
    transport: Transport, *, method: str = "GET", verify: Any = True, attempts: int = 1
) -> Session:
    """A session that sends each call ``attempts`` times at most, unthrottled."""
    return Session(
        rate_limit=None,
        verify=verify,
        method=method,  # type: ignore[arg-type]
        retry=RetryPolicy(max_attempts=attempts, backoff=0.0),
        transport=transport,
    )


@pytest.fixture
def servers() -> Iterator[Servers]:
    """Start servers inside a test: ``servers.start(nginx_relay(...))``."""
    own = Servers()
    with own.stack:
        yield own


def _logs_of(item: pytest.Item) -> list[tuple[str, str]]:
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    found: list[Server] = []
    for value in funcargs.values():
        if isinstance(value, NginxRelay | ApacheLocal):
            found.append(value)
        elif isinstance(value, Servers):
            found.extend(value.running)
    return [(f"{server.process.name} log", server.error_log()) for server in found]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failed test's report ends with the logs of every server it used."""
    report = yield
    if report.failed and call.when == "call":
        for title, text in _logs_of(item):
            report.sections.append((title, text))
    return report
