"""Personalities, checked on the wire with plain httpx and raw sockets."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time

import httpx
import pytest

from thinknx_async.simulator import (
    Faults,
    Personality,
    Project,
    Simulator,
    SimulatorConfig,
    SimulatorThread,
)
from thinknx_async.simulator.cli import build_parser, simulator_from_args
from thinknx_async.simulator.personality import proxy_page
from thinknx_async.simulator.runner import _bind

from .conftest import Target, asgi_client

pytestmark = pytest.mark.anyio

STRINGS = Personality(numbers_as_strings=True)


def devices(project: Project, kind: str, site: int = 0) -> list[str]:
    return project.sites[site].devices_by_kind()[kind]


# -- numbers as strings -------------------------------------------------------------------------


async def test_numbers_as_strings_keep_their_exact_text_and_order(target: Target) -> None:
    sim = target.sim
    sim.set_personality(STRINGS)
    project = sim.project
    light, thermostat = devices(project, "light")[0], devices(project, "thermostat")[0]
    comm_obj = str(project.sites[0].devices[0].comm_obj)
    group = project.sites[0].groups[0]
    base = target.site_url()
    async with target.client() as client:
        r = await client.get(f"{base}/power?guid={light}&cmd=1&fb")
        assert r.status_code == 200
        assert list(r.json()) == ["namespace", "guid", "status", "comm_obj"]
        assert r.json() == {
            "namespace": "power",
            "guid": light,
            "status": "1",
            "comm_obj": comm_obj,
        }
        r = await client.get(f"{base}/setpoint?guid={thermostat}&cmd=20.5&fb")
        assert r.json()["status"] == "20.5"
        r = await client.get(f"{base}/system/sendKNXfloat2bytes?group={group}&value=85.235")
        assert r.text == (
            f'{{"namespace":"system/sendKNXfloat2bytes","group":"{group}","value":"85.235"}}'
        )
        r = await client.get(f"{base}/system/serverStatus")
        clients = r.json()["connected_clients"]
        assert isinstance(clients, str) and clients.isdigit()
        r = await client.get(f"{base}/power?guid={light}&cmd=7")
        assert (r.status_code, r.text) == (400, '{"error":"params errors"}')
        sim.set_personality(Personality())
        r = await client.get(f"{base}/powerstatus?guid={light}")
        assert r.json()["status"] == 1


def test_personality_body_converts_nothing_but_numbers() -> None:
    body = b'{"namespace":"x","version":"03.02","n":-12,"f":0.5,"b":true,"z":null}'
    assert STRINGS.body(body) == (
        b'{"namespace":"x","version":"03.02","n":"-12","f":"0.5","b":true,"z":null}'
    )
    assert Personality().body(body) is body


# -- 401 instead of 403 -------------------------------------------------------------------------


async def test_refused_credentials_answer_401_with_a_challenge(target: Target) -> None:
    sim = target.sim
    sim.set_personality(Personality(auth_failure_status=401))
    site = sim.project.sites[0]
    light = devices(sim.project, "light")[0]
    local = f"{target.local}/api/V1/powerstatus?guid={light}"
    async with target.client() as client:
        r = await client.get(f"{target.relay}/nokey/api/V1/powerstatus?guid={light}")
        assert (r.status_code, r.text) == (401, '{"error":"wrong authentication information"}')
        r = await client.get(f"{local}&auth=basic", auth=(site.username, "wrong"))
        assert r.status_code == 401
        assert r.json() == {"error": "wrong authentication information"}
        assert r.headers["www-authenticate"].startswith('Basic realm="Thinknx"')
        r = await client.get(f"{local}&auth=digest", auth=httpx.DigestAuth(site.username, "x"))
        assert r.status_code == 401
        assert r.headers.get_list("www-authenticate")[0].startswith("Digest ")
        r = await client.get(f"{local}&auth=nonsense")
        assert r.status_code == 401
        r = await client.get(f"{local}&auth=basic")  # no credentials: 401 as before
        assert r.json() == {"error": "authentication required"}
        r = await client.get(f"{local}&auth=basic", auth=(site.username, site.password))
        assert r.status_code == 200
        sim.set_personality(Personality())
        r = await client.get(f"{local}&auth=basic", auth=(site.username, "wrong"))
        assert r.status_code == 403 and "www-authenticate" not in r.headers
    assert sim.counters.executed(light, "powerstatus") == 1


# -- a proxy's error pages ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_gateway_fault_answers_the_proxys_html_page(target: Target, status: int) -> None:
    sim = target.sim
    sim.set_faults(Faults(gateway_rate=1.0, gateway_status=status))
    light = devices(sim.project, "light")[0]
    async with target.client() as client:
        r = await client.get(f"{target.site_url()}/power?guid={light}&cmd=1")
        assert r.status_code == status
        assert r.headers["content-type"] == "text/html"
        assert r.headers["server"].startswith("nginx/")
        assert r.content == proxy_page(status)
        assert r.text.startswith(f"<html>\r\n<head><title>{status} ")
        assert (
            await client.get(
                "/_sim/health" if target.server is None else f"{target.relay}/_sim/health"
            )
        ).json() == {"ok": True}
    assert sim.counters.executed(light) == 0
    assert sim.counters.responses(status) == 1


def test_proxy_pages_and_gateway_statuses() -> None:
    assert b"<title>504 Gateway Time-out</title>" in proxy_page(504)
    assert b"<h1>503 Service Temporarily Unavailable</h1>" in proxy_page(503)
    with pytest.raises(ValueError, match="gateway_status"):
        Faults(gateway_status=500)
    with pytest.raises(ValueError, match="gateway_rate"):
        Faults(gateway_rate=1.5)


async def test_gateway_rate_is_drawn_from_the_seed(project: Project) -> None:
    faults = Faults(gateway_rate=0.5, seed=9)
    light = devices(project, "light")[0]

    async def statuses() -> list[int]:
        sim = Simulator(project, SimulatorConfig(faults=faults))
        async with asgi_client(sim) as client:
            url = f"/{project.sites[0].key}/api/V1/power?guid={light}&cmd=1"
            return [(await client.get(url)).status_code for _ in range(60)]

    first = await statuses()
    assert first == await statuses()
    assert set(first) == {200, 502}


# -- Connection: close and HTTP/1.0 -------------------------------------------------------------


async def test_connection_close_on_every_reply(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(local_ports=1))
    light = devices(project, "light")[0]
    with SimulatorThread(sim, personality=Personality(connection_close=True)) as server:
        url = f"{server.relay_url}/{project.sites[0].key}/api/V1/powerstatus?guid={light}"
        async with httpx.AsyncClient(timeout=10) as client:
            for _ in range(3):
                r = await client.get(url)
                assert r.headers["connection"] == "close"
            opened = sim.counters.tcp_connections_opened
            assert opened == 3
            sim.set_personality(Personality())
            for _ in range(3):
                assert "connection" not in (await client.get(url)).headers
            assert sim.counters.tcp_connections_opened == opened + 1


def raw_exchange(port: int, requests: list[bytes]) -> bytes:
    """Send requests one after the other on one connection; everything read until EOF."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        out = b""
        for request in requests:
            sock.sendall(request)
            if request is not requests[-1]:
                out += read_reply(sock)
        while chunk := sock.recv(65536):
            out += chunk
        return out


def read_reply(sock: socket.socket) -> bytes:
    """One reply with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")).split(b":")[
            1
        ]
    )
    while len(body) < length:
        body += sock.recv(65536)
    return data


def test_http10_replies(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(personality=Personality(http10=True)))
    light = devices(project, "light")[0]
    with SimulatorThread(sim) as server:
        port = int(server.relay_url.rsplit(":", 1)[1])
        path = f"/{project.sites[0].key}/api/V1/powerstatus?guid={light}".encode()
        plain = b"GET " + path + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        reply = raw_exchange(port, [plain])  # returns only because the server closes
        head, _, body = reply.partition(b"\r\n\r\n")
        lines = head.lower().split(b"\r\n")
        assert lines[0] == b"http/1.0 200 ok"
        assert b"connection: close" in lines and b"transfer-encoding: chunked" not in lines
        assert json.loads(body)["status"] == 0
        asked = b"GET " + path + b" HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n"
        both = raw_exchange(port, [asked, plain])
        assert both.count(b"HTTP/1.0 200 OK\r\n") == 2
        assert both.split(b"\r\n\r\n")[0].endswith(b"\r\nconnection: keep-alive")
        assert sim.counters.tcp_connections_opened == 2
        old = b"GET " + path + b" HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        reply = raw_exchange(port, [old])  # returns only because the server closes
        assert reply.startswith(b"HTTP/1.0 200 OK\r\n") and b"connection: close\r\n" in reply


# -- slow TLS handshakes ------------------------------------------------------------------------


def test_tls_handshake_delay_holds_each_handshake_without_blocking_the_server(
    project: Project,
) -> None:
    sim = Simulator(
        project, SimulatorConfig(tls=True, personality=Personality(tls_handshake_delay=0.4))
    )
    with SimulatorThread(sim) as server:
        context = server.ssl_context()
        assert context is not None
        port = int(server.relay_url.rsplit(":", 1)[1])
        start = time.monotonic()
        with (
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            pass
        assert time.monotonic() - start >= 0.35  # a lower bound: a sleep never ends early
        # A handshake held for an hour does not hold up the next connection.
        sim.set_personality(Personality(tls_handshake_delay=3600))
        held_result: list[BaseException | None] = []
        held = socket.create_connection(("127.0.0.1", port), timeout=100)

        def handshake() -> None:
            try:
                context.wrap_socket(held, server_hostname="127.0.0.1")
                held_result.append(None)
            except (OSError, ssl.SSLError) as exc:
                held_result.append(exc)

        thread = threading.Thread(target=handshake, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while sim.counters.tcp_connections_opened < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        sim.set_personality(Personality())
        r = httpx.get(f"{server.relay_url}/_sim/health", verify=context, timeout=10)
        assert r.json() == {"ok": True}
        assert thread.is_alive() and not held_result
    # Stopping the server aborts the held handshake.
    thread.join(30)
    held.close()
    assert len(held_result) == 1 and held_result[0] is not None
    assert sim.counters.connected == 0


# -- control endpoint and command line ----------------------------------------------------------


async def test_personality_control_endpoint(project: Project) -> None:
    sim = Simulator(project)
    async with asgi_client(sim) as client:
        assert (await client.get("/_sim/personality")).json() == Personality().to_dict()
        r = await client.put("/_sim/personality", json={"numbers_as_strings": True})
        assert r.json()["numbers_as_strings"] is True
        r = await client.patch("/_sim/personality", json={"auth_failure_status": 401})
        assert sim.personality == Personality(numbers_as_strings=True, auth_failure_status=401)
        r = await client.put("/_sim/personality", json={"http10": True})
        assert sim.personality == Personality(http10=True)
        for bad in ({"auth_failure_status": 402}, {"loud": True}, [1], {"http10": "yes"}):
            r = await client.put("/_sim/personality", json=bad)
            assert r.status_code == 400 and "error" in r.json()
        assert sim.personality == Personality(http10=True)
        r = await client.patch("/_sim/faults", json={"gateway_rate": 1, "gateway_status": 504})
        assert sim.faults.gateway_status == 504
        await client.post("/_sim/reset", json={"faults": True})
        assert sim.personality == Personality(http10=True) and sim.faults == Faults()
        await client.post("/_sim/reset", json={"personality": True})
        assert sim.personality == Personality()


def test_command_line_personality_options() -> None:
    args = build_parser().parse_args(
        [
            "--numbers-as-strings",
            "--auth-failure-status",
            "401",
            "--tls-handshake-delay",
            "0.5",
            "--connection-close",
            "--http10",
            "--gateway-rate",
            "0.25",
            "--gateway-status",
            "503",
        ]
    )
    sim = simulator_from_args(args)
    assert sim.personality == Personality(
        numbers_as_strings=True,
        auth_failure_status=401,
        tls_handshake_delay=0.5,
        connection_close=True,
        http10=True,
    )
    assert (sim.faults.gateway_rate, sim.faults.gateway_status) == (0.25, 503)
    assert simulator_from_args(build_parser().parse_args([])).personality == Personality()
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--auth-failure-status", "402"])


def test_listening_sockets_say_they_are_tcp() -> None:
    """asyncio (serving HTTPS) sets TCP_NODELAY only on such sockets; without it, a reply's
    head and body wait on Nagle's algorithm and every request takes a delayed ACK."""
    sock = _bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()
