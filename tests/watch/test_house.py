"""Watching the simulator's house mode over real sockets.

The simulator's record of its own changes (``Simulator.house_changes``) is the oracle: the test
derives what must be reported from it, and the house never changes the same device twice in a
row, so a device changes at most once per two house intervals, far longer than its refresh.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import defaultdict
from typing import Any

import anyio
import pytest

from thinknx_async import Change, Device, RateLimit, Session, Site, TokenBucket, WatchError
from thinknx_async._polling import POLL
from thinknx_async.simulator import House, Project, Simulator, SimulatorConfig, SimulatorThread
from thinknx_async.state import store_of

from ._oracle import check_reported, initial_values

pytestmark = pytest.mark.anyio

EVERY = 0.5  # the refresh interval of every device
HOUSE = House(interval=1.0, seed=5)
FIELD = {"light": "on", "thermostat": "temperature"}


@pytest.fixture
def anyio_backend() -> str:
    """Over sockets on asyncio only (the core suite runs trio in-process)."""
    return "asyncio"


def house_project() -> Project:
    return Project.generate(sites=1, seed=16, devices_per_kind={"light": 2, "thermostat": 2})


def relay_site(session: Session, server: SimulatorThread) -> Site:
    entry = server.manifest()["sites"][0]
    return session.on_premise(server.relay_url, entry["key"], allow_insecure=True)


def watched(site: Site, project: Project) -> list[Device]:
    kinds = project.sites[0].devices_by_kind()
    lights: list[Device] = [site.light(g) for g in kinds["light"]]
    return lights + [site.thermostat(g) for g in kinds["thermostat"]]


def test_the_house_is_seeded_and_its_record_is_its_state() -> None:
    project = house_project()
    first = Simulator(project, SimulatorConfig(local_ports=0, house=HOUSE))
    second = Simulator(project, SimulatorConfig(local_ports=0, house=HOUSE))
    for sim in (first, second):
        state = sim.sites[0].state
        assert state.house is not None
        state.catch_up(state.house.start + 30.5)
    a, b = first.sites[0].state.house, second.sites[0].state.house
    assert a is not None and b is not None
    assert len(a.log) == 30
    key = [(round(c.at - a.start, 6), c.guid, c.new) for c in a.log]
    assert key == [(round(c.at - b.start, 6), c.guid, c.new) for c in b.log]
    values = initial_values(project)
    for before, after in zip(a.log, list(a.log)[1:], strict=False):
        assert before.guid != after.guid  # never the same device twice in a row
    for change in a.log:
        assert values[change.guid] == change.old
        values[change.guid] = change.new
    state = first.sites[0].state
    for guid, value in values.items():
        snapshot = state.snapshot(guid, a.start + 30.5)
        assert snapshot.get("on", snapshot.get("temperature")) == value


async def test_every_change_the_house_made_is_reported_once_within_two_refreshes() -> None:
    project = house_project()
    sim = Simulator(project, SimulatorConfig(rate=20.0, burst=5, local_ports=0, house=HOUSE))
    reported: dict[str, list[Any]] = defaultdict(list)
    errors: list[WatchError] = []
    with SimulatorThread(sim) as server:
        async with Session(rate_limit=RateLimit(rate=20.0, burst=5)) as session:
            site = relay_site(session, server)
            devices = watched(site, project)
            kind = {d.guid: type(d).__name__.lower() for d in devices}
            with anyio.fail_after(60):
                async with site.watch(devices, every=EVERY) as changes:
                    cutoff = math.inf
                    async for event in changes:
                        if isinstance(event, WatchError):
                            errors.append(event)
                            continue
                        assert isinstance(event, Change)
                        guid = event.device.guid
                        reported[guid].append(event.new[FIELD[kind[guid]]])
                        done = [c for c in sim.house_changes() if c.at <= time.monotonic()]
                        if math.isinf(cutoff) and len(done) >= 6:
                            cutoff = done[-1].at  # every change up to here must be seen...
                        if time.monotonic() > cutoff + 2 * EVERY:  # ...by two refreshes later
                            break
    assert not errors
    log = sim.house_changes()
    start = initial_values(project)
    checked = sum(check_reported(g, v, start[g], log, cutoff) for g, v in reported.items())
    assert checked >= 4


async def test_commands_meanwhile_draw_no_429_and_leaving_stops_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = Project.generate(sites=1, seed=17, devices_per_kind={"light": 4, "blind": 4})
    sim = Simulator(project, SimulatorConfig(rate=10.0, burst=5, local_ports=0, house=HOUSE))
    tasks_before = len(asyncio.all_tasks())
    queued: list[tuple[bool, int]] = []  # (a poll?, callers already queued) per wait
    acquire = TokenBucket.acquire

    async def watched_acquire(self: TokenBucket) -> float:
        queued.append((POLL.get() is not None, self.waiting))
        return await acquire(self)

    monkeypatch.setattr(TokenBucket, "acquire", watched_acquire)
    with SimulatorThread(sim) as server:
        async with Session(rate_limit=RateLimit(rate=10.0, burst=5)) as session:
            site = relay_site(session, server)
            kinds = project.sites[0].devices_by_kind()
            devices: list[Device] = [site.light(g) for g in kinds["light"]]
            blinds = [site.blind(g) for g in kinds["blind"]]
            sent = 0
            with anyio.fail_after(60):
                async with site.watch([*devices, *blinds], every=0.05) as changes:  # hungry
                    async for _ in changes:
                        if sent == 12:
                            break
                        # commands at 2/s, under the quarter left to them
                        await blinds[sent % 4].set_height(sent * 5, feedback=True)
                        sent += 1
                        await anyio.sleep(0.5)
                polls = changes.polls
                assert len(store_of(site)._listeners) == 0  # the watch let go of the store
            requests = sim.counters.requests()
            await anyio.sleep(0.3)
            assert sim.counters.requests() == requests  # no poll after the block
    assert polls >= 10
    assert sim.counters.responses(429) == 0
    # A poll never queues for a token, so no command ever found one ahead of it in the queue:
    # a command waits at most for the token the last poll took, one token's time.
    assert not any(poll for poll, _ in queued)
    assert all(ahead == 0 for _, ahead in queued)
    for n in range(12):
        assert sim.counters.executed(kinds["blind"][n % 4], "heightlevel") == 3
    assert len(asyncio.all_tasks()) == tasks_before


async def test_many_sites_keep_to_their_limits_and_the_relays() -> None:
    project = Project.generate(sites=3, seed=18, devices_per_kind={"light": 4})
    config = SimulatorConfig(rate=10.0, burst=5, relay_rate=8.0, relay_burst=4, local_ports=0,
                             house=House(interval=0.2, seed=6))  # fmt: skip
    sim = Simulator(project, config)
    with SimulatorThread(sim) as server:
        limit, relay = RateLimit(rate=10.0, burst=5), RateLimit(rate=8.0, burst=4)
        async with Session(rate_limit=limit, relay_rate_limit=relay) as session:
            devices: list[Device] = []
            for entry in server.manifest()["sites"]:
                site = session.on_premise(server.relay_url, entry["key"], allow_insecure=True)
                devices += [site.light(g) for g in entry["devices"]["light"]]
            with anyio.fail_after(60):
                async with session.watch(devices, every=0.05) as changes:  # hungry
                    async for _ in changes:  # the house keeps changes coming
                        if changes.polls >= 40:
                            break
                    polls = changes.polls
    assert sim.counters.responses(429) == 0
    assert all(sim.counters.requests(s.name) > 0 for s in project.sites)  # none starved
    # every request was a poll; at most one poll per site was cut short on leaving
    assert polls - len(project.sites) <= sim.counters.requests() <= polls
