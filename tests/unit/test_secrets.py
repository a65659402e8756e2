"""No Integration Kit key, password or Basic token leaks into a log record, an exception or a repr,
in any access mode, on success or on any failure."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator
from urllib.parse import quote

import httpx
import pytest
import respx

from thinknx_async import RetryPolicy, Session, Site, ThinknxError

from .._logs import Collector
from ._support import (
    BASIC_TOKEN,
    CHALLENGE,
    GUID,
    HOST,
    KEY,
    MODES,
    PASSWORD,
    Mode,
    command_reply,
    make_site,
    quiet_session,
)

LOCAL_SECRETS = {
    "password": PASSWORD,
    "encoded password": quote(PASSWORD, safe=""),
    "basic token": BASIC_TOKEN,
}
SECRETS: dict[Mode, dict[str, str]] = {
    "digest": LOCAL_SECRETS,
    "basic": LOCAL_SECRETS,
    "query": LOCAL_SECRETS,
    "cloud": {"key": KEY},
    "relay": {"key": KEY},
}
#: Where a hostile redirect points: every secret of every mode in one URL, where it stands.
AWAY = f"https://evil.example/{KEY}/api/V1/power?pass={quote(PASSWORD, safe='')}"
Outcome = Callable[[httpx.Request], httpx.Response]


def answer(response: httpx.Response | Exception) -> Outcome:
    def reply(request: httpx.Request) -> httpx.Response:
        if isinstance(response, Exception):
            raise response
        return response

    return reply


def echo_url(status: int) -> Outcome:
    """A server that quotes the request (URL, credentials header) back, in an HTML page or an
    ``error`` field."""

    def reply(request: httpx.Request) -> httpx.Response:
        url = str(request.url)
        if status == 200:
            return httpx.Response(200, text=f"<html>no route to {url}</html>")
        text = f"bad request {url} (Authorization: Basic {BASIC_TOKEN})"
        return httpx.Response(status, json={"error": text})

    return reply


OUTCOMES: dict[str, Outcome] = {
    "ok": answer(httpx.Response(200, json=command_reply("power"))),
    "400": answer(httpx.Response(400, json={"error": "params errors"})),
    "401": answer(httpx.Response(401)),
    "403": answer(httpx.Response(403)),
    "404": answer(httpx.Response(404, json={"error": "device not found"})),
    "500": answer(httpx.Response(500)),
    "418": answer(httpx.Response(418)),
    "201": answer(httpx.Response(201, json={})),
    "200-error": answer(httpx.Response(200, json={"error": "impossible to execute"})),
    "not-json": answer(httpx.Response(200, text="OK")),
    "html-echo": echo_url(200),
    "error-echo": echo_url(400),
    "too-large": answer(httpx.Response(200, json={"pad": "x" * 5000})),
    "bad-field": answer(httpx.Response(200, json={"namespace": "power", "guid": GUID})),
    "connect": answer(httpx.ConnectError("[Errno 111] Connection refused")),
    "connect-timeout": answer(httpx.ConnectTimeout("timed out")),
    "read-timeout": answer(httpx.ReadTimeout("timed out")),
    "remote-protocol": answer(httpx.RemoteProtocolError("Server disconnected")),
    "redirect-away": answer(httpx.Response(302, headers={"location": AWAY})),
    "redirect-no-location": answer(httpx.Response(302)),
    # Last: over max_retry_after, so the site then refuses calls (their messages are shown too).
    "429": answer(httpx.Response(429, headers={"retry-after": "120"})),
}

CALLS: dict[str, Callable[[Site], Awaitable[object]]] = {
    "light": lambda s: s.light(GUID).turn_on(feedback=True),
    "scene": lambda s: s.scene(GUID).launch(),
    "knx": lambda s: s.knx.send_float("1/0/1", 21.5),
    "call": lambda s: s.call("fanspeed", {"guid": GUID, "speed": 2}),
    "status": lambda s: s.server_status(),
}


def with_digest(outcome: Outcome) -> Outcome:
    def reply(request: httpx.Request) -> httpx.Response:
        if "authorization" not in request.headers:
            return httpx.Response(401, headers={"www-authenticate": CHALLENGE})
        return outcome(request)

    return reply


def chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [error]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__) if e is not None)


def texts_of(error: BaseException) -> Iterator[str]:
    for link in chain(error):
        yield str(link)
        yield repr(link)
        yield from (repr(arg) for arg in link.args)
        for name in ("message", "location"):
            value = getattr(link, name, None)
            if isinstance(value, str):
                yield value


def assert_clean(texts: list[str], mode: Mode) -> None:
    for label, secret in SECRETS[mode].items():
        leaks = [text for text in texts if secret in text]
        assert not leaks, f"the {label} leaked: {leaks[:3]}"


async def exercise(session: Session, mode: Mode) -> list[str]:
    """Every call against every outcome on one site; the texts of what it showed."""
    site = make_site(session, mode)
    shown = [repr(session), repr(site), site.url, site.name, repr(site.light(GUID)),
             repr(site.knx), repr(site.scene(GUID))]  # fmt: skip
    with respx.mock(assert_all_mocked=True) as router:
        route = router.route()
        for outcome in OUTCOMES.values():
            route.mock(side_effect=with_digest(outcome) if mode == "digest" else outcome)
            for call in CALLS.values():
                try:
                    await call(site)
                except ThinknxError as error:
                    shown.extend(texts_of(error))
    return shown


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_no_secret_in_logs_errors_or_reprs(mode: Mode, logs: Collector) -> None:
    async with quiet_session(max_reply_size=1000) as session:
        shown = await exercise(session, mode)
    assert_clean(shown, mode)
    assert_clean(logs.lines, mode)
    assert any(line.startswith("httpx INFO HTTP Request") for line in logs.lines)
    if mode in ("cloud", "relay"):
        assert any("/***/api/V1/power" in line for line in logs.lines)
        assert all("/***/api/V1/" in text for text in shown[1:4])


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_no_secret_in_retry_logs(mode: Mode, logs: Collector) -> None:
    retry = RetryPolicy(max_attempts=3, backoff=0.001, max_backoff=0.001)
    async with quiet_session(retry=retry, max_reply_size=1000) as session:
        shown = await exercise(session, mode)
    assert_clean(shown, mode)
    assert_clean(logs.lines, mode)
    assert any("retrying in" in line for line in logs.lines)


@pytest.mark.anyio
async def test_query_credentials_are_masked_in_the_logged_url(logs: Collector) -> None:
    async with quiet_session() as session:
        site = make_site(session, "query")
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(return_value=httpx.Response(200, json=command_reply("power")))
            await site.light(GUID).turn_on()
            sent = str(router.calls.last.request.url)
    assert f"pass={quote(PASSWORD, safe='')}" in sent  # the server does need it
    logged = [line for line in logs.lines if "HTTP Request" in line]
    assert logged == [
        f"httpx INFO HTTP Request: GET http://{HOST}:5051/api/V1/power?guid={GUID}&cmd=1"
        '&auth=basic&user=service&pass=*** "HTTP/1.1 200 OK"'
    ]


@pytest.mark.anyio
async def test_a_key_shared_by_two_sessions_stays_masked_when_one_closes(logs: Collector) -> None:
    first, second = quiet_session(), quiet_session()
    first.cloud(KEY)
    site = second.cloud(KEY)
    await first.aclose()
    with respx.mock(assert_all_mocked=True) as router:
        router.route().mock(return_value=httpx.Response(200, json=command_reply("power")))
        await site.light(GUID).turn_on()
    await second.aclose()
    assert_clean(logs.lines, "cloud")
    assert any("/***/api/V1/power" in line for line in logs.lines)


@pytest.mark.anyio
async def test_the_masked_url_outlives_the_session() -> None:
    """A site handle kept after its session closed still shows its URL with the key masked."""
    key = "OutlivesTheSession4711"  # used by no other test, so no other session masks it
    async with quiet_session() as session:
        site = session.cloud(key)
        device = site.light(GUID)
    shown = [site.url, site.name, repr(site), repr(device), repr(site.knx)]
    assert not [text for text in shown if key in text]
    assert site.url == "https://data.thinknx.eu/***/api/V1/"


@pytest.mark.anyio
async def test_own_message_is_masked_even_if_the_transport_quotes_the_url() -> None:
    async with quiet_session() as session:
        site = session.cloud(KEY)
        with respx.mock(assert_all_mocked=True) as router:
            url = f"https://data.thinknx.eu/{KEY}/api/V1/power"
            router.route().mock(side_effect=httpx.ConnectError(f"cannot reach {url}"))
            with pytest.raises(ThinknxError) as caught:
                await site.light(GUID).turn_on()
    assert KEY not in str(caught.value)
    assert "https://data.thinknx.eu/***/api/V1/power" in str(caught.value)


def test_the_log_filter_masks_by_structure_and_leaves_other_records_alone() -> None:
    from thinknx_async._secrets import _filter

    url = f"https://data.thinknx.eu/{KEY}/api/V1/power"
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1, "url %s", (url,), None)
    assert _filter.filter(record)
    assert record.getMessage() == "url https://data.thinknx.eu/***/api/V1/power"
    untouched = logging.LogRecord("httpx", logging.INFO, __file__, 1, "%s", ("plain",), None)
    assert _filter.filter(untouched)
    assert untouched.args == ("plain",)
