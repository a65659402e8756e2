"""A 429 asking for an absurd wait raises at once, and never leaves a site blocking silently."""

from __future__ import annotations

import socket

import anyio
import pytest

from thinknx_async import RateLimit, RateLimitedError, RetryPolicy, Session

from ..conftest import Transport
from ._hostile import HostileServer, _reply, ok

KEY = "RetryAfterKey1"
LIMIT = 0.3  # max_retry_after: short, so the test can outwait it


def too_long(value: str) -> object:
    def case(sock: socket.socket, target: str, server: HostileServer) -> bool:
        sock.sendall(_reply("429 Too Many Requests", b'{"error":"slow down"}', (
            "Content-Type: application/json", f"Retry-After: {value}")))  # fmt: skip
        return True

    return case


@pytest.mark.anyio
@pytest.mark.parametrize("value", ["99999999", "Fri, 31 Dec 2099 23:59:59 GMT"])
async def test_a_huge_retry_after_refuses_calls_for_at_most_the_cap(
    hostile: HostileServer, transport: Transport, value: str
) -> None:
    hostile.use(too_long(value))  # type: ignore[arg-type]
    policy = RetryPolicy(max_attempts=3, max_retry_after=LIMIT)
    async with Session(rate_limit=RateLimit(rate=50, burst=5), retry=policy,
                       transport=transport) as session:  # fmt: skip
        light = session.on_premise(hostile.url, KEY, allow_insecure=True).light("G1")
        with pytest.raises(RateLimitedError) as first:
            await light.turn_on()
        assert first.value.retry_after is not None and first.value.retry_after > 1e6
        assert first.value.attempts == 1  # over the cap: raised at once, not slept through
        assert len(hostile.requests) == 1

        # The next calls fail at once, unsent: no silent block behind a years-long pause.
        with anyio.fail_after(5):
            for _ in range(3):
                with pytest.raises(RateLimitedError, match="not sent") as refused:
                    await light.turn_on()
                assert refused.value.attempts == 0
                assert refused.value.retry_after is not None
                assert 0 < refused.value.retry_after <= LIMIT
        assert len(hostile.requests) == 1

        # Once the cap has passed, the site asks the server again.
        await anyio.sleep(LIMIT + 0.05)
        hostile.use(ok)
        with anyio.fail_after(5):
            result = await light.turn_on()
        assert result.guid == "G1"
        assert len(hostile.requests) == 1


@pytest.mark.anyio
async def test_a_retry_after_within_the_cap_is_waited_through(
    hostile: HostileServer, transport: Transport
) -> None:
    """Retry-After: 0 is within any cap: the retry goes out and succeeds, nothing is refused."""
    answers = iter([too_long("0"), ok])

    def once_then_ok(sock: socket.socket, target: str, server: HostileServer) -> bool:
        return next(answers)(sock, target, server)  # type: ignore[operator, no-any-return]

    hostile.use(once_then_ok)
    policy = RetryPolicy(max_attempts=2, backoff=0.0, max_backoff=0.0, max_retry_after=LIMIT)
    async with Session(rate_limit=None, retry=policy, transport=transport) as session:
        light = session.on_premise(hostile.url, KEY, allow_insecure=True).light("G2")
        with anyio.fail_after(5):
            assert (await light.turn_on()).guid == "G2"
    assert len(hostile.requests) == 2
