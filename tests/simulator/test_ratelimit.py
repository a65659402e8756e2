"""Token buckets per site and for the relay; 429 replies and Retry-After."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import anyio
import httpx
import pytest

from thinknx_async.simulator import Project, Simulator, SimulatorConfig, SimulatorThread
from thinknx_async.simulator.ratelimit import TokenBucket, retry_after_header

from .conftest import asgi_client

pytestmark = pytest.mark.anyio


def test_token_bucket_arithmetic() -> None:
    bucket = TokenBucket(rate=2.0, burst=3)
    t = 100.0
    bucket._stamp = t  # a fixed clock for exact arithmetic
    assert [bucket.acquire(t) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.acquire(t) == pytest.approx(0.5)
    assert bucket.acquire(t + 0.5) == 0.0
    assert bucket.acquire(t + 0.75) == pytest.approx(0.25)
    assert bucket.acquire(t + 100) == 0.0  # refill is capped at burst
    assert [bucket.acquire(t + 100) for _ in range(3)][-1] > 0
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0, 1)


def test_retry_after_styles() -> None:
    assert retry_after_header(0.2, "seconds") == [(b"retry-after", b"1")]
    assert retry_after_header(2.01, "seconds") == [(b"retry-after", b"3")]
    assert retry_after_header(1.0, "none") == []
    [(name, value)] = retry_after_header(5.0, "date")
    assert name == b"retry-after"
    assert parsedate_to_datetime(value.decode()).timestamp() == pytest.approx(
        time.time() + 5, abs=2
    )


async def test_429_then_recovery(project: Project) -> None:
    # A token every 100 s: none comes back while the test runs unless it moves the clock.
    sim = Simulator(project, SimulatorConfig(rate=0.01, burst=5))
    site = project.sites[0]
    light = site.devices_by_kind()["light"][0]
    url = f"/{site.key}/api/V1/power?guid={light}&cmd=1"
    async with asgi_client(sim) as client:
        codes = [(await client.get(url)).status_code for _ in range(8)]
        assert codes == [200] * 5 + [429] * 3
        r = await client.get(url)
        assert r.json() == {"error": "rate limit exceeded"}
        assert 90 <= int(r.headers["retry-after"]) <= 100
        # Other sites have their own bucket.
        other = project.sites[1]
        r = await client.get(f"/{other.key}/api/V1/system/serverStatus")
        assert r.status_code == 200
        bucket = sim.by_key[site.key].bucket
        assert bucket is not None
        bucket._stamp -= 100.0  # a token's worth of time has passed
        assert (await client.get(url)).status_code == 200
    # Rejected requests never execute.
    assert sim.counters.executed(light, "power") == 6
    assert sim.counters.responses(429) == 4


@pytest.mark.parametrize(("style", "present"), [("date", True), ("none", False)])
async def test_retry_after_options(project: Project, style: str, present: bool) -> None:
    config = SimulatorConfig(rate=0.01, burst=1, retry_after=style)  # type: ignore[arg-type]
    sim = Simulator(project, config)
    url = f"/{project.sites[0].key}/api/V1/system/serverStatus"
    async with asgi_client(sim) as client:
        await client.get(url)
        r = await client.get(url)
    assert r.status_code == 429
    assert ("retry-after" in r.headers) is present
    if present:
        parsedate_to_datetime(r.headers["retry-after"])


async def test_per_site_rate_from_project(project: Project) -> None:
    data = project.to_dict()
    data["sites"][1]["rate"] = 0.01
    data["sites"][1]["burst"] = 2
    custom = Project.from_dict(data)
    sim = Simulator(custom, SimulatorConfig(rate=None))
    async with asgi_client(sim) as client:
        fast = [
            (await client.get(f"/{custom.sites[0].key}/api/V1/system/serverStatus")).status_code
        ]
        slow = [
            (await client.get(f"/{custom.sites[1].key}/api/V1/system/serverStatus")).status_code
            for _ in range(3)
        ]
    assert fast == [200]
    assert slow == [200, 200, 429]
    assert sim.manifest()["sites"][1]["rate"] == 0.01


async def test_relay_limiter_spans_sites(project: Project) -> None:
    sim = Simulator(project, SimulatorConfig(relay_rate=0.01, relay_burst=3, local_ports=1))
    async with asgi_client(sim) as client:
        codes = [
            (await client.get(f"/{site.key}/api/V1/system/serverStatus")).status_code
            for site in project.sites * 2
        ]
        assert codes == [200, 200, 200, 429, 429, 429]
        # The local port is not behind the relay.
        site = project.sites[0]
        r = await client.get(
            "http://127.0.0.1:5051/api/V1/system/serverStatus?auth=basic",
            auth=(site.username, site.password),
        )
        assert r.status_code == 200


async def test_accepted_over_a_window_matches_the_bucket(project: Project) -> None:
    """Never more than the bucket allows over the window; and never a refusal when a token is
    due: a request sent a token's time after a refusal is accepted (however slow the machine,
    the wait can only be longer)."""
    rate, burst = 10.0, 5  # a token per 100 ms: the client outruns it by far
    sim = Simulator(project, SimulatorConfig(rate=rate, burst=burst))
    site = project.sites[0]
    trigger = site.devices_by_kind()["button"][0]
    accepted = refused = 0
    codes: list[int] = []
    with SimulatorThread(sim) as server:
        url = f"{server.relay_url}/{site.key}/api/V1/trigger?guid={trigger}"
        async with httpx.AsyncClient() as client:
            start = time.monotonic()
            while time.monotonic() - start < 1.0:
                r = await client.get(url)
                codes.append(r.status_code)
                if r.status_code == 200:
                    accepted += 1
                    continue
                assert r.status_code == 429
                assert int(r.headers["retry-after"]) >= 1
                refused += 1
                if refused % 2 == 0:  # every other refusal: wait for the next token
                    await anyio.sleep(1.1 / rate)
                    r = await client.get(url)
                    assert r.status_code == 200, "refused though a token was due"
                    accepted += 1
                    codes.append(r.status_code)
            elapsed = time.monotonic() - start
    assert codes[:burst] == [200] * burst  # the burst, at once
    assert refused > 0  # the client outran the bucket
    assert accepted <= burst + rate * elapsed + 1
    assert sim.counters.executed(trigger, "trigger") == accepted
    assert sim.device_state(trigger)["triggers"] == accepted
