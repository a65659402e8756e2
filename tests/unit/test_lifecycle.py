"""Session lifecycle: context manager, idempotent close, use after close, injected clients, and
the one-event-loop rule."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import respx
import trio

from thinknx_async import Session, SessionError, Site, ThinknxError
from thinknx_async._transport import ClientPool, ConnectionPool

from ._support import GUID, KEY, command_reply, make_site, quiet_session

REPLY = command_reply("power")


@pytest.mark.anyio
async def test_async_with_opens_and_closes() -> None:
    session = Session()
    assert repr(session) == "<Session open>"
    async with session as entered:
        assert entered is session
        assert repr(session) == "<Session open>"
        assert session.pool_stats() is not None
    assert isinstance(session.pool, ConnectionPool)
    assert session.pool.closed
    assert session.closed
    assert repr(session) == "<Session closed>"


@pytest.mark.anyio
async def test_aclose_is_idempotent() -> None:
    session = quiet_session()
    await session.aclose()
    await session.aclose()
    assert session.closed


@pytest.mark.anyio
async def test_calls_after_close_raise_session_error() -> None:
    async with quiet_session() as session:
        site = make_site(session, "cloud")
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        router.route().mock(return_value=httpx.Response(200, json=REPLY))
        with pytest.raises(SessionError):
            await site.light(GUID).turn_on()
        with pytest.raises(SessionError):
            await site.call("power", {"guid": GUID, "cmd": 1})
        with pytest.raises(SessionError):
            await site.server_status()
        assert router.calls.call_count == 0


@pytest.mark.anyio
async def test_no_new_sites_or_context_after_close() -> None:
    session = quiet_session()
    await session.aclose()
    with pytest.raises(SessionError):
        session.cloud(KEY)
    with pytest.raises(SessionError):
        session.local("10.0.0.5", username="admin", password="Closed-Session-Pw")
    with pytest.raises(SessionError):
        async with session:
            pass


def test_session_error_is_a_thinknx_error_and_a_runtime_error() -> None:
    assert issubclass(SessionError, ThinknxError)
    assert issubclass(SessionError, RuntimeError)


@pytest.mark.anyio
async def test_injected_client_is_used_and_not_closed() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=REPLY)

    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    async with quiet_session(http_client=client) as session:
        assert isinstance(session.pool, ClientPool)
        assert session.pool.client is client
        assert session.pool_stats() is None
        site = make_site(session, "cloud")
        await site.light(GUID).turn_on()
    assert session.closed
    assert not client.is_closed
    assert [str(r.url) for r in seen] == [
        f"https://data.thinknx.eu/{KEY}/api/V1/power?guid={GUID}&cmd=1"
    ]
    await client.aclose()


@pytest.fixture
def made_outside_a_loop() -> Session:
    return quiet_session()


@pytest.mark.anyio
async def test_session_made_outside_a_loop_binds_to_its_first_loop(
    made_outside_a_loop: Session,
) -> None:
    with respx.mock(assert_all_mocked=True) as router:
        router.route().mock(return_value=httpx.Response(200, json=REPLY))
        async with made_outside_a_loop as session:
            await make_site(session, "cloud").light(GUID).turn_on()


async def one_call(session: Session, site: Site) -> None:
    await site.light(GUID).turn_on()


def test_a_session_used_from_a_second_asyncio_loop_fails_fast() -> None:
    session = quiet_session()
    site = make_site(session, "cloud")
    with respx.mock(assert_all_mocked=True) as router:
        router.route().mock(return_value=httpx.Response(200, json=REPLY))
        asyncio.run(one_call(session, site))
        with pytest.raises(SessionError, match="event loop"):
            asyncio.run(one_call(session, site))
        assert router.calls.call_count == 1
    with pytest.raises(SessionError, match="closed from the event loop that used it"):
        asyncio.run(session.aclose())
    assert session.closed


def test_a_session_used_from_a_second_trio_run_fails_fast() -> None:
    session = quiet_session()
    site = make_site(session, "cloud")
    with respx.mock(assert_all_mocked=True) as router:
        router.route().mock(return_value=httpx.Response(200, json=REPLY))
        trio.run(one_call, session, site)
        with pytest.raises(SessionError, match="event loop"):
            trio.run(one_call, session, site)
        assert router.calls.call_count == 1
    with pytest.raises(SessionError, match="closed from the event loop that used it"):
        trio.run(session.aclose)
    assert session.closed


def test_a_session_entered_from_a_second_loop_fails_fast() -> None:
    session = quiet_session()

    async def enter() -> None:
        async with session:
            pass

    async def use() -> None:
        await session.__aenter__()

    asyncio.run(use())
    with pytest.raises(SessionError):
        asyncio.run(enter())
    with pytest.raises(SessionError):
        asyncio.run(session.aclose())
