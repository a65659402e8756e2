"""nginx as the on-premise relay: TLS, the key in the path, an http -> https 301, limit_req."""

from __future__ import annotations

import pytest

from thinknx_async import AuthenticationError, RateLimitedError
from thinknx_async.simulator import Simulator, SimulatorThread

from ..conftest import Transport
from ..integration.test_endpoints import drive_every_endpoint
from .conftest import Servers, session_for
from .nginx import Limit, NginxRelay, local_routes, nginx_relay

pytestmark = pytest.mark.anyio

ROUTES = {"local form": 0, "relay form": 1}
"""Which simulated site each way through nginx reaches (see the ``relay`` fixture)."""


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_every_endpoint_through_nginx(
    route: str,
    method: str,
    transport: Transport,
    plain_server: tuple[Simulator, SimulatorThread],
    relay: NginxRelay,
) -> None:
    sim, server = plain_server
    entry = server.manifest()["sites"][ROUTES[route]]
    async with session_for(transport, method=method, verify=relay.ca_file) as session:
        site = session.on_premise(relay.https_url, entry["key"])
        await drive_every_endpoint(site, entry, sim)


async def test_http_is_redirected_once_to_https_and_remembered(
    transport: Transport, plain_server: tuple[Simulator, SimulatorThread], servers: Servers
) -> None:
    sim, server = plain_server
    manifest = server.manifest()
    entry = manifest["sites"][0]
    relay = servers.start(nginx_relay(local_routes(manifest)))  # a log of this test's own
    guid = entry["devices"]["light"][0]
    before = sim.counters.executed(guid, "power")
    async with session_for(transport, verify=relay.ssl_context()) as session:
        site = session.on_premise(relay.http_url, entry["key"], allow_insecure=True)
        light = site.light(guid)
        await light.turn_on()
        assert site.url.startswith(relay.https_url + "/")
        assert await light.is_on() is True
        await light.turn_on()
    assert sim.counters.executed(guid, "power") == before + 2  # the 301 ran nothing
    assert relay.access_log(at_least=4) == [
        f"301 GET /***/api/V1/power?guid={guid}&cmd=1",
        f"200 GET /***/api/V1/power?guid={guid}&cmd=1",
        f"200 GET /***/api/V1/powerstatus?guid={guid}",
        f"200 GET /***/api/V1/power?guid={guid}&cmd=1",
    ]


async def test_limit_req_answers_429_with_retry_after(
    transport: Transport, plain_server: tuple[Simulator, SimulatorThread], servers: Servers
) -> None:
    sim, server = plain_server
    manifest = server.manifest()
    limited, other = manifest["sites"][0], manifest["sites"][1]
    burst, retry_after = 3, 7
    # One request a minute: the bucket refills far slower than this test runs, so exactly
    # 1 + burst requests pass and every later one is refused, however loaded the machine.
    relay = servers.start(
        nginx_relay(
            local_routes(manifest),
            relay_origin=server.relay_url,
            limit=Limit("1r/m", burst=burst, retry_after=retry_after),
        )
    )
    guid = limited["devices"]["light"][0]
    before = sim.counters.executed(guid, "power")
    async with session_for(transport, verify=relay.ssl_context()) as session:
        light = session.on_premise(relay.https_url, limited["key"]).light(guid)
        for _ in range(1 + burst):
            await light.turn_on()
        with pytest.raises(RateLimitedError) as refused:
            await light.turn_on()
        # Another key has its own bucket.
        await (
            session.on_premise(relay.https_url, other["key"])
            .light(other["devices"]["light"][0])
            .turn_off()
        )
    assert refused.value.status_code == 429
    assert refused.value.retry_after == retry_after
    assert limited["key"] not in f"{refused.value} {refused.value!r}"
    assert sim.counters.executed(guid, "power") == before + 1 + burst
    log = relay.access_log(at_least=1 + burst + 2)
    assert log.count(f"429 GET /***/api/V1/power?guid={guid}&cmd=1") == 1


async def test_limit_req_refusals_are_retried_after_the_servers_delay(
    transport: Transport, plain_server: tuple[Simulator, SimulatorThread], servers: Servers
) -> None:
    sim, server = plain_server
    manifest = server.manifest()
    entry = manifest["sites"][0]
    relay = servers.start(
        nginx_relay(local_routes(manifest), limit=Limit("1r/m", burst=0, retry_after=1))
    )
    guid = entry["devices"]["light"][0]
    before = sim.counters.executed(guid, "power")
    attempts = 3
    async with session_for(transport, verify=relay.ssl_context(), attempts=attempts) as session:
        light = session.on_premise(relay.https_url, entry["key"]).light(guid)
        await light.turn_off()
        with pytest.raises(RateLimitedError) as refused:
            await light.turn_off()
    assert refused.value.retry_after == 1
    assert sim.counters.executed(guid, "power") == before + 1
    log = relay.access_log(at_least=1 + attempts)
    assert log.count(f"429 GET /***/api/V1/power?guid={guid}&cmd=0") == attempts


async def test_an_unknown_key_is_refused_by_nginx_itself(
    transport: Transport, plain_server: tuple[Simulator, SimulatorThread], servers: Servers
) -> None:
    _, server = plain_server
    relay = servers.start(nginx_relay(local_routes(server.manifest())))
    async with session_for(transport, verify=relay.ssl_context()) as session:
        site = session.on_premise(relay.https_url, "NoSuchKey0123456789")
        with pytest.raises(AuthenticationError) as refused:
            await site.server_status()
    assert refused.value.status_code == 403
    assert refused.value.body == {"error": "wrong authentication information"}
    assert "NoSuchKey0123456789" not in str(refused.value)
