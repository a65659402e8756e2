"""Fan-out against the simulator: every site reported once, failures kept, early exit clean."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from thinknx_async import (
    AuthenticationError,
    CommandResult,
    DeviceNotFoundError,
    FanOut,
    Outcome,
    RateLimit,
    RetryPolicy,
    ServerError,
    Session,
    SessionError,
    Site,
    ValidationError,
)
from thinknx_async.fanout import Summary, gather
from thinknx_async.simulator import Faults, Project, Simulator

from .conftest import SITES, light_of

pytestmark = pytest.mark.anyio


def _tasks() -> int:
    """Tasks alive now (asyncio only; trio's nurseries make leaks impossible to hide)."""
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:
        return 0


async def test_thousand_sites_give_thousand_outcomes(
    session: Session, sites: list[Site], sim: Simulator, big_project: Project
) -> None:
    outcomes: list[Outcome[CommandResult]] = []
    async with session.fan_out(
        sites, lambda s: s.light(light_of(big_project, s)).turn_on(), concurrency=50
    ) as stream:
        async for outcome in stream:
            outcomes.append(outcome)
    assert len(outcomes) == SITES
    assert sorted(o.index for o in outcomes) == list(range(SITES))
    assert {o.site for o in outcomes} == set(sites)
    assert all(o.ok and o.attempts == 1 and o.elapsed >= 0 for o in outcomes)
    assert all(isinstance(o.value, CommandResult) for o in outcomes)
    assert sim.counters.total_executed() == SITES
    assert stream.completed == stream.total == SITES


async def test_gather_reports_in_input_order_with_failures_by_type(
    session: Session, sites: list[Site], sim: Simulator, big_project: Project
) -> None:
    chosen = sites[:200]
    broken = {s.name for s in chosen[10:20]}
    sim.set_faults(Faults(error_before_rate=1.0, sites=tuple(s.key for s in big_project.sites[:5])))
    wrong = session.on_premise("http://sim", "NoSuchKey123", allow_insecure=True, name="wrong")

    async def operation(site: Site) -> Any:
        if site.name in broken:
            raise KeyError(site.name)  # any exception is kept, never raised out of the loop
        if site.name == "site-6":
            return await site.light("NoSuchDevice_000000000").turn_on()
        return await site.light(light_of(big_project, site)).is_on()

    report = await session.gather([*chosen, wrong], lambda s: operation(s) if s is not wrong
                                  else s.server_status(), concurrency=17)  # fmt: skip
    assert [o.site for o in report] == [*chosen, wrong]
    assert len(report) == 201
    types = Counter(o.error_type for o in report.failed)
    assert types == {"ServerError": 5, "KeyError": 10, "DeviceNotFoundError": 1,
                     "AuthenticationError": 1}  # fmt: skip
    assert isinstance(report.outcomes[0].error, ServerError)
    assert report.outcomes[0].attempts == 1
    assert isinstance(report.outcomes[5].error, DeviceNotFoundError)
    assert isinstance(report.outcomes[-1].error, AuthenticationError)
    assert report.outcomes[10].attempts == 0  # not a library error: nothing known to be sent
    assert not report.ok
    assert len(report.succeeded) == 201 - 17
    assert set(report.values().values()) == {False}
    summary = report.summary()
    assert (summary.total, summary.succeeded, summary.failed) == (201, 184, 17)
    assert list(summary.errors) == ["KeyError", "ServerError", "DeviceNotFoundError",
                                    "AuthenticationError"]  # fmt: skip
    assert "201 sites: 184 succeeded, 17 failed (KeyError: 10, ServerError: 5" in str(summary)
    with pytest.raises(ServerError):
        report.outcomes[0].unwrap()
    assert report.outcomes[20].unwrap() is False


@pytest.mark.parametrize("how", ["break", "exception", "cancel"])
async def test_leaving_early_cancels_the_rest_and_keeps_the_session_usable(
    how: str, session: Session, sites: list[Site], big_project: Project
) -> None:
    before = _tasks()
    running = 0
    finished = cancelled = 0
    gate = anyio.Event()

    async def operation(site: Site) -> bool:
        nonlocal running, finished, cancelled
        running += 1
        try:
            if site is not sites[0]:
                await gate.wait()  # everything but the first site stays in flight
            return await site.light(light_of(big_project, site)).is_on()
        except anyio.get_cancelled_exc_class():
            cancelled += 1
            raise
        finally:
            running -= 1
            finished += 1

    seen: list[Outcome[bool]] = []
    with anyio.CancelScope() as scope:
        try:
            async with session.fan_out(sites, operation, concurrency=10) as stream:
                async for outcome in stream:
                    seen.append(outcome)
                    if how == "break":
                        break
                    if how == "exception":
                        raise LookupError("stop here")
                    scope.cancel()
                    await anyio.lowlevel.checkpoint()
        except LookupError:
            assert how == "exception"
    assert len(seen) == 1 and seen[0].ok
    # The first worker may have pulled one more site before the consumer woke up.
    assert stream.started in (10, 11)  # the other 989 or 990 were never started
    assert running == 0 and cancelled == stream.started - 1 and finished == stream.started
    assert _tasks() == before
    with pytest.raises(SessionError, match="closed"):
        await stream.__anext__()
    assert await sites[-1].light(light_of(big_project, sites[-1])).is_on() is False


async def test_leaving_while_operations_are_finishing_drops_their_outcomes_quietly(
    sites: list[Site],
) -> None:
    """Operations that finish as the block is left must not fail on the closed stream."""
    gate = anyio.Event()

    async def operation(site: Site) -> int:
        if site is not sites[0]:
            await gate.wait()
        return 1

    async with FanOut(sites[:5], operation, concurrency=5) as stream:  # must exit cleanly
        async for outcome in stream:
            assert outcome.site is sites[0]
            gate.set()  # the others are done, and ready to deliver, as the block is left
            break


async def test_outcomes_stream_before_the_last_site_starts(
    session: Session, sites: list[Site], big_project: Project
) -> None:
    started = 0

    async def operation(site: Site) -> bool:
        nonlocal started
        started += 1
        return await site.light(light_of(big_project, site)).is_on()

    first_seen_at: int | None = None
    count = 0
    async with session.fan_out(sites, operation, concurrency=20) as stream:
        async for _ in stream:
            count += 1
            if first_seen_at is None:
                first_seen_at = started
    assert count == SITES
    assert first_seen_at is not None and first_seen_at < SITES // 2


async def test_concurrency_bounds_operations_in_flight(sites: list[Site]) -> None:
    in_flight = peak = 0

    async def operation(site: Site) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await anyio.lowlevel.checkpoint()
        await anyio.lowlevel.checkpoint()
        in_flight -= 1
        return site.name

    report = await gather(sites[:300], operation, concurrency=7)
    assert peak == 7
    assert [o.value for o in report] == [s.name for s in sites[:300]]


async def test_site_rate_limits_apply_and_slowdowns_are_reported(
    sim: Simulator, big_project: Project
) -> None:
    import httpx

    from thinknx_async.simulator import SimulatorConfig, create_app

    config = SimulatorConfig(local_ports=0, rate=2.0, burst=1, retry_after="none")
    limited = Simulator(big_project, config)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(limited)))
    retry = RetryPolicy(max_attempts=2, backoff=0.0)
    async with client, Session(http_client=client, rate_limit=RateLimit(rate=100.0, burst=6),
                               retry=retry) as session:  # fmt: skip
        site = session.on_premise("http://sim", big_project.sites[0].key, allow_insecure=True)
        light = big_project.sites[0].devices_by_kind()["light"][0]
        report = await session.gather([site] * 6, lambda s: s.light(light).is_on(), concurrency=6)
    assert len(report) == 6
    assert all(o.ok or o.error_type == "RateLimitedError" for o in report)
    assert sum(o.rate_limited for o in report) >= 1
    assert report.summary().rate_limited == sum(o.rate_limited for o in report)
    assert site.bucket is not None and site.bucket.decreases >= 1


async def test_on_outcome_sees_every_outcome_and_its_exception_cancels(
    session: Session, sites: list[Site]
) -> None:
    seen: list[int] = []

    async def name(site: Site) -> str:
        await anyio.lowlevel.checkpoint()
        return site.name

    report = await session.gather(sites[:50], name, on_outcome=lambda o: seen.append(o.index))
    assert sorted(seen) == list(range(50)) and len(report) == 50

    def explode(outcome: Outcome[Any]) -> None:
        raise RuntimeError("hook failed")

    with pytest.raises(RuntimeError, match="hook failed"):
        await session.gather(sites[:50], name, on_outcome=explode, concurrency=5)


async def test_base_exceptions_propagate(sites: list[Site]) -> None:
    class Stop(BaseException):
        pass

    async def operation(site: Site) -> None:
        raise Stop

    with pytest.raises(BaseExceptionGroup) as info:
        await gather(sites[:3], operation, concurrency=2)
    assert info.group_contains(Stop)


async def test_misuse_is_refused(session: Session, sites: list[Site]) -> None:
    async def noop(site: Site) -> None:
        return None

    with pytest.raises(ValidationError, match="concurrency"):
        session.fan_out(sites, noop, concurrency=0)
    with pytest.raises(ValidationError, match="concurrency"):
        FanOut(sites, noop, concurrency=True)
    with pytest.raises(ValidationError, match="not one Site"):
        FanOut(sites[0], noop)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Site objects, got str"):
        FanOut(["site-1"], noop)  # type: ignore[list-item]
    with pytest.raises(ValidationError, match="callable"):
        FanOut(sites, None)  # type: ignore[arg-type]
    fan_out = session.fan_out(sites[:2], noop)
    assert "0/2 done, new" in repr(fan_out)
    with pytest.raises(SessionError, match=r"async with session\.fan_out"):
        async for _ in fan_out:
            pass
    async with fan_out:
        assert [o.value async for o in fan_out] == [None, None]
    with pytest.raises(SessionError, match="only once"):
        async with fan_out:
            pass
    empty = await session.gather([], noop)
    assert len(empty) == 0 and empty.ok and empty.summary().total == 0


async def test_a_closed_session_refuses_to_fan_out(sim: Simulator) -> None:
    session = Session()
    await session.aclose()
    with pytest.raises(SessionError):
        session.fan_out([], lambda s: s.server_status())
    with pytest.raises(SessionError):
        await session.gather([], lambda s: s.server_status())


def test_summary_text_without_errors() -> None:
    summary = Summary.of([], 1.5)
    assert str(summary) == "0 sites: 0 succeeded, 0 failed; 0 retries, 0 replies 429; 1.50 s"
