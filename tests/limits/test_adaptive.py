"""The rate controller behind the bucket, on explicit timestamps and on a virtual clock."""

from __future__ import annotations

import pytest

from thinknx_async._adaptive import RateController
from thinknx_async.simulator.ratelimit import LimitReq
from thinknx_async.throttle import RateLimit

from .virtual import Kind, fan_out


def test_successes_alone_never_raise_the_rate_above_the_configured_one() -> None:
    control = RateController(10.0)
    for i in range(100):
        control.success(i * 0.1)
    assert control.rate == 10.0
    assert control.decreases == 0


def test_the_estimate_is_the_accepted_replies_per_second_not_a_share_of_the_send_rate() -> None:
    # Sent at 40/s for 1.5 s, of which the server accepted one reply in two (20/s): the share
    # (0.5) times the send rate would say 20/s too, so accepted replies are counted alone.
    control = RateController(40.0, burst=1.0)
    now = 0.0
    for _ in range(30):
        now += 0.05
        control.success(now)
    control.rate_limited(now + 0.01, granted_at=now, resume_at=now + 1.0)
    # The last second held 20 accepted replies, one of them the client's own burst: 19/s.
    assert control.estimate == pytest.approx(19.0, rel=0.06)
    assert control.rate == pytest.approx(0.9 * control.estimate)


def test_two_runs_measure_the_rate_without_the_servers_burst() -> None:
    control = RateController(200.0, burst=5.0)
    for _ in range(5):  # the server's burst of 5, at once
        control.success(0.002)
    control.rate_limited(0.004, granted_at=0.003, resume_at=1.0)
    assert control.decreases == 1
    assert control.rate == pytest.approx(50.0)  # no measure yet: a quarter, at most
    for i in range(9):  # then its burst again and 20/s: 9 replies in 0.2 s at 50/s
        control.success(1.0 + i * 0.02)
    control.rate_limited(1.19, granted_at=1.18, resume_at=2.19)
    # 4 more replies than the first run in 0.19 s more: under (4 + 1) / 0.19 = 26/s.
    assert control.estimate == pytest.approx(5 / 0.19)
    assert control.rate == pytest.approx(0.9 * 5 / 0.19)


def test_one_episode_lowers_the_rate_once_and_never_compounds() -> None:
    control = RateController(100.0)
    for i in range(20):
        control.success(i * 0.01)
    control.rate_limited(0.2, granted_at=0.19, resume_at=1.2)
    after_first = control.rate
    for i in range(50):  # the rest of the requests granted before the episode opened
        control.rate_limited(0.2 + i * 0.001, granted_at=0.19 - i * 0.001, resume_at=1.2)
    assert control.decreases == 1
    assert control.rate == after_first


def test_one_episode_lowers_the_rate_to_a_quarter_at_most() -> None:
    control = RateController(100.0)
    control.success(0.0)
    control.rate_limited(0.001, granted_at=0.0005, resume_at=1.0)
    assert control.decreases == 1
    assert control.rate == pytest.approx(25.0)


def test_a_429_for_a_request_sent_after_the_decrease_opens_a_new_episode() -> None:
    control = RateController(100.0)
    control.rate_limited(1.0, granted_at=0.5, resume_at=2.0)
    first = control.rate
    control.rate_limited(3.0, granted_at=2.5, resume_at=4.0)
    assert control.decreases == 2
    assert control.rate < first


def test_after_a_storm_the_rate_comes_back_quickly() -> None:
    control = RateController(20.0)
    now = 0.0
    for _ in range(10):  # ten episodes of 429s only: each lowers the rate
        now += 1.0
        control.rate_limited(now, granted_at=now - 0.01, resume_at=now + 0.5)
    assert control.rate == pytest.approx(20.0 / 64)
    assert control.estimate == 20.0  # nothing got through: nothing learned about capacity
    for _ in range(80):  # then successes, ten a second
        now += 0.1
        control.success(now)
    assert control.rate >= 0.9 * 20.0 - 1e-9  # back by doubling, in seconds


def test_after_a_measured_episode_the_rate_holds_then_probes_gently() -> None:
    control = RateController(200.0, burst=5.0)
    for _ in range(5):
        control.success(0.002)
    control.rate_limited(0.004, granted_at=0.003, resume_at=1.0)
    for i in range(9):
        control.success(1.0 + i * 0.02)
    control.rate_limited(1.19, granted_at=1.18, resume_at=2.19)
    settled = control.rate
    now = 2.19
    while now < 2.19 + 4.9:  # held for five seconds after the resume
        now += 0.05
        control.success(now)
    assert control.rate == settled
    now += 0.2
    control.success(now)
    now += 1.0
    control.success(now)  # a second of probing: about 5 % more, no jump
    assert settled < control.rate <= settled * 1.05 * 1.0125 + 1e-9


def test_auto_doubles_every_half_second_until_the_first_429() -> None:
    control = RateController(1000.0, rate=2.0, doubling=0.5)
    control.success(0.0)
    for i in range(1, 11):
        control.success(i * 0.1)
    assert control.rate == pytest.approx(2.0 * 2**2)  # one second: two doublings
    assert RateLimit.auto().ceiling == 1000.0
    assert RateLimit.auto(ceiling=50.0, rate=5.0, burst=2) == RateLimit(
        rate=5.0, burst=2, jitter=0.0, ceiling=50.0
    )


# On a virtual clock: the real TokenBucket against the simulator's bucket and nginx's limit_req
# (20/s, burst 5, Retry-After in whole seconds), 100 commands at once; each runs exactly once.

servers = pytest.mark.parametrize("kind", ["bucket", "limit_req"])


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@servers
async def test_ten_times_too_fast_settles_within_two_episodes(kind: Kind) -> None:
    limit = RateLimit(rate=200.0, burst=5, jitter=0.0)
    outcome, bucket, _ = await fan_out(limit, 100, kind=kind)
    assert outcome.executed == 100
    assert outcome.decreases <= 2
    assert outcome.rejected <= 4
    assert 0.85 * 20.0 <= bucket.rate <= 1.1 * 20.0  # settled near the server's rate
    ideal = (100 - 5) / 20.0
    assert outcome.elapsed <= 1.5 * ideal  # virtual time: exact, not a measurement


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@servers
async def test_auto_finds_the_limit_and_a_second_fan_out_starts_at_it(kind: Kind) -> None:
    outcome, bucket, clock = await fan_out(RateLimit.auto(), 100, kind=kind)
    assert outcome.executed == 100
    assert outcome.rejected <= 5
    assert outcome.decreases >= 1  # it did find the limit by a 429
    ideal = (100 - 5) / 20.0
    assert outcome.elapsed <= 1.6 * ideal
    learned = bucket.rate
    assert 0.8 * 20.0 <= learned <= 1.15 * 20.0
    again, _, _ = await fan_out(RateLimit.auto(), 100, bucket=bucket, clock=clock, kind=kind)
    assert again.executed == 100
    assert again.rejected <= 2
    assert again.elapsed <= 1.3 * ideal  # no slow start the second time


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@servers
async def test_matched_limits_draw_no_429(kind: Kind) -> None:
    outcome, _, _ = await fan_out(RateLimit(rate=20.0, burst=5), 100, kind=kind)
    assert (outcome.executed, outcome.rejected, outcome.decreases) == (100, 0, 0)


def test_limit_req_passes_its_burst_plus_one_then_one_per_interval() -> None:
    server = LimitReq(20.0, 5, now=0.0)
    assert [server.acquire(0.0) for _ in range(7)] == [0.0] * 6 + [1.0]  # nginx's burst + 1
    assert server.acquire(0.049) == 1.0  # 49 ms drained less than one request
    assert server.acquire(0.05) == 0.0  # 50 ms: one more
    assert server.acquire(0.05) == 1.0
