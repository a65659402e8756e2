"""Local-form authentication (basic, digest, query credentials) and HTTPS."""

from __future__ import annotations

import base64
import hashlib
import ssl

import anyio
import httpx
import pytest

from thinknx_async.simulator import Project, Simulator, SimulatorConfig, SimulatorThread

from .conftest import LOCAL_PORT, Target, asgi_client

pytestmark = pytest.mark.anyio


def light(target: Target) -> str:
    return target.sim.project.sites[0].devices_by_kind()["light"][0]


def creds(target: Target) -> tuple[str, str]:
    site = target.sim.project.sites[0]
    return site.username, site.password


async def test_basic_header(target: Target) -> None:
    user, password = creds(target)
    url = f"{target.local}/api/V1/power?guid={light(target)}&cmd=1&fb&auth=basic"
    async with target.client() as client:
        r = await client.get(url)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith('Basic realm="Thinknx"')
        r = await client.get(url, auth=(user, "wrong"))
        assert (r.status_code, r.json()) == (403, {"error": "wrong authentication information"})
        r = await client.get(url, auth=("someone", password))
        assert r.status_code == 403
        r = await client.get(url, headers={"authorization": "Basic !!!not-base64"})
        assert r.status_code == 403
        r = await client.get(url, auth=(user, password))
        assert r.status_code == 200
        assert r.json()["status"] == 1
        r = await client.get(url.replace("&auth=basic", ""), auth=(user, password))
        assert r.status_code == 403  # the auth parameter is mandatory
        r = await client.get(url.replace("auth=basic", "auth=ntlm"), auth=(user, password))
        assert r.status_code == 403
    assert target.sim.counters.executed(light(target), "power") == 1


async def test_query_credentials_over_http(target: Target) -> None:
    user, password = creds(target)
    base = f"{target.local}/api/V1/powerstatus?guid={light(target)}&auth=basic"
    async with target.client() as client:
        r = await client.get(f"{base}&user={user}&pass={password}")
        assert r.status_code == 200
        r = await client.get(f"{base}&user={user}&pass=nope")
        assert r.status_code == 403
        r = await client.get(f"{base}&user={user}")
        assert r.status_code == 403
        r = await client.post(
            f"{target.local}/api/V1/powerstatus",
            data={"guid": light(target), "auth": "basic", "user": user, "pass": password},
        )
        assert r.status_code == 200


@pytest.mark.parametrize("algorithm", ["SHA-256", "MD5"])
async def test_digest_with_httpx(project: Project, algorithm: str) -> None:
    sim = Simulator(project, SimulatorConfig(local_ports=1, digest_algorithms=(algorithm,)))
    site = project.sites[0]
    guid = site.devices_by_kind()["light"][0]
    url = f"http://127.0.0.1:{LOCAL_PORT}/api/V1/powerlevel?guid={guid}&cmd=10&fb&auth=digest"
    async with asgi_client(sim) as client:
        r = await client.get(url)
        assert r.status_code == 401
        challenge = r.headers["www-authenticate"]
        assert challenge.startswith("Digest ")
        assert f"algorithm={algorithm}" in challenge
        assert 'qop="auth"' in challenge
        auth = httpx.DigestAuth(site.username, site.password)
        for _ in range(3):  # httpx reuses the challenge with nc 2, 3...
            r = await client.get(url, auth=auth)
            assert r.status_code == 200
        r = await client.post(
            f"http://127.0.0.1:{LOCAL_PORT}/api/V1/powerlevel",
            data={"guid": guid, "cmd": "20", "auth": "digest"},
            auth=auth,
        )
        assert r.status_code == 200
        r = await client.get(url, auth=httpx.DigestAuth(site.username, "wrong"))
        assert r.status_code == 403
    assert sim.counters.executed(guid, "powerlevel") == 4
    assert sim.counters.responses(401) == 3  # bare request, then once per fresh DigestAuth


async def test_digest_rejects_tampering(sim: Simulator) -> None:
    site = sim.project.sites[0]
    path = "/api/V1/system/serverStatus?auth=digest"
    async with asgi_client(sim, base_url=f"http://127.0.0.1:{LOCAL_PORT}") as client:
        nonce = sim.digest.new_nonce()

        def header(uri: str, nonce: str, password: str) -> str:
            def h(text: str) -> str:
                return hashlib.md5(text.encode()).hexdigest()

            ha1 = h(f"{site.username}:Thinknx:{password}")
            ha2 = h(f"GET:{uri}")
            response = h(f"{ha1}:{nonce}:00000001:abc:auth:{ha2}")
            return (
                f'Digest username="{site.username}", realm="Thinknx", nonce="{nonce}", '
                f'uri="{uri}", response="{response}", algorithm=MD5, qop=auth, nc=00000001, '
                'cnonce="abc"'
            )

        r = await client.get(path, headers={"authorization": header(path, nonce, site.password)})
        assert r.status_code == 200
        r = await client.get(
            path, headers={"authorization": header("/other", nonce, site.password)}
        )
        assert r.status_code == 403
        forged = nonce.split("-")[0] + "-" + "0" * 32
        r = await client.get(path, headers={"authorization": header(path, forged, site.password)})
        assert r.status_code == 401
        old = sim.digest.new_nonce(now=1.0)
        r = await client.get(path, headers={"authorization": header(path, old, site.password)})
        assert r.status_code == 401
        assert "stale=true" in r.headers["www-authenticate"]


async def test_relay_form_ignores_local_credentials(target: Target) -> None:
    key = target.sim.project.sites[0].key
    async with target.client() as client:
        r = await client.get(f"{target.relay}/{key}/api/V1/powerstatus?guid={light(target)}")
        assert r.status_code == 200
        basic = base64.b64encode(b"x:y").decode()
        r = await client.get(
            f"{target.relay}/{key}/api/V1/powerstatus?guid={light(target)}&auth=basic",
            headers={"authorization": f"Basic {basic}"},
        )
        assert r.status_code == 200


async def test_local_port_rejects_relay_form(target: Target) -> None:
    user, password = creds(target)
    key = target.sim.project.sites[0].key
    async with target.client() as client:
        r = await client.get(
            f"{target.local}/{key}/api/V1/system/serverStatus?auth=basic", auth=(user, password)
        )
        assert r.status_code == 404
        r = await client.get(f"{target.local}/_sim/counters")
        assert r.status_code == 403


async def test_https_relay_and_local(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(local_ports=1, tls=True))
    site = project.sites[0]
    guid = site.devices_by_kind()["light"][0]
    with SimulatorThread(sim) as server:
        assert server.ca_file is not None
        assert server.relay_url.startswith("https://127.0.0.1:")
        local = server.local_urls[site.name]
        context = ssl.create_default_context(cafile=server.ca_file)
        async with httpx.AsyncClient(verify=context) as client:
            r = await client.get(f"{server.relay_url}/{site.key}/api/V1/power?guid={guid}&cmd=1")
            assert r.status_code == 200
            base = f"{local}/api/V1/powerstatus?guid={guid}&auth=basic"
            r = await client.get(base, auth=(site.username, site.password))
            assert r.json()["status"] == 1
            # Query credentials are refused over HTTPS.
            r = await client.get(f"{base}&user={site.username}&pass={site.password}")
            assert r.status_code == 403
            r = await client.get(
                f"{local}/api/V1/powerstatus?guid={guid}&auth=digest",
                auth=httpx.DigestAuth(site.username, site.password),
            )
            assert r.status_code == 200
            assert server.manifest()["ca_file"] == server.ca_file
        async with httpx.AsyncClient() as untrusting:
            with pytest.raises(httpx.ConnectError):
                await untrusting.get(f"{server.relay_url}/_sim/health")
        ca_file = server.ca_file
    assert not await anyio.Path(ca_file).exists()
