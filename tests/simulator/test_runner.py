"""The threaded server: startup time, clean stop, counters under concurrency, manifests."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import anyio
import httpx
import pytest

from thinknx_async.simulator import Project, Simulator, SimulatorConfig, SimulatorThread
from thinknx_async.simulator.counters import Counters

from .._wait import until

pytestmark = pytest.mark.anyio


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_starts_fast_and_stops_clean(project: Project) -> None:
    before = set(threading.enumerate())
    sim = Simulator(project, SimulatorConfig(local_ports=2))
    with SimulatorThread(sim) as server:
        assert any(t.name == "thinknx-simulator" for t in threading.enumerate())
        ports = [int(u.rsplit(":", 1)[1]) for u in [server.relay_url, *server.local_urls.values()]]
        assert len(set(ports)) == 3
        assert list(server.local_urls) == ["site-1", "site-2"]
        r = httpx.get(f"{server.relay_url}/_sim/health")
        assert r.status_code == 200
    assert not server.running
    assert set(threading.enumerate()) - before == set()  # its thread is gone
    assert all(port_is_free(p) for p in ports)
    # In-process addressing is restored after the server stops.
    assert sorted(sim.by_port) == [5051, 5052]


@pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])
async def test_exact_counters_under_concurrency(project: Project, anyio_backend: str) -> None:
    sim = Simulator(project, SimulatorConfig(local_ports=1))
    site = project.sites[0]
    lights = site.devices_by_kind()["light"]
    workers, per_worker = 8, 25
    with SimulatorThread(sim) as server:
        base = f"{server.relay_url}/{site.key}/api/V1"
        limits = httpx.Limits(max_connections=workers)
        async with httpx.AsyncClient(limits=limits) as client:

            async def worker(n: int) -> None:
                guid = lights[n % 2]
                for i in range(per_worker):
                    r = await client.get(f"{base}/power?guid={guid}&cmd={i % 2}")
                    assert r.status_code == 200

            async with anyio.create_task_group() as group:
                for n in range(workers):
                    group.start_soon(worker, n)
            r = await client.get(f"{base}/power?guid={lights[0]}&cmd=7")
            assert r.status_code == 400
            assert sim.counters.connected >= 1
    total = workers * per_worker
    assert sim.counters.executed(lights[0], "power") == total // 2
    assert sim.counters.executed(lights[1], "power") == total // 2
    assert sim.counters.requests(site="site-1", controller="power") == total + 1
    assert sim.counters.responses(200) == total
    assert sim.counters.responses(400) == 1
    assert 1 <= sim.counters.connections_opened <= workers
    assert sim.counters.tcp_connections_opened == sim.counters.connections_opened
    # Polled: the gauge is updated by the server thread.
    await until(lambda: sim.counters.connected == 0, "every connection closed")


def test_new_connection_per_client_is_counted(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig())
    with SimulatorThread(sim) as server:
        for _ in range(3):
            with httpx.Client() as client:
                client.get(f"{server.relay_url}/{project.sites[0].key}/api/V1/system/serverStatus")
                client.get(f"{server.relay_url}/{project.sites[0].key}/api/V1/system/serverStatus")
    assert sim.counters.connections_opened == 3
    assert sim.counters.requests() == 6
    sim.reset_counters()
    assert sim.counters.snapshot()["requests_total"] == 0


def test_manifest(project: Project, tmp_path: Path) -> None:
    sim = Simulator(project, SimulatorConfig(local_ports=1, rate=5.0, burst=3))
    with SimulatorThread(sim) as server:
        path = server.write_manifest(tmp_path / "manifest.json")
        manifest = json.loads(path.read_text())
        assert manifest == server.manifest()
        assert manifest["relay_url"] == server.relay_url
        assert manifest["ca_file"] is None
        first, second = manifest["sites"][:2]
        assert first["local_url"] == server.local_urls["site-1"]
        assert second["local_url"] is None
        assert set(first) == {
            "name",
            "key",
            "local_url",
            "username",
            "password",
            "rate",
            "burst",
            "devices",
            "groups",
        }
        assert (first["rate"], first["burst"]) == (5.0, 3)
        assert list(first["devices"]) == ["light", "blind", "thermostat", "hvac", "scene", "button"]
        assert all(len(g) == 22 for guids in first["devices"].values() for g in guids)
        assert first["groups"] == list(project.sites[0].groups)
        r = httpx.get(f"{server.relay_url}/_sim/manifest")
        assert r.json() == manifest


def test_fixed_ports(project: Project) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sim = Simulator(project, SimulatorConfig(local_ports=0))
    with SimulatorThread(sim, port=port) as server:
        assert server.relay_url == f"http://127.0.0.1:{port}"
        assert server.local_urls == {}
        assert httpx.get(f"{server.relay_url}/_sim/health").status_code == 200


def test_port_in_use_fails_cleanly(project: Project) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        sim = Simulator(project, SimulatorConfig(local_ports=1, tls=True))
        server = SimulatorThread(sim, port=0, local_ports=[port])
        with pytest.raises(OSError, match="in use"):
            server.start()
        assert not server.running


def test_connection_counts_stay_exact_and_small_when_ports_come_round() -> None:
    """A client port is reused once its connection closed: counted again, and a closed
    connection is not remembered (a long benchmark opens millions)."""
    counters = Counters()
    for _ in range(3):
        for port in range(1000, 1100):
            counters.connection_made()
            counters.record_request("site-1", "power", ("127.0.0.1", port))
            counters.record_request("site-1", "power", ("127.0.0.1", port))
            counters.connection_lost(("127.0.0.1", port))
    assert counters.connections_opened == 300
    assert counters.tcp_connections_opened == 300
    assert counters.connected == 0
    assert len(counters._clients) == 0  # nothing kept for closed connections
    counters.reset()
    assert counters.connections_opened == 0
