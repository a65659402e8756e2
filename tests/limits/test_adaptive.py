"""The rate controller behind the bucket, on explicit timestamps."""

from __future__ import annotations

import pytest

from thinknx_async._adaptive import RateController


def test_successes_alone_never_raise_the_rate_above_the_configured_one() -> None:
    control = RateController(10.0)
    for i in range(100):
        control.success(i * 0.1)
    assert control.rate == 10.0
    assert control.decreases == 0


def test_an_episode_settles_under_the_share_the_server_accepted() -> None:
    control = RateController(10.0)
    for i in range(8):
        control.success(i * 0.01)
    control.rate_limited(0.1, granted_at=0.09)
    control.rate_limited(0.11, granted_at=0.09)  # same burst: refines, does not compound
    assert control.decreases == 1
    # 8 of 10 replies accepted at 10/s: the server takes about 8/s; run 10% under it.
    assert control.rate == pytest.approx(0.9 * 10.0 * 0.8)


def test_one_episode_lowers_the_rate_to_a_quarter_at_most() -> None:
    control = RateController(100.0)
    for i in range(50):
        control.rate_limited(i * 0.001, granted_at=0.0)
    assert control.decreases == 1
    assert control.rate == pytest.approx(25.0)


def test_a_429_for_a_request_sent_after_the_decrease_opens_a_new_episode() -> None:
    control = RateController(100.0)
    control.rate_limited(1.0, granted_at=0.5)
    first = control.rate
    control.rate_limited(2.0, granted_at=1.5)
    assert control.decreases == 2
    assert control.rate < first


def test_after_a_storm_the_rate_comes_back_quickly() -> None:
    control = RateController(20.0)
    now = 0.0
    for _ in range(10):  # ten seconds of 429s only: each episode lowers the rate
        now += 1.0
        control.rate_limited(now, granted_at=now - 0.01)
    assert control.rate == pytest.approx(20.0 / 64)
    for _ in range(80):  # then successes, ten a second
        now += 0.1
        control.success(now)
    # A storm says nothing about capacity: back to 90% of it by doubling, in seconds.
    assert control.rate >= 0.9 * 20.0 - 1e-9


def test_above_the_estimate_the_rate_probes_slowly() -> None:
    control = RateController(20.0)
    for i in range(9):
        control.success(i * 0.1)
    control.rate_limited(1.0, granted_at=0.95)  # 9 of 10 accepted: capacity about 18/s
    settled = control.rate
    assert settled == pytest.approx(0.9 * 18.0)
    control.success(1.5)
    control.success(2.0)  # a second later: about 5% more, no jump
    assert settled < control.rate <= settled * 1.025**2 + 1e-9
