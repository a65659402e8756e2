"""Fan-out fixtures: many simulated sites, reached in-process through the ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from thinknx_async import RetryPolicy, Session, Site
from thinknx_async.simulator import Project, Simulator, SimulatorConfig, create_app

SITES = 1000


@pytest.fixture(scope="session")
def big_project() -> Project:
    """1,000 sites with one device of each kind."""
    return Project.generate(sites=SITES, seed=3, devices_per_kind=1, groups_per_site=1)


@pytest.fixture
def sim(big_project: Project) -> Simulator:
    """A fresh simulator: no limits, no faults, relay form only."""
    return Simulator(big_project, SimulatorConfig(local_ports=0))


@pytest.fixture
async def session(sim: Simulator) -> AsyncIterator[Session]:
    """A session talking to ``sim`` in-process, unthrottled, without retries."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim)))
    async with (
        client,
        Session(http_client=client, rate_limit=None, retry=RetryPolicy(max_attempts=1)) as session,
    ):
        yield session


@pytest.fixture
def sites(session: Session, big_project: Project) -> list[Site]:
    """Every simulated site, in project order, named as in the project."""
    return [
        session.on_premise("http://sim", s.key, allow_insecure=True, name=s.name)
        for s in big_project.sites
    ]


def light_of(project: Project, site: Site) -> str:
    """The GUID of the light of the simulated site ``site`` stands for."""
    return project.site(site.name).devices_by_kind()["light"][0]
