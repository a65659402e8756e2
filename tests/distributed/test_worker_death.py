"""A worker killed with SIGKILL mid fan-out: nothing doubled, every site one outcome.

The kill is deterministic: three sites of one chunk are held by the simulator (its ``down``
fault, for those keys only) until their client goes away; once the simulator has received all
three requests, the test kills the worker that sent them.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from typing import Any

import anyio
import pytest
from distributed import LocalCluster, Variable

from thinknx_async import Outcome, RetryPolicy
from thinknx_async.distributed import DaskFleet, DistributedFanOut, MayHaveBeenSentError
from thinknx_async.simulator import Faults, Project, SimulatorThread

from ._ops import turn_on
from .conftest import SITES, inventory_of

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(180)]

OPTIONS = {"rate_limit": None, "retry": RetryPolicy(max_attempts=1), "timeout": 60.0}
HELD = (40, 41, 42)  # sites of the first worker's first chunk


async def _kill_when_held(
    fleet: DaskFleet, fan: DistributedFanOut[Any], server: SimulatorThread, names: Sequence[str]
) -> tuple[str, set[int], set[int]]:
    """Wait until the simulator holds every HELD request, SIGKILL their worker; return its
    address and what its chunks had claimed and reported at that moment."""
    counters = server.sim.counters
    with anyio.fail_after(60):
        while any(counters.requests(site=names[i]) == 0 for i in HELD):  # noqa: ASYNC110 - counted in the simulator's thread
            await anyio.sleep(0.02)
    victim = fan.placement[names[HELD[0]]]
    pids = await fleet.client.run(os.getpid)
    claimed: set[int] = set()
    reported: set[int] = set()
    os.kill(pids[victim], signal.SIGKILL)
    for chunk in fan._chunks:
        if chunk.worker == victim:
            variable = Variable(fan._claim_name(chunk), client=fleet.client)
            record = await variable.get(timeout=10)
            claimed.update(record["claimed"])
            reported.update(record["reported"])
    return victim, claimed, reported


async def _run(
    cluster: LocalCluster, server: SimulatorThread, project: Project, *, idempotent: bool
) -> tuple[list[Outcome[Any]], str, set[int], set[int]]:
    inventory = inventory_of(project, server.relay_url)
    names = inventory.names
    held = tuple(project.site(names[i]).key for i in HELD)
    server.sim.set_faults(Faults(down=True, down_max_hold=120.0, sites=held))
    outcomes: list[Outcome[Any]] = []
    result: dict[str, Any] = {}
    async with DaskFleet(cluster, session_options=OPTIONS) as fleet:
        fan = fleet.fan_out(
            inventory, turn_on, pass_fleet=True, concurrency=8, idempotent=idempotent
        )
        async with fan, anyio.create_task_group() as group:

            async def kill() -> None:
                result["kill"] = await _kill_when_held(fleet, fan, server, names)
                if idempotent:
                    server.sim.set_faults(Faults())  # the re-sent requests are answered

            group.start_soon(kill)
            async for outcome in fan:
                outcomes.append(outcome)
    victim, claimed, reported = result["kill"]
    return outcomes, victim, claimed, reported


async def test_non_idempotent_kill_sends_nothing_twice(
    cluster: LocalCluster, server: SimulatorThread, project: Project
) -> None:
    outcomes, victim, claimed, reported = await _run(cluster, server, project, idempotent=False)
    assert sorted(o.index for o in outcomes) == list(range(SITES))  # exactly one each
    counters = server.sim.counters
    for site in project.sites:
        assert counters.executed(site.devices_by_kind()["light"][0], "power") <= 1
        assert counters.requests(site=site.name) <= 1  # nothing sent twice
    maybe = {o.index for o in outcomes if isinstance(o.error, MayHaveBeenSentError)}
    arrived_ok = {o.index for o in outcomes if o.ok}
    # The sites the dead worker held: claimed, and no outcome out of it.
    assert maybe == (claimed - reported) - arrived_ok
    assert set(HELD) <= maybe
    for outcome in outcomes:
        if outcome.index in maybe:
            assert outcome.error_type == "MayHaveBeenSentError"
            assert outcome.attempts == 0  # nothing sent by the run that reported it
        else:
            assert outcome.ok, (outcome.site.name, outcome.error)
    assert victim not in await _alive(cluster)


async def test_idempotent_kill_completes_everywhere(
    cluster: LocalCluster, server: SimulatorThread, project: Project
) -> None:
    outcomes, _victim, claimed, reported = await _run(cluster, server, project, idempotent=True)
    assert sorted(o.index for o in outcomes) == list(range(SITES))
    assert all(o.ok for o in outcomes), [(o.site.name, o.error) for o in outcomes if not o.ok]
    counters = server.sim.counters
    for site in project.sites:
        assert counters.executed(site.devices_by_kind()["light"][0], "power") >= 1
    # Only the sites the dead worker held without reporting were sent again.
    again = {i for i in range(SITES) if counters.requests(site=project.sites[i].name) > 1}
    assert again <= claimed - reported
    assert set(HELD) <= again


async def _alive(cluster: LocalCluster) -> set[str]:
    return set(cluster.scheduler_info["workers"])


async def test_leaving_early_cancels_the_chunks_still_running(
    cluster: LocalCluster, server: SimulatorThread, project: Project
) -> None:
    inventory = inventory_of(project, server.relay_url)
    # Every site but the first is held until its client leaves (or for 300 s): a chunk left
    # running would hold its requests open that long.
    held = tuple(s.key for s in project.sites[1:])
    server.sim.set_faults(Faults(down=True, down_max_hold=300.0, sites=held))
    counters = server.sim.counters
    async with DaskFleet(cluster, session_options=OPTIONS) as fleet:
        fan = fleet.fan_out(inventory, turn_on, pass_fleet=True, concurrency=8)
        async with fan:
            async for outcome in fan:
                assert outcome.index == 0 and outcome.ok
                with anyio.fail_after(60):  # the other in-flight requests reach the server
                    while counters.requests() < 8:  # noqa: ASYNC110 - the simulator's thread
                        await anyio.sleep(0.02)
                break
        with anyio.fail_after(60):  # the cancelled chunks abandon their held requests; at
            # most each worker's one idle connection (from site 0's reply) stays open
            while counters.connected > 2:  # noqa: ASYNC110 - the simulator's thread
                await anyio.sleep(0.02)
        assert len(await fleet.workers()) == 2
    assert counters.requests() < SITES  # nothing started after the block was left
