"""Distributed fixtures: a simulator on a real port and a LocalCluster of 2 worker processes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import pytest
import pytest_asyncio

from thinknx_async import Inventory
from thinknx_async.simulator import Project, Simulator, SimulatorConfig, SimulatorThread

from . import _ops

if TYPE_CHECKING:
    from distributed import LocalCluster

try:
    import cloudpickle
    import distributed  # noqa: F401
except ImportError:
    # Without the dask extra these tests are not collected (the test extra installs it).
    collect_ignore_glob = ["test_*.py"]
else:
    cloudpickle.register_pickle_by_value(_ops)

SITES = 300


@pytest.fixture(scope="session")
def project() -> Project:
    """300 relay sites, one device of each kind."""
    return Project.generate(sites=SITES, seed=17, devices_per_kind=1, groups_per_site=1)


def make_sim(project: Project, **config: Any) -> Simulator:
    """A simulator of ``project``, relay form only."""
    return Simulator(project, SimulatorConfig(local_ports=0, **config))


@pytest.fixture
def server(project: Project) -> Iterator[SimulatorThread]:
    """The simulator, unlimited, on a free loopback port."""
    with SimulatorThread(make_sim(project)) as thread:
        yield thread


def inventory_of(project: Project, relay_url: str) -> Inventory:
    """Every simulated site as an inventory entry, its ``lobby`` alias its light."""
    sites = {
        s.name: {"key": s.key, "aliases": {"lobby": s.devices_by_kind()["light"][0]}}
        for s in project.sites
    }
    return Inventory.from_dict(
        {
            "aliases": {"lobby": "light"},
            "defaults": {"mode": "relay", "url": relay_url, "allow_insecure": True},
            "sites": sites,
        }
    )


@pytest_asyncio.fixture
async def cluster() -> AsyncIterator[LocalCluster]:
    """2 worker processes, 1 thread each, no dashboard."""
    from thinknx_async.distributed import local_cluster

    async with local_cluster(2) as started:
        yield started
