"""Injected faults: rates, effect on execution, scoping, determinism, control endpoint."""

from __future__ import annotations

import itertools
import math
import time

import anyio
import httpx
import pytest

from thinknx_async.simulator import (
    ConnectionDropped,
    Faults,
    Project,
    Simulator,
    SimulatorConfig,
    SimulatorThread,
    create_app,
)
from thinknx_async.simulator.faults import FaultState
from thinknx_async.simulator.responses import Message, Receive, Scope, Send

from .._wait import until
from .conftest import asgi_client

pytestmark = pytest.mark.anyio

N = 400


def trigger_url(project: Project, site: int = 0) -> str:
    s = project.sites[site]
    return f"/{s.key}/api/V1/trigger?guid={s.devices_by_kind()['button'][0]}"


async def codes_for(sim: Simulator, n: int = N, site: int = 0) -> list[int]:
    async with asgi_client(sim) as client:
        return [(await client.get(trigger_url(sim.project, site))).status_code for _ in range(n)]


def button(sim: Simulator, site: int = 0) -> str:
    return sim.project.sites[site].devices_by_kind()["button"][0]


def within(count: int, rate: float, n: int = N) -> bool:
    """A generous bound: mean +- 5 standard deviations."""
    sd = math.sqrt(n * rate * (1 - rate))
    return abs(count - n * rate) <= 5 * sd + 1


async def test_500_before_execution(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(faults=Faults(error_before_rate=0.3, seed=3)))
    codes = await codes_for(sim)
    errors = codes.count(500)
    assert within(errors, 0.3)
    assert sim.counters.executed(button(sim), "trigger") == codes.count(200) == N - errors
    assert sim.counters.responses(500) == errors


async def test_500_after_execution(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(faults=Faults(error_after_rate=0.2, seed=4)))
    codes = await codes_for(sim)
    assert within(codes.count(500), 0.2)
    assert sim.counters.executed(button(sim), "trigger") == N


async def test_same_seed_same_fate(project: Project) -> None:
    faults = Faults(error_before_rate=0.5, error_after_rate=0.1, seed=11)
    first = await codes_for(Simulator(project, SimulatorConfig(faults=faults)), 100)
    second = await codes_for(Simulator(project, SimulatorConfig(faults=faults)), 100)
    other = await codes_for(Simulator(project, SimulatorConfig(faults=Faults(seed=12))), 100)
    assert first == second
    assert other == [200] * 100


async def test_faults_scoped_to_sites(project: Project) -> None:
    scoped = Faults(error_before_rate=1.0, sites=(project.sites[1].key,))
    sim = Simulator(project, SimulatorConfig(faults=scoped))
    assert await codes_for(sim, 5, site=0) == [200] * 5
    assert await codes_for(sim, 5, site=1) == [500] * 5


async def test_drops_in_process_raise(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(faults=Faults(drop_after_rate=1.0)))
    async with asgi_client(sim) as client:
        with pytest.raises(ConnectionDropped):
            await client.get(trigger_url(project))
    assert sim.counters.executed(button(sim)) == 1
    sim.set_faults(Faults(drop_before_rate=1.0))
    async with asgi_client(sim) as client:
        with pytest.raises(ConnectionDropped):
            await client.get(trigger_url(project))
    assert sim.counters.executed(button(sim)) == 1
    assert sim.counters.responses(0) == 2


async def test_drops_over_sockets(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(faults=Faults(drop_after_rate=0.5, seed=2)))
    with SimulatorThread(sim) as server:
        async with httpx.AsyncClient(base_url=server.relay_url) as client:
            ok = dropped = 0
            for _ in range(60):
                try:
                    r = await client.get(trigger_url(project))
                    assert r.status_code == 200
                    ok += 1
                except (httpx.RemoteProtocolError, httpx.ReadError):
                    dropped += 1
            assert within(dropped, 0.5, 60)
            assert sim.counters.executed(button(sim)) == 60
            sim.set_faults(Faults(drop_before_rate=1.0))
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await client.get(trigger_url(project))
            assert sim.counters.executed(button(sim)) == 60
            sim.set_faults(Faults())
            assert (await client.get(trigger_url(project))).status_code == 200


async def test_latency_fixed_uniform_and_spike(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(faults=Faults(latency=0.05)))
    async with asgi_client(sim) as client:
        start = time.monotonic()
        await client.get(trigger_url(project))
        assert time.monotonic() - start >= 0.05
        sim.set_faults(Faults(latency=0.01, latency_max=0.03, seed=1))
        for _ in range(5):
            start = time.monotonic()
            await client.get(trigger_url(project))
            assert time.monotonic() - start >= 0.01
        sim.set_faults(Faults(spike_rate=1.0, spike_seconds=0.1))
        start = time.monotonic()
        await client.get(trigger_url(project))
        assert time.monotonic() - start >= 0.1


async def test_slow_reply_trickles(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(faults=Faults(slow_rate=1.0, slow_seconds=0.3)))
    # What the server sends, piece by piece (how a client's reads group them is the client's).
    app = create_app(sim)
    sent: list[tuple[float, bytes]] = []

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        async def record(message: Message) -> None:
            if message["type"] == "http.response.body":
                sent.append((time.monotonic(), message.get("body", b"")))
            await send(message)

        await app(scope, receive, record)

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=recording), base_url="http://127.0.0.1"
    ) as client:
        start = time.monotonic()
        r = await client.get(trigger_url(project))
    assert len(sent) == 8  # in eight pieces, each after its share of the 0.3 s
    times = [start] + [t for t, _ in sent]
    assert all(later - earlier >= 0.3 / 8 * 0.99 for earlier, later in itertools.pairwise(times))
    assert b"".join(body for _, body in sent) == r.content
    # Over a socket too: the whole reply, no sooner than its 0.3 s.
    with SimulatorThread(sim) as server:
        async with httpx.AsyncClient(base_url=server.relay_url) as client:
            start = time.monotonic()
            async with client.stream("GET", trigger_url(project)) as r:
                body = b"".join([chunk async for chunk in r.aiter_raw()])
            assert time.monotonic() - start >= 0.29
            assert body.startswith(b'{"namespace":"trigger"')


async def test_down_mode_holds_until_client_gives_up(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(faults=Faults(down=True, down_max_hold=5.0)))
    with SimulatorThread(sim) as server:
        async with httpx.AsyncClient(base_url=server.relay_url) as client:
            with pytest.raises(httpx.ReadTimeout):
                await client.get(trigger_url(project), timeout=0.3)
            # The control endpoint still answers; clearing "down" releases a held request.
            r = await client.get("/_sim/faults")
            assert r.json()["down"] is True

            held = sim.counters.requests() + 1

            async def release() -> None:  # once the request is held, not before
                await until(lambda: sim.counters.requests() >= held, "the request held")
                await client.patch("/_sim/faults", json={"down": False})

            async with anyio.create_task_group() as group:
                group.start_soon(release)
                r = await client.get(trigger_url(project), timeout=3)
            assert r.status_code == 200
        assert sim.counters.executed(button(sim)) == 1


async def test_stalled_requests_are_held_until_the_client_leaves(project: Project) -> None:
    """A stalled request is never answered nor executed, however long the client waits (up to
    ``down_max_hold``); the others are untouched. How many stall is the seed's to say."""
    faults = Faults(stall_rate=0.25, down_max_hold=30.0, seed=4)
    state = FaultState(faults)
    expected = sum(state.plan().stall for _ in range(40))
    assert within(expected, 0.25, 40)
    sim = Simulator(project, SimulatorConfig(faults=faults))
    fates: list[str] = []
    with SimulatorThread(sim) as server:
        async with httpx.AsyncClient(base_url=server.relay_url, timeout=2.0) as client:

            async def one() -> None:
                try:
                    fates.append(str((await client.get(trigger_url(project))).status_code))
                except httpx.ReadTimeout:
                    fates.append("stalled")

            with anyio.fail_after(30):
                async with anyio.create_task_group() as group:
                    for _ in range(40):
                        group.start_soon(one)
                # The server sees each client leave (its held requests end, uncounted as run).
                counters = sim.counters
                await until(lambda: counters.requests() == counters.responses(), "all ended")
            assert sorted(fates) == sorted(["stalled"] * expected + ["200"] * (40 - expected))
            assert sim.counters.responses(0) == expected
            assert sim.counters.executed(button(sim)) == 40 - expected
            sim.set_faults(Faults(stall_rate=1.0, down_max_hold=0.2))
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await client.get(trigger_url(project))  # bounded: dropped
    assert sim.counters.executed(button(sim)) == 40 - expected


async def test_down_mode_is_bounded(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(faults=Faults(down=True, down_max_hold=0.2)))
    with SimulatorThread(sim) as server:
        async with httpx.AsyncClient(base_url=server.relay_url) as client:
            with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
                await client.get(trigger_url(project), timeout=3)
    assert sim.counters.executed(button(sim)) == 0


async def test_stop_releases_held_requests(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(faults=Faults(down=True, down_max_hold=30)))
    server = SimulatorThread(sim).start()
    outcome: list[str] = []

    async def held() -> None:
        try:
            async with httpx.AsyncClient(base_url=server.relay_url) as client:
                await client.get(trigger_url(project), timeout=10)
        except httpx.HTTPError as exc:
            outcome.append(type(exc).__name__)

    async with anyio.create_task_group() as group:
        group.start_soon(held)
        await until(lambda: sim.counters.requests() >= 1, "the request held before the stop")
        await anyio.to_thread.run_sync(server.stop)
    assert outcome  # the held request ended (with an error) instead of hanging


async def test_429_storm(project: Project) -> None:
    # A storm far longer than the test: a slow machine cannot see it end early.
    sim = Simulator(project, SimulatorConfig(faults=Faults(storm_seconds=600)))
    async with asgi_client(sim) as client:
        r = await client.get(trigger_url(project))
        assert r.status_code == 429
        assert 590 <= int(r.headers["retry-after"]) <= 600
        # It ends on time (the clock is given, not waited for), and a new fault set ends it.
        state = sim.fault_state
        assert state.storm_wait(state.storm_until - 0.4) == pytest.approx(0.4)
        assert state.storm_wait(state.storm_until + 0.01) == 0.0
        sim.set_faults(Faults())
        assert (await client.get(trigger_url(project))).status_code == 200
    assert sim.counters.executed(button(sim)) == 1


async def test_control_endpoint(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig())
    guid = button(sim)
    async with asgi_client(sim) as client:
        assert (await client.get("/_sim/health")).json() == {"ok": True}
        r = await client.put("/_sim/faults", json={"error_before_rate": 1.0, "seed": 5})
        assert r.status_code == 200
        assert sim.faults.error_before_rate == 1.0
        assert (await client.get(trigger_url(project))).status_code == 500
        r = await client.patch("/_sim/faults", json={"latency": 0.001})
        assert r.json()["error_before_rate"] == 1.0
        r = await client.put("/_sim/faults", json={"latency": 0.0})
        assert r.json()["error_before_rate"] == 0.0
        r = await client.put("/_sim/faults", json={"error_before_rate": 2})
        assert r.status_code == 400
        r = await client.put("/_sim/faults", json={"no_such_fault": 1})
        assert r.status_code == 400
        r = await client.put("/_sim/faults", json=[1])
        assert r.status_code == 400
        assert (await client.get(trigger_url(project))).status_code == 200
        counters = (await client.get("/_sim/counters")).json()
        assert counters["executed"] == {guid: {"trigger": 1}}
        assert counters["requests"]["site-1"]["trigger"] == 2
        assert counters["responses"] == {"200": 1, "500": 1}
        state = (await client.get(f"/_sim/state/{guid}")).json()
        assert state["triggers"] == 1
        assert (await client.get("/_sim/state/nope")).status_code == 404
        manifest = (await client.get("/_sim/manifest")).json()
        assert manifest["sites"][0]["key"] == project.sites[0].key
        assert (await client.post("/_sim/reset", content=b"{bad")).status_code == 400
        r = await client.post("/_sim/reset")
        assert r.json() == {"ok": True}
        assert sim.counters.executed(guid) == 0
        assert sim.device_state(guid)["triggers"] == 0
        sim.set_faults(Faults(error_before_rate=1.0))
        await client.post("/_sim/reset", json={"faults": True, "state": False})
        assert sim.faults == Faults()
        # Faults never touch the control endpoint.
        sim.set_faults(Faults(down=True, storm_seconds=10))
        assert (await client.get("/_sim/counters")).status_code == 200


def test_faults_validation_and_round_trip() -> None:
    with pytest.raises(ValueError, match="within"):
        Faults(drop_after_rate=1.5)
    with pytest.raises(ValueError, match="latency"):
        Faults(latency=0.2, latency_max=0.1)
    faults = Faults(latency=0.1, sites=("abc",), seed=3)
    assert Faults.from_dict(faults.to_dict()) == faults
    assert not Faults().active
    assert Faults(down=True).active
