"""Watch fixtures: a house reached in-process through the simulator's ASGI app."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from thinknx_async import Session, Site
from thinknx_async.simulator import Project, Simulator, SimulatorConfig

from .._in_process import in_process_session, relay_sites


@pytest.fixture(scope="session")
def project() -> Project:
    """Two sites with two devices of each kind."""
    return Project.generate(sites=2, seed=16, devices_per_kind=2)


@pytest.fixture
def sim(project: Project) -> Simulator:
    """A fresh simulator: no limits, no faults, relay form only."""
    return Simulator(project, SimulatorConfig(local_ports=0))


@pytest.fixture
async def session(sim: Simulator) -> AsyncIterator[Session]:
    """A session talking to ``sim`` in-process, unthrottled, without retries."""
    async with in_process_session(sim) as session:
        yield session


@pytest.fixture
def sites(session: Session, project: Project) -> list[Site]:
    """Every simulated site, in project order, named as in the project."""
    return relay_sites(session, project)


def guids(project: Project, site: Site, kind: str) -> list[str]:
    """The GUIDs of the devices of ``kind`` on the simulated site ``site`` stands for."""
    return project.site(site.name).devices_by_kind()[kind]
