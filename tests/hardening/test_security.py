"""The security rules, each against real sockets: TLS verified by default, no plain-HTTP relay
unless asked, no redirect to another host, a warning for clear-text credentials, no secret in
anything the library shows, and no session shared across event loops."""

from __future__ import annotations

import asyncio
import dataclasses
import ssl
import threading
import traceback
import warnings
from collections.abc import Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import trio
import trustme

from thinknx_async import (
    CertificateError,
    InsecureCredentialsWarning,
    RateLimit,
    RedirectError,
    RetryPolicy,
    Session,
    SessionError,
    Site,
    ThinknxError,
    ValidationError,
)
from thinknx_async.simulator import Faults, Project, Simulator, SimulatorConfig, SimulatorThread

from .._logs import Collector
from ..conftest import Transport
from ._hostile import HostileServer, redirect_to

#: A password with characters that must be escaped in a query, a URL and a header.
PASSWORD = "pä&ss w=rd/+%#?Tz9"
KEY = "SecretRelayKey0123456789abcdefXY"


def _project() -> Project:
    generated = Project.generate(sites=2, seed=31)
    first = dataclasses.replace(generated.sites[0], password=PASSWORD, key=KEY)
    return Project((first, *generated.sites[1:]))


@pytest.fixture(scope="module")
def plain() -> Iterator[tuple[Simulator, SimulatorThread]]:
    sim = Simulator(_project(), SimulatorConfig(local_ports=1))
    with SimulatorThread(sim) as thread:
        yield sim, thread


@pytest.fixture(scope="module")
def tls() -> Iterator[tuple[Simulator, SimulatorThread]]:
    sim = Simulator(_project(), SimulatorConfig(local_ports=1, tls=True))
    with SimulatorThread(sim) as thread:
        yield sim, thread


def _ca(thread: SimulatorThread) -> ssl.SSLContext:
    context = thread.ssl_context()
    assert context is not None
    return context


def _local(session: Session, thread: SimulatorThread, auth: str, **options: Any) -> Site:
    url = httpx.URL(thread.local_urls["site-1"])
    assert url.host and url.port
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", InsecureCredentialsWarning)
        return session.local(
            url.host,
            port=url.port,
            username="service",
            password=options.pop("password", PASSWORD),
            auth=auth,  # type: ignore[arg-type]
            scheme=url.scheme,  # type: ignore[arg-type]
            **options,
        )


def _light(thread: SimulatorThread) -> str:
    guid: str = thread.manifest()["sites"][0]["devices"]["light"][0]
    return guid


# TLS ------------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("form", ["relay", "local"])
async def test_tls_is_verified_by_default(
    form: str, tls: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    sim, thread = tls
    before = sim.counters.requests()
    retry = RetryPolicy(max_attempts=2, backoff=0.0, max_backoff=0.0)
    # verify=True: the system's CAs
    async with Session(rate_limit=None, retry=retry, transport=transport) as session:
        if form == "relay":
            site = session.on_premise(thread.relay_url, KEY)
        else:
            site = _local(session, thread, "digest")
        with pytest.raises(CertificateError) as caught:
            await site.light(_light(thread)).turn_on()
    assert "TLS certificate rejected (unable to get local issuer certificate)" in str(caught.value)
    assert caught.value.never_sent
    assert caught.value.attempts == 1  # it cannot heal: never retried
    assert sim.counters.requests() == before  # nothing reached the server


@pytest.mark.anyio
async def test_a_certificate_from_another_ca_is_refused(
    tls: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    sim, thread = tls
    other = ssl.create_default_context()
    trustme.CA().configure_trust(other)
    before = sim.counters.requests()
    retry = RetryPolicy(max_attempts=1)
    async with Session(rate_limit=None, retry=retry, verify=other, transport=transport) as s:
        with pytest.raises(CertificateError, match="unable to get local issuer certificate"):
            await s.on_premise(thread.relay_url, KEY).light(_light(thread)).turn_on()
    assert sim.counters.requests() == before


@pytest.mark.anyio
async def test_the_right_ca_is_accepted(
    tls: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    _, thread = tls
    async with Session(rate_limit=None, verify=_ca(thread), transport=transport) as session:
        result = await session.on_premise(thread.relay_url, KEY).light(_light(thread)).turn_on()
    assert result.guid == _light(thread)


# Plain HTTP relay, clear-text credentials -------------------------------------------------------


@pytest.mark.anyio
async def test_a_plain_http_relay_is_refused_unless_allowed(
    plain: tuple[Simulator, SimulatorThread],
) -> None:
    _, thread = plain
    async with Session(rate_limit=None) as session:
        with pytest.raises(ValidationError, match="clear text"):
            session.on_premise(thread.relay_url, KEY)
        site = session.on_premise(thread.relay_url, KEY, allow_insecure=True)
        assert (await site.light(_light(thread)).turn_on()).guid == _light(thread)


@pytest.mark.anyio
async def test_query_credentials_warn_and_need_plain_http(
    plain: tuple[Simulator, SimulatorThread], tls: tuple[Simulator, SimulatorThread]
) -> None:
    _, thread = plain
    url = httpx.URL(thread.local_urls["site-1"])
    assert url.host and url.port
    async with Session(rate_limit=None) as session:
        with pytest.warns(InsecureCredentialsWarning, match="clear text"):
            site = session.local(
                url.host, port=url.port, username="service", password=PASSWORD, auth="query"
            )
        assert (await site.light(_light(thread)).turn_on()).guid == _light(thread)
        with pytest.raises(ValidationError, match="plain HTTP"):
            session.local(
                url.host, username="service", password=PASSWORD, auth="query", scheme="https"
            )


# Redirects ------------------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    "location",
    [
        f"https://evil.example/{KEY}/api/V1/power",
        "http://localhost:{port}/{key}/api/V1/power",
        "https://localhost:{port}/{key}/api/V1/power",
        "//evil.example/api/V1/power",
        "http://127.0.0.1:1/{key}/api/V1/power",  # same host, no upgrade
    ],
)
async def test_no_redirect_to_another_host_is_followed(
    location: str, hostile: HostileServer, transport: Transport
) -> None:
    hostile.use(redirect_to(location.format(port=hostile.port, key=KEY)))
    retry = RetryPolicy(max_attempts=3)
    async with Session(rate_limit=None, retry=retry, transport=transport) as session:
        site = session.on_premise(hostile.url, KEY, allow_insecure=True)
        with pytest.raises(RedirectError) as caught:
            await site.light("1IzPszHWAEuvzxtXBMkzWQ").turn_on()
    assert len(hostile.requests) == 1  # not followed, not retried
    assert KEY not in str(caught.value)
    assert KEY not in caught.value.location
    assert "refused redirect" in str(caught.value)


@pytest.mark.anyio
async def test_an_upgrade_to_https_on_the_same_host_is_followed(
    hostile: HostileServer, tls: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    """The spec's "HTTP is redirected to HTTPS": same host, followed once, then remembered."""
    _, thread = tls
    hostile.use(redirect_to(f"{thread.relay_url}/{KEY}/api/V1/power"))
    async with Session(rate_limit=None, verify=_ca(thread), transport=transport) as session:
        site = session.on_premise(hostile.url, KEY, allow_insecure=True)
        light = site.light(_light(thread))
        await light.turn_on()
        await light.turn_off()
        assert site.url == f"{thread.relay_url}/***/api/V1/"
    assert len(hostile.requests) == 1


# No secret in anything the library shows ------------------------------------------------------


def _error_texts(error: BaseException) -> Iterator[str]:
    yield "".join(traceback.format_exception(error))
    seen: set[int] = set()
    todo = [error]
    while todo:
        link = todo.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield str(link)
        yield repr(link)
        yield from (repr(arg) for arg in link.args)
        for name in ("message", "location", "body"):
            yield repr(getattr(link, name, None))
        todo.extend(e for e in (link.__cause__, link.__context__) if e is not None)


SECRETS = {
    "password": PASSWORD,
    "encoded password": quote(PASSWORD, safe=""),
    "basic token": httpx.BasicAuth("service", PASSWORD)._auth_header.removeprefix("Basic "),
    "key": KEY,
}
MODES = ["digest", "basic", "query", "relay-http", "relay-https", "wrong-password"]


async def _exercise(session: Session, site: Site, thread: SimulatorThread) -> list[str]:
    """Every kind of call, through every fault the simulator has; what the library showed."""
    shown = [repr(session), repr(site), site.url, site.name, repr(session.pool_stats())]
    guid = _light(thread)
    devices = thread.manifest()["sites"][0]["devices"]
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: site.light(guid).turn_on(feedback=True),
        lambda: site.light(guid).is_on(),
        lambda: site.scene(devices["scene"][0]).launch(),
        lambda: site.button(devices["button"][0]).trigger(),
        lambda: site.knx.send_float("1/0/1", 21.5),
        site.server_status,
        lambda: site.call("fanspeed", {"guid": guid, "speed": 2}),
        lambda: site.light("UnknownDevice000000000").turn_on(),
        lambda: site.light(guid).set_level(101),  # refused before sending
    ]
    for n in range(60):
        shown.append(repr(site.light(guid)))
        try:
            await calls[n % len(calls)]()
        except ThinknxError as error:
            shown.extend(_error_texts(error))
    return shown


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_no_secret_over_sockets_with_faults_on(
    mode: str,
    logs: Collector,
    plain: tuple[Simulator, SimulatorThread],
    tls: tuple[Simulator, SimulatorThread],
) -> None:
    sim, thread = tls if mode == "relay-https" else plain
    sim.set_faults(
        Faults(
            error_before_rate=0.1,
            error_after_rate=0.1,
            drop_before_rate=0.1,
            drop_after_rate=0.1,
            spike_rate=0.05,
            spike_seconds=0.4,
            slow_rate=0.05,
            slow_seconds=0.05,
            seed=5,
        )
    )
    retry = RetryPolicy(max_attempts=2, backoff=0.0, max_backoff=0.01)
    limit = RateLimit(rate=1000.0, burst=50)  # faster than the server's own limit below
    shown: list[str] = []
    try:
        async with Session(rate_limit=limit, retry=retry, timeout=0.3, verify=_ca(tls[1])) as s:
            if mode.startswith("relay"):
                site = s.on_premise(thread.relay_url, KEY, allow_insecure=mode == "relay-http")
            elif mode == "wrong-password":
                site = _local(s, thread, "basic", password=PASSWORD + "x")
            else:
                site = _local(s, thread, mode)
            shown = await _exercise(s, site, thread)
            # A bad certificate: the TLS error path.
            async with Session(rate_limit=None, retry=RetryPolicy(max_attempts=1)) as bad:
                try:
                    await bad.on_premise(tls[1].relay_url, KEY).light(_light(thread)).turn_on()
                except ThinknxError as error:
                    shown.extend(_error_texts(error))
    finally:
        sim.set_faults(Faults())
    assert any("Traceback" in text for text in shown)  # errors were raised and formatted
    assert logs.lines  # and logged, down to httpcore's DEBUG records
    for label, secret in SECRETS.items():
        assert not [t for t in shown if secret in t], f"the {label} leaked into an error or repr"
        assert not [line for line in logs.lines if secret in line], f"the {label} was logged"


# One session, one event loop ------------------------------------------------------------------


def test_a_session_used_from_another_event_loop_fails_fast(
    plain: tuple[Simulator, SimulatorThread],
) -> None:
    sim, thread = plain
    session = Session(rate_limit=None)
    site = session.on_premise(thread.relay_url, KEY, allow_insecure=True)
    light = site.light(_light(thread))

    async def use() -> object:
        return await light.turn_on()

    own = asyncio.new_event_loop()
    try:
        own.run_until_complete(use())
        before = sim.counters.requests()
        with pytest.raises(SessionError, match="event loop"):
            asyncio.run(use())
        with pytest.raises(SessionError, match="event loop"):
            trio.run(use)
        errors: list[BaseException] = []

        def other_thread() -> None:
            try:
                asyncio.run(use())
            except BaseException as error:
                errors.append(error)

        worker = threading.Thread(target=other_thread)
        worker.start()
        worker.join(10)
        assert len(errors) == 1
        assert isinstance(errors[0], SessionError)
        assert "one Session per event loop" in str(errors[0])
        assert sim.counters.requests() == before  # nothing was sent from a foreign loop
        own.run_until_complete(use())  # its own loop still works
        assert sim.counters.requests() == before + 1
        own.run_until_complete(session.aclose())
    finally:
        own.close()


@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_closing_from_another_event_loop_is_a_session_error(
    plain: tuple[Simulator, SimulatorThread], transport: Transport
) -> None:
    """Its connections belong to the loop that used it: refused with a typed error, and the
    session is closed for use all the same."""
    _, thread = plain
    session = Session(rate_limit=None, transport=transport)
    light = session.on_premise(thread.relay_url, KEY, allow_insecure=True).light(_light(thread))

    async def use() -> object:
        return await light.turn_on()

    own = asyncio.new_event_loop()
    try:
        own.run_until_complete(use())
        with pytest.raises(SessionError, match="closed from the event loop that used it"):
            asyncio.run(session.aclose())
        assert session.closed
        with pytest.raises(SessionError, match="closed"):
            own.run_until_complete(use())
    finally:
        own.close()
