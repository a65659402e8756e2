"""Rate limits nobody told us, against nginx's ``limit_req``, on both transports.

nginx fronts an unthrottled simulator with ``limit_req zone=... burst=5 nodelay`` at 20 r/s per
Integration Kit key, and answers a refusal with ``429`` and ``Retry-After: 1``. nginx's bucket
counts in milliseconds: a new key passes its first request and ``burst`` more at once, then one
request every 1/rate; ``nodelay`` refuses at once what does not fit (nothing is queued).

Every test asserts counts, never times (``benchmarks/rate_limits.py`` measures those): the 429s
in nginx's access log against the issue's bound, and that every command reached the simulator
exactly once, from the access log (the 200s per device, every other line a 429) and from the
simulator's counters behind nginx (which never saw a 429 itself).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from functools import partial
from typing import Any

import pytest

from thinknx_async import RateLimit, RetryPolicy, Session, Site, ThinknxError
from thinknx_async.simulator import Project, Simulator, SimulatorConfig, SimulatorThread
from thinknx_async.throttle import TokenBucket

from ..conftest import Transport
from ..limits.test_against_simulator import run_all
from .conftest import Servers
from .nginx import Limit, NginxRelay, nginx_relay

pytestmark = pytest.mark.anyio

RATE, BURST = 20.0, 5
NGINX = Limit(f"{RATE:.0f}r/s", burst=BURST, nodelay=True, retry_after=1, per="key")
# The jitter margin is raised, as in tests/limits/test_at_the_wire.py: on a loaded machine the
# scheduler alone can bunch requests sent 50 ms apart, and a 429 must then mean the controller
# and not the machine.
MATCHED = RateLimit(rate=RATE, burst=BURST, jitter=0.15)
RETRY = RetryPolicy(max_attempts=12, deadline=120.0)
SITES = 20
Backend = tuple[Project, Simulator, SimulatorThread]
_LINE = re.compile(r"(?P<status>[0-9]{3}) GET /\*\*\*/api/V1/[A-Za-z]+\?guid=(?P<guid>[^&]+)")


@pytest.fixture
def backend() -> Iterator[Backend]:
    """Twenty sites with no limit of their own: nginx is the only one that says 429."""
    project = Project.generate(sites=SITES, seed=14, devices_per_kind={"button": 50, "light": 1})
    sim = Simulator(project, SimulatorConfig(local_ports=0))
    with SimulatorThread(sim) as server:
        yield project, sim, server


def limited(servers: Servers, server: SimulatorThread) -> NginxRelay:
    """nginx's limit_req in front of the simulator's relay form, fresh buckets and log."""
    return servers.start(nginx_relay(relay_origin=server.relay_url, limit=NGINX))


def session(transport: Transport, relay: NginxRelay, limit: RateLimit) -> Session:
    return Session(rate_limit=limit, retry=RETRY, verify=relay.ssl_context(), transport=transport)


def site_of(session: Session, relay: NginxRelay, server: SimulatorThread, index: int) -> Site:
    return session.on_premise(relay.https_url, server.manifest()["sites"][index]["key"])


def buttons(project: Project, index: int = 0) -> list[str]:
    return project.sites[index].devices_by_kind()["button"]


def ledger(relay: NginxRelay, sent: Counter[str], timeout: float = 15.0) -> int:
    """The 429s nginx answered, once its log holds a 200 for every command sent.

    Asserts that the log has nothing but 200s and 429s, and a 200 for each command exactly
    as many times as it was sent (``sent`` counts the commands per device): none lost, none
    executed twice.
    """
    deadline = time.monotonic() + timeout
    while True:
        lines = relay.access_log()
        parsed = [_LINE.match(line) for line in lines]
        assert all(parsed), [line for line, m in zip(lines, parsed, strict=True) if not m]
        ok = Counter(m["guid"] for m in parsed if m is not None and m["status"] == "200")
        if ok.total() >= sent.total() or time.monotonic() > deadline:
            break
        time.sleep(0.05)  # nginx writes a line after its reply: the last ones may lag
    statuses = Counter(m["status"] for m in parsed if m is not None)
    assert set(statuses) <= {"200", "429"}, statuses
    assert ok == sent
    return statuses["429"]


def executed_once(sim: Simulator, sent: Counter[str], controller: str) -> None:
    """The simulator behind nginx ran each command as often as it was sent, and refused none."""
    assert {guid: sim.counters.executed(guid, controller) for guid in sent} == dict(sent)
    assert sim.counters.responses(429) == 0


def succeeded(results: list[Any]) -> None:
    assert all(not isinstance(r, ThinknxError) for r in results), results


async def trigger_all(site: Site, guids: list[str]) -> TokenBucket:
    """Press every button of ``guids`` at once through ``site``; its bucket afterwards."""
    succeeded(await run_all([site.button(g).trigger for g in guids]))
    assert site.bucket is not None
    return site.bucket


async def one_site(
    transport: Transport, backend: Backend, servers: Servers, limit: RateLimit
) -> tuple[int, TokenBucket]:
    """100 commands to site 0 through a fresh nginx: the 429s drawn and the site's bucket,
    every command checked to have run exactly once."""
    project, sim, server = backend
    relay = limited(servers, server)
    guids = buttons(project) * 2  # each device twice
    async with session(transport, relay, limit) as s:
        bucket = await trigger_all(site_of(s, relay, server, 0), guids)
    sent = Counter(guids)
    refused = ledger(relay, sent)
    executed_once(sim, sent, "trigger")
    return refused, bucket


async def test_limits_matched_one_site_draws_no_429(
    transport: Transport, backend: Backend, servers: Servers
) -> None:
    refused, bucket = await one_site(transport, backend, servers, MATCHED)
    assert refused == 0
    assert bucket.decreases == 0


async def test_twenty_sites_at_once_each_at_its_own_limit_draw_no_429(
    transport: Transport, backend: Backend, servers: Servers
) -> None:
    per_site = 25
    project, sim, server = backend
    relay = limited(servers, server)
    calls: list[Callable[[], Awaitable[Any]]] = []
    sent: Counter[str] = Counter()
    async with session(transport, relay, MATCHED) as s:
        for i in range(SITES):
            light = project.sites[i].devices_by_kind()["light"][0]
            device = site_of(s, relay, server, i).light(light)
            calls += [partial(device.set_level, level) for level in range(per_site)]
            sent[light] = per_site
        succeeded(await run_all(calls))
    # One light per site: the 200s per device are the 200s per key, each bucket its own.
    assert len(sent) == SITES
    assert ledger(relay, sent) == 0
    executed_once(sim, sent, "powerlevel")


async def test_ten_times_the_real_rate_draws_at_most_four_429s(
    transport: Transport, backend: Backend, servers: Servers
) -> None:
    too_fast = RateLimit(rate=10 * RATE, burst=BURST, jitter=0.0)
    refused, bucket = await one_site(transport, backend, servers, too_fast)
    assert 1 <= refused <= 4  # nginx pushed back, and the controller came down in time
    # At most one decrease per episode; "within two episodes" is the controller's, held on a
    # virtual clock (tests/limits/test_adaptive.py): here a loaded machine may add one.
    assert 1 <= bucket.decreases <= refused
    assert bucket.rate <= 1.2 * RATE


async def test_auto_finds_the_limit_and_a_second_fan_out_starts_at_it(
    transport: Transport, backend: Backend, servers: Servers
) -> None:
    project, sim, server = backend
    relay = limited(servers, server)
    first_guids = buttons(project) * 2
    second_guids = buttons(project)
    async with session(transport, relay, RateLimit.auto()) as s:
        learned = await trigger_all(site_of(s, relay, server, 0), first_guids)
        found, found_at = learned.decreases, learned.rate
        refused_first = ledger(relay, Counter(first_guids))
        # A new handle: the same key and limit, so the same bucket, at the learned rate.
        again = await trigger_all(site_of(s, relay, server, 0), second_guids)
        assert again is learned  # it started at the learned rate, no slow start
    sent = Counter(first_guids + second_guids)
    refused = ledger(relay, sent)
    executed_once(sim, sent, "trigger")
    assert 1 <= refused_first <= 5  # it found the limit by a 429, and did not hammer it
    assert found >= 1
    assert 0.5 * RATE <= found_at <= 1.5 * RATE
    # Starting at the learned rate, the second fan-out draws at most a probe's 429.
    assert refused - refused_first <= 2
