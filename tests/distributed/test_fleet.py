"""DaskFleet on a LocalCluster of 2 worker processes against the simulator."""

from __future__ import annotations

import os
from typing import Any

import pytest

from thinknx_async import Inventory, InventoryError, RateLimit, RetryPolicy
from thinknx_async.distributed import DaskFleet
from thinknx_async.simulator import Project, SimulatorThread

from ._ops import capture_logs, captured_logs, set_env, status, turn_on
from .conftest import SITES, inventory_of, make_sim

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


async def test_two_workers_one_relay_with_a_shared_limit_get_no_429(
    cluster: object, project: Project
) -> None:
    sim = make_sim(project, relay_rate=60.0, relay_burst=10)
    options = {**OPTIONS, "relay_rate_limit": RateLimit(rate=50.0, burst=10)}
    with SimulatorThread(sim) as server:
        entries = inventory_of(project, server.relay_url).sites[:150]
        async with DaskFleet(cluster, session_options=options) as fleet:  # type: ignore[arg-type]
            assert len(await fleet.workers()) == 2
            fan = fleet.fan_out(entries, status, concurrency=32, idempotent=True)
            async with fan:
                placed = set(fan.placement.values())
                outcomes = [o async for o in fan]
    assert len(placed) == 1  # the relay's one bucket lives on one worker
    assert len(outcomes) == len(entries) and all(o.ok for o in outcomes)
    assert sim.counters.responses(429) == 0
    assert sim.counters.requests() == len(entries)


async def test_sites_without_a_shared_limit_use_both_workers(
    cluster: object, server: SimulatorThread, project: Project
) -> None:
    entries = inventory_of(project, server.relay_url).sites[:120]
    async with DaskFleet(cluster, session_options=OPTIONS, chunk_size=50) as fleet:  # type: ignore[arg-type]
        fan = fleet.fan_out(entries, status, idempotent=True)
        async with fan:
            placement = fan.placement
            report = [o async for o in fan]
    assert len(set(placement.values())) == 2
    assert sorted(o.index for o in report) == list(range(120))


async def test_keys_stay_out_of_task_names_reprs_and_worker_logs(
    cluster: object, server: SimulatorThread, project: Project
) -> None:
    entries = inventory_of(project, server.relay_url).sites[:60]
    keys = [project.site(e.name).key for e in entries]
    async with DaskFleet(cluster, session_options=OPTIONS) as fleet:  # type: ignore[arg-type]
        await fleet.client.run(capture_logs)
        fan = fleet.fan_out(entries, status, idempotent=True)
        async with fan:
            names = [f.key for f in fan._futures.values()]
            outcomes = [o async for o in fan]
            shown = repr(fan) + repr(fleet) + "".join(repr(o) for o in outcomes)
        logs = await fleet.client.get_worker_logs(n=10_000)
        records = await fleet.client.run(captured_logs)
    text = "\n".join(names) + shown + "\n".join(m for lines in logs.values() for _, m in lines)
    text += "\n".join(line for lines in records.values() for line in lines)
    assert all(o.ok for o in outcomes)
    assert "/***/api/V1/" in text  # the worker logs hold the requests, their keys masked
    for key in keys:
        assert key not in text


async def test_env_secrets_resolve_from_the_workers_environment(
    cluster: object, server: SimulatorThread, project: Project
) -> None:
    chosen = project.sites[:20]
    sites: dict[str, Any] = {
        s.name: {"key": {"env": f"DASK_TEST_KEY_{i}"}} for i, s in enumerate(chosen)
    }
    inventory = Inventory.from_dict(
        {
            "defaults": {"mode": "relay", "url": server.relay_url, "allow_insecure": True},
            "sites": sites,
        }
    )
    async with DaskFleet(cluster, session_options=OPTIONS) as fleet:  # type: ignore[arg-type]
        for i, site in enumerate(chosen[:-1]):  # the last one is set nowhere
            await fleet.client.run(set_env, f"DASK_TEST_KEY_{i}", site.key)
        report = await fleet.gather(inventory, status, idempotent=True)
    assert not any(name.startswith("DASK_TEST_KEY_") for name in os.environ)  # workers only
    assert [o.ok for o in report] == [True] * 19 + [False], report.summary()
    error = report.outcomes[-1].error
    assert isinstance(error, InventoryError)
    assert error.site == chosen[-1].name and error.field == "key"
    assert "DASK_TEST_KEY_19 is not set" in str(error)
