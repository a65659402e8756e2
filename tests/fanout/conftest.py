"""Fan-out fixtures: many simulated sites, reached in-process through the ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from thinknx_async import Session, Site
from thinknx_async.simulator import Project, Simulator, SimulatorConfig

from .._in_process import in_process_session, relay_sites

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
    async with in_process_session(sim) as session:
        yield session


@pytest.fixture
def sites(session: Session, big_project: Project) -> list[Site]:
    """Every simulated site, in project order, named as in the project."""
    return relay_sites(session, big_project)


def light_of(project: Project, site: Site) -> str:
    """The GUID of the light of the simulated site ``site`` stands for."""
    return project.site(site.name).devices_by_kind()["light"][0]
