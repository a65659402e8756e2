"""Every error type, produced by the simulator over real sockets."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from thinknx_async import (
    AuthenticationError,
    BadRequestError,
    ConnectError,
    DeviceNotFoundError,
    ExecutionError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    Session,
    TimeoutError,
    TransportError,
)
from thinknx_async.simulator import Faults, Project, Simulator, SimulatorConfig, SimulatorThread

from ..conftest import Transport
from .conftest import first_site, open_site

NO_RETRY = RetryPolicy(max_attempts=1)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Simulator, SimulatorThread]]:
    project = Project.generate(sites=2, seed=11)
    config = SimulatorConfig(local_ports=1, rate=1.0, burst=1, retry_after="seconds")
    sim = Simulator(project, config)
    with SimulatorThread(sim) as thread:
        yield sim, thread


@pytest.fixture
def sim(server: tuple[Simulator, SimulatorThread]) -> Iterator[Simulator]:
    simulator = server[0]
    simulator.reset()
    yield simulator
    simulator.set_faults(Faults())


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["digest", "relay-http"])
async def test_api_errors_map_to_their_types(
    server: tuple[Simulator, SimulatorThread], sim: Simulator, mode: str, transport: Transport
) -> None:
    thread = server[1]
    light = first_site(thread)["devices"]["light"][0]
    async with Session(rate_limit=None, retry=NO_RETRY, transport=transport) as session:
        site = open_site(session, thread, mode)
        with pytest.raises(DeviceNotFoundError) as not_found:
            await site.light("NoSuchDeviceGuid000000").turn_on()
        assert not_found.value.status_code == 404
        sim.reset()
        with pytest.raises(ExecutionError):
            await site.call("heightlevel", {"guid": light, "val": 50})
        sim.reset()
        with pytest.raises(BadRequestError) as bad:
            await site.call("power", {"guid": light, "cmd": 2})
        assert bad.value.body == {"error": "params errors"}
        sim.reset()
        await site.light(light).turn_on()
        with pytest.raises(RateLimitedError) as limited:
            await site.light(light).turn_on()  # the site's bucket holds one token
        assert limited.value.retry_after is not None
        assert limited.value.retry_after >= 1
        assert limited.value.attempts == 1


@pytest.mark.anyio
@pytest.mark.parametrize("auth", ["digest", "basic", "query"])
async def test_wrong_password_is_an_authentication_error(
    server: tuple[Simulator, SimulatorThread], sim: Simulator, auth: str, transport: Transport
) -> None:
    thread = server[1]
    entry = first_site(thread)
    host, port = entry["local_url"].removeprefix("http://").split(":")
    async with Session(rate_limit=None, retry=NO_RETRY, transport=transport) as session:
        with pytest.warns() if auth == "query" else _nothing():
            site = session.local(
                host,
                port=int(port),
                username=entry["username"],
                password="wrong-password",
                auth=auth,  # type: ignore[arg-type]
            )
        with pytest.raises(AuthenticationError) as denied:
            await site.light(entry["devices"]["light"][0]).turn_on()
        assert denied.value.status_code == 403
        assert "wrong-password" not in str(denied.value)
    assert sim.counters.total_executed() == 0


@pytest.mark.anyio
async def test_unknown_key_is_an_authentication_error(
    server: tuple[Simulator, SimulatorThread], sim: Simulator, transport: Transport
) -> None:
    async with Session(rate_limit=None, retry=NO_RETRY, transport=transport) as session:
        site = session.on_premise(server[1].relay_url, "UnknownKey123", allow_insecure=True)
        with pytest.raises(AuthenticationError):
            await site.server_status()


@pytest.mark.anyio
async def test_server_faults_map_to_server_and_transport_errors(transport: Transport) -> None:
    sim = Simulator(Project.generate(sites=1, seed=12), SimulatorConfig(local_ports=0))
    with SimulatorThread(sim) as thread:
        await _faults_against(sim, thread, transport)


async def _faults_against(sim: Simulator, thread: SimulatorThread, transport: Transport) -> None:
    entry = first_site(thread)
    light = entry["devices"]["light"][0]
    # Long enough for any reply on a loaded machine: only a stalled one (never answered) times out.
    async with Session(
        rate_limit=None, retry=NO_RETRY, timeout=1.0, transport=transport
    ) as session:
        site = open_site(session, thread, "relay-http")
        sim.set_faults(Faults(error_before_rate=1.0, sites=(entry["key"],)))
        with pytest.raises(ServerError) as failed:
            await site.light(light).turn_on()
        assert failed.value.status_code == 500
        sim.set_faults(Faults(drop_after_rate=1.0, sites=(entry["key"],)))
        with pytest.raises(TransportError) as dropped:
            await site.light(light).turn_on()
        assert dropped.value.__cause__ is not None
        sim.set_faults(Faults(stall_rate=1.0, down_max_hold=60.0, sites=(entry["key"],)))
        with pytest.raises(TimeoutError):
            await site.light(light).is_on()


@pytest.mark.anyio
async def test_a_closed_port_is_a_connect_error(transport: Transport) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nobody listens on it
    async with Session(rate_limit=None, retry=NO_RETRY, transport=transport) as session:
        site = session.on_premise(f"http://127.0.0.1:{port}", "Key1", allow_insecure=True)
        with pytest.raises(ConnectError) as refused:
            await site.server_status()
        assert refused.value.never_sent


class _nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None
