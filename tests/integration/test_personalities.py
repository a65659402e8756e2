"""The endpoint-by-access-mode matrix, and the error checks, against every server personality.

One pair of servers (plain HTTP and HTTPS) per personality, shared by the module's tests.
Columns: the matrix (every endpoint, every access mode, GET and POST), refused credentials,
a 429 and its ``Retry-After``, and a proxy's HTML 502/503/504 pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

import anyio
import httpx
import pytest

from thinknx_async import (
    AuthenticationError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    Session,
    Site,
)
from thinknx_async.simulator import (
    Faults,
    Personality,
    Project,
    Simulator,
    SimulatorConfig,
    SimulatorThread,
)
from thinknx_async.simulator.ratelimit import RetryAfterStyle

from ..conftest import Transport
from .conftest import MODES, ca_context, first_site, open_site
from .test_endpoints import drive_every_endpoint

PERSONALITIES: dict[str, tuple[Personality, RetryAfterStyle]] = {
    "numbers-as-strings": (Personality(numbers_as_strings=True), "seconds"),
    "401-for-403": (Personality(auth_failure_status=401), "seconds"),
    "retry-after-seconds": (Personality(), "seconds"),
    "retry-after-date": (Personality(), "date"),
    "slow-tls-handshake": (Personality(tls_handshake_delay=0.2), "seconds"),
    "connection-close": (Personality(connection_close=True), "seconds"),
    "http-1.0": (Personality(http10=True), "seconds"),
}
"""name: (personality, Retry-After style). Proxy pages are a fault, checked on every one."""

STORM = 30.0
"""Seconds of the 429 storm of the rate-limit check (the test clears it at once)."""


@dataclass
class Servers:
    """The plain-HTTP and HTTPS servers of one personality."""

    name: str
    plain: tuple[Simulator, SimulatorThread]
    tls: tuple[Simulator, SimulatorThread]

    def pick(self, mode: str) -> tuple[Simulator, SimulatorThread]:
        return self.tls if mode == "relay-https" else self.plain


@pytest.fixture(scope="module")
def servers(request: pytest.FixtureRequest) -> Iterator[Servers]:
    name = str(request.param)
    personality, retry_after = PERSONALITIES[name]

    def make(tls: bool) -> Simulator:
        config = SimulatorConfig(
            local_ports=1, tls=tls, personality=personality, retry_after=retry_after
        )
        return Simulator(Project.generate(sites=3, seed=7), config)

    plain, tls = make(False), make(True)
    with SimulatorThread(plain) as plain_server, SimulatorThread(tls) as tls_server:
        yield Servers(name, (plain, plain_server), (tls, tls_server))


def session_for(mode: str, server: SimulatorThread, transport: Transport, method: str) -> Session:
    return Session(
        rate_limit=None,
        verify=ca_context(server) if mode == "relay-https" else True,
        method=method,  # type: ignore[arg-type]
        retry=RetryPolicy(max_attempts=1),
        transport=transport,
    )


@pytest.mark.anyio
@pytest.mark.parametrize("servers", list(PERSONALITIES), indirect=True)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_every_endpoint_in_every_mode(
    servers: Servers, mode: str, method: str, transport: Transport
) -> None:
    sim, server = servers.pick(mode)
    with anyio.fail_after(60):
        async with session_for(mode, server, transport, method) as session:
            site = open_site(session, server, mode)
            await drive_every_endpoint(site, first_site(server), sim)


def wrong_credentials(session: Session, server: SimulatorThread, mode: str) -> Site:
    entry = first_site(server)
    if mode.startswith("relay"):
        return session.on_premise(server.relay_url, "x" + entry["key"], allow_insecure=True)
    url = httpx.URL(entry["local_url"])
    assert url.host and url.port
    return session.local(
        url.host,
        port=url.port,
        username=entry["username"],
        password=entry["password"] + "x",
        auth=mode,  # type: ignore[arg-type]
    )


E = TypeVar("E", bound=Exception)


async def failing_turn_on(
    servers: Servers, mode: str, transport: Transport, error: type[E], wrong: bool = False
) -> E:
    """The ``error`` that turning a light on raises (with ``wrong`` credentials); the command
    must not have run."""
    sim, server = servers.pick(mode)
    light = first_site(server)["devices"]["light"][0]
    before = sim.counters.executed(light)
    with anyio.fail_after(60):
        async with session_for(mode, server, transport, "GET") as session:
            site = (wrong_credentials if wrong else open_site)(session, server, mode)
            with pytest.raises(error) as caught:
                await site.light(light).turn_on()
    assert sim.counters.executed(light) == before
    return caught.value


@pytest.mark.anyio
@pytest.mark.parametrize("servers", list(PERSONALITIES), indirect=True)
@pytest.mark.parametrize("mode", ["digest", "basic", "relay-http"])
async def test_refused_credentials_are_an_authentication_error(
    servers: Servers, mode: str, transport: Transport
) -> None:
    error = await failing_turn_on(servers, mode, transport, AuthenticationError, wrong=True)
    assert error.status_code == servers.plain[0].personality.auth_failure_status


@pytest.mark.anyio
@pytest.mark.parametrize("servers", list(PERSONALITIES), indirect=True)
@pytest.mark.parametrize("mode", ["relay-http", "relay-https"])
async def test_429_carries_the_retry_after_of_the_personality(
    servers: Servers, mode: str, transport: Transport
) -> None:
    sim = servers.pick(mode)[0]
    sim.set_faults(Faults(storm_seconds=STORM))
    try:
        error = await failing_turn_on(servers, mode, transport, RateLimitedError)
    finally:
        sim.set_faults(Faults())
    assert error.retry_after is not None and 0 < error.retry_after <= STORM + 1
    if sim.config.retry_after == "seconds":
        assert error.retry_after == int(error.retry_after)


@pytest.mark.anyio
@pytest.mark.parametrize("servers", list(PERSONALITIES), indirect=True)
@pytest.mark.parametrize("mode", ["basic", "relay-https"])
@pytest.mark.parametrize("status", [502, 503, 504])
async def test_proxy_error_pages_are_a_server_error(
    servers: Servers, mode: str, status: int, transport: Transport
) -> None:
    sim = servers.pick(mode)[0]
    sim.set_faults(Faults(gateway_rate=1.0, gateway_status=status))
    try:
        error = await failing_turn_on(servers, mode, transport, ServerError)
    finally:
        sim.set_faults(Faults())
    assert error.status_code == status
    assert "<html>" not in str(error)
