"""DaskFleet on a LocalCluster of 2 worker processes against the simulator."""

from __future__ import annotations

import pytest

from thinknx_async import RetryPolicy
from thinknx_async.distributed import DaskFleet
from thinknx_async.simulator import Project, SimulatorThread

from ._ops import turn_on
from .conftest import SITES, inventory_of

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]

OPTIONS = {"rate_limit": None, "retry": RetryPolicy(max_attempts=1)}


async def test_300_relay_sites_one_outcome_each(
    cluster: object, server: SimulatorThread, project: Project
) -> None:
    inventory = inventory_of(project, server.relay_url)
    async with DaskFleet(cluster, session_options=OPTIONS) as fleet:  # type: ignore[arg-type]
        report = await fleet.gather(inventory, turn_on, pass_fleet=True, concurrency=16)
    assert len(report) == SITES
    assert [o.index for o in report] == list(range(SITES))
    assert [o.site.name for o in report] == list(inventory.names)
    assert report.ok, report.summary()
    counters = server.sim.counters
    for site in project.sites:
        assert counters.executed(site.devices_by_kind()["light"][0], "power") == 1
    assert counters.requests() == SITES
