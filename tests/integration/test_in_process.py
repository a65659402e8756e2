"""The same client against the simulator in-process, through httpx's ASGI transport (no sockets)."""

from __future__ import annotations

import warnings

import httpx
import pytest

from thinknx_async import RetryPolicy, Session
from thinknx_async.simulator import Project, Simulator, SimulatorConfig, create_app

from .test_endpoints import drive_every_endpoint


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["relay", "digest", "basic", "query"])
async def test_every_endpoint_in_process(mode: str) -> None:
    project = Project.generate(sites=2, seed=3)
    sim = Simulator(project, SimulatorConfig(local_ports=1))
    manifest = sim.manifest()
    entry = manifest["sites"][0]
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim)))
    session = Session(http_client=client, rate_limit=None, retry=RetryPolicy(max_attempts=1))
    async with client:
        if mode == "relay":
            site = session.on_premise("http://sim", entry["key"], allow_insecure=True)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                site = session.local(
                    "127.0.0.1",
                    port=5051,  # in-process, the first local site answers on the real default
                    username=entry["username"],
                    password=entry["password"],
                    auth=mode,  # type: ignore[arg-type]
                )
        await drive_every_endpoint(site, entry, sim)
        await session.aclose()
        assert not client.is_closed  # an injected client is the caller's to close
