"""count_requests: every attempt and every 429 of the code inside the block, exactly."""

from __future__ import annotations

import httpx
import pytest
import respx

from thinknx_async import (
    RateLimitedError,
    RetryPolicy,
    ServerError,
    Session,
    count_requests,
)

KEY = "Key1"
GUID = "Light00000000000000001"
OK = {"namespace": "power", "guid": GUID, "comm_obj": 1}


@pytest.mark.anyio
async def test_attempts_and_429s_are_counted_on_success_and_on_failure() -> None:
    retry = RetryPolicy(max_attempts=3, backoff=0.0)
    async with Session(rate_limit=None, retry=retry) as session:
        light = session.cloud(KEY).light(GUID)
        with respx.mock(assert_all_called=False) as mock:
            route = mock.get(url__startswith="https://data.thinknx.eu/")
            route.side_effect = [
                httpx.Response(429, json={"error": "rate limit exceeded"}),
                httpx.Response(200, json=OK),
            ]
            with count_requests() as stats:
                await light.turn_on()
            assert (stats.attempts, stats.rate_limited) == (2, 1)

            route.side_effect = [httpx.Response(500, json={"error": "x"})] * 3
            with count_requests() as failing, pytest.raises(ServerError):
                await light.turn_on()
            assert (failing.attempts, failing.rate_limited) == (3, 0)

            route.side_effect = [httpx.Response(429, json={"error": "rate limit exceeded"})] * 3
            with count_requests() as outer:
                with count_requests() as inner, pytest.raises(RateLimitedError):
                    await light.turn_on()
                assert (inner.attempts, inner.rate_limited) == (3, 3)
                route.side_effect = [httpx.Response(200, json=OK)]
                await light.turn_on()
            assert (outer.attempts, outer.rate_limited) == (1, 0)  # the inner block kept its own


@pytest.mark.anyio
async def test_nothing_is_counted_outside_a_block() -> None:
    async with Session(rate_limit=None) as session:
        light = session.cloud(KEY).light(GUID)
        with respx.mock() as mock:
            mock.get(url__startswith="https://data.thinknx.eu/").respond(200, json=OK)
            await light.turn_on()
            with count_requests() as stats:
                pass
    assert (stats.attempts, stats.rate_limited) == (0, 0)
