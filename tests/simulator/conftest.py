"""Shared helpers for the simulator tests: plain httpx clients, in-process or on sockets."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

try:
    import thinknx_async  # noqa: F401
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from thinknx_async.simulator import (
    Project,
    Simulator,
    SimulatorConfig,
    SimulatorThread,
    create_app,
)

LOCAL_PORT = 5051
"""In-process, the first local site answers requests addressed to this port."""


@pytest.fixture
def anyio_backend() -> str:
    """Async tests run on asyncio unless they parametrize ``anyio_backend``."""
    return "asyncio"


@pytest.fixture(scope="session")
def project() -> Project:
    """Three generated sites, two devices of each kind."""
    return Project.generate(sites=3, seed=7)


@pytest.fixture
def sim(project: Project) -> Simulator:
    """A fresh simulator: no rate limits, no faults, two local sites."""
    return Simulator(project, SimulatorConfig(local_ports=2))


@asynccontextmanager
async def asgi_client(
    sim: Simulator, base_url: str = "http://127.0.0.1", **kwargs: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client talking to the app in-process."""
    transport = httpx.ASGITransport(app=create_app(sim))
    async with httpx.AsyncClient(transport=transport, base_url=base_url, **kwargs) as client:
        yield client


class Target:
    """Where a test sends requests: base URLs plus a client factory, in-process or real."""

    def __init__(self, sim: Simulator, mode: str, server: SimulatorThread | None) -> None:
        self.sim = sim
        self.mode = mode
        self.server = server
        self.relay = server.relay_url if server else "http://127.0.0.1"
        self.local = server.local_urls["site-1"] if server else f"http://127.0.0.1:{LOCAL_PORT}"

    def site_url(self, index: int = 0) -> str:
        """Relay-form base of a site, ending in ``/api/V1``."""
        return f"{self.relay}/{self.sim.project.sites[index].key}/api/V1"

    def client(self, **kwargs: Any) -> Any:
        """An async context manager yielding an httpx client."""
        if self.server is None:
            return asgi_client(self.sim, **kwargs)
        return httpx.AsyncClient(**kwargs)


@pytest.fixture(scope="module")
def live(project: Project) -> Iterator[tuple[Simulator, SimulatorThread]]:
    """One real server per test module (state is reset by ``target``)."""
    sim = Simulator(project, SimulatorConfig(local_ports=2))
    with SimulatorThread(sim) as server:
        yield sim, server


@pytest.fixture(params=["asgi", "socket"])
def target(request: pytest.FixtureRequest, project: Project) -> Target:
    """Each test runs in-process and against real sockets."""
    if request.param == "asgi":
        return Target(Simulator(project, SimulatorConfig(local_ports=2)), "asgi", None)
    sim, server = request.getfixturevalue("live")
    sim.reset()
    sim.set_faults(sim.config.faults)
    sim.set_personality(sim.config.personality)
    return Target(sim, "socket", server)
