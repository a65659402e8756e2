"""Hostile replies: whatever a server, a relay or a proxy sends back, the caller gets a typed
error with a useful message, never a crash, a hang or a connection left open.

Three levels: the reply parser alone (hypothesis, thousands of bodies), the whole request
path through respx (hypothesis), and a raw socket server that breaks HTTP itself.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx
import pytest
import respx
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from thinknx_async import (
    ApiError,
    AuthenticationError,
    BadRequestError,
    CommandResult,
    DeviceNotFoundError,
    ExecutionError,
    KnxResult,
    ProtocolError,
    RateLimitedError,
    RetryPolicy,
    ServerError,
    Session,
    SessionError,
    Site,
    ThinknxError,
    TransportError,
    ValidationError,
)
from thinknx_async._replies import decode_reply
from thinknx_async.models import structure, structure_server_status

from ..conftest import Transport
from ._hostile import HostileServer

GUID = "1IzPszHWAEuvzxtXBMkzWQ"
KEY = "HostileRelayKey4711"
VALID = {"namespace": "power", "guid": GUID, "comm_obj": 12}
CAP = 2048
TLS = ssl.create_default_context()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
#: Values of a type no reply field may have (an unreadable ``status`` of a command is ``None``,
#: so those replies are valid and filtered out by the check below).
WRONG: dict[str, st.SearchStrategy[Any]] = {
    "namespace": st.none() | st.booleans() | st.integers() | st.lists(st.text(), max_size=2),
    "guid": st.none() | st.booleans() | st.integers() | st.dictionaries(st.text(), st.text()),
    "comm_obj": st.none() | st.booleans() | st.text() | st.floats() | st.lists(st.integers()),
    "status": st.booleans() | st.text() | st.lists(st.integers(), max_size=2),
}


def _is_valid_command_reply(content: bytes) -> bool:
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return False
    if not isinstance(body, dict) or "error" in body:
        return False
    try:
        result = structure(body, CommandResult, what="check")
    except ProtocolError:
        return False
    return result.guid == GUID


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[str, bytes]:
    """A reply body that breaks the contract of a ``power`` reply, and what is wrong with it."""
    kind = draw(
        st.sampled_from(
            ["bytes", "text", "html", "truncated", "wrong-type", "missing", "error", "json", "huge"]
        )
    )
    valid = json.dumps(VALID).encode()
    if kind == "bytes":
        content = draw(st.binary(max_size=200))
    elif kind == "text":
        content = draw(st.text(max_size=200)).encode()
    elif kind == "html":
        title = draw(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
        content = f"<!DOCTYPE html><html><head><title>{title}</title></head><body>{title}".encode()
        content += b"</body></html>"
    elif kind == "truncated":
        content = valid[: draw(st.integers(0, len(valid) - 1))]
    elif kind == "wrong-type":
        field = draw(st.sampled_from(sorted(WRONG)))
        content = json.dumps({**VALID, field: draw(WRONG[field])}).encode()
    elif kind == "missing":
        gone = draw(st.sets(st.sampled_from(sorted(VALID)), min_size=1))
        content = json.dumps({k: v for k, v in VALID.items() if k not in gone}).encode()
    elif kind == "error":
        # Not "" nor a zero ("0", "0.0"): those say "no error".
        other = st.text(min_size=1, max_size=30).filter(lambda t: t.strip("0.-+eE") != "")
        text = draw(st.sampled_from(sorted(KNOWN_ERRORS)) | other)
        base = draw(st.sampled_from([{}, VALID]))
        content = json.dumps({**base, "error": text}).encode()
    elif kind == "json":
        content = json.dumps(draw(json_values)).encode()
    else:
        content = json.dumps({**VALID, "pad": "x" * draw(st.integers(CAP, 4 * CAP))}).encode()
    assume(not _is_valid_command_reply(content))
    return kind, content


KNOWN_ERRORS: dict[str, type[ApiError]] = {
    "device not found": DeviceNotFoundError,
    "params errors": BadRequestError,
    "impossible to execute": ExecutionError,
}


def _error_text(content: bytes) -> str | None:
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error.strip().lower() if isinstance(error, str) else None


ODD_STATUSES = [201, 202, 204, 206, 300, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405]
ODD_STATUSES += [409, 418, 429, 451, 500, 501, 502, 503, 504, 520, 599]


# The parser alone ------------------------------------------------------------------------------


@settings(max_examples=1500, deadline=None)
@given(
    status=st.integers(200, 599),
    content=st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()),
    retry_after=st.none()
    | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40),
)
def test_the_parser_returns_an_object_or_raises_a_typed_error(
    status: int, content: bytes, retry_after: str | None
) -> None:
    headers = httpx.Headers({} if retry_after is None else {"retry-after": retry_after})
    body, error = _outcome(lambda: decode_reply(status, headers, content, "site: power"))
    if error is not None:
        assert not isinstance(error, ValidationError | SessionError | TransportError)
        assert str(error).startswith("site: power")
        assert len(str(error)) < 400
        if status == 429:
            assert isinstance(error, RateLimitedError)
        return
    assert 200 <= status <= 299
    assert isinstance(body, dict)
    for cls in (CommandResult, KnxResult):
        _, error = _outcome(lambda: structure(body, cls, what="power reply"))  # noqa: B023
        assert error is None or str(error).startswith("power reply")
        assert error is None or isinstance(error, ProtocolError)
    _, error = _outcome(lambda: structure_server_status(body))
    assert error is None or "serverStatus" in str(error)
    assert error is None or isinstance(error, ProtocolError)


def _outcome(parse: Callable[[], object]) -> tuple[object, ThinknxError | None]:
    """What ``parse`` returned, or the typed error it raised (anything else propagates)."""
    try:
        return parse(), None
    except ThinknxError as error:
        return None, error


# The whole request path, through respx ----------------------------------------------------------


class _Endless(httpx.AsyncByteStream):
    """A body with no Content-Length that goes on and on."""

    def __init__(self) -> None:
        self.sent = 0
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(100_000):
            self.sent += 1
            yield b"x" * 1024

    async def aclose(self) -> None:
        self.closed = True


def _session(**options: Any) -> Session:
    options.setdefault("retry", RetryPolicy(max_attempts=1))
    return Session(rate_limit=None, verify=TLS, max_reply_size=CAP, **options)


async def _call(site: Site, what: str) -> object:
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "power": lambda: site.light(GUID).turn_on(),
        "trigger": lambda: site.button(GUID).trigger(),
        "powerstatus": lambda: site.light(GUID).is_on(),
        "knx": lambda: site.knx.send_bit("1/0/1", 1),
        "status": site.server_status,
    }
    with anyio.fail_after(10):  # a hang fails the test instead of the suite
        return await calls[what]()


def _assert_idle(session: Session, site: Site) -> None:
    stats = session.pool_stats()
    assert stats is not None
    assert (stats.in_flight, stats.waiting) == (0, 0), stats
    assert site.in_flight == 0


@pytest.mark.anyio
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(status=st.sampled_from([200, *ODD_STATUSES]), case=hostile_bodies())
async def test_every_hostile_reply_ends_in_a_typed_error(
    status: int, case: tuple[str, bytes]
) -> None:
    kind, content = case
    async with _session() as session:
        site = session.on_premise("https://relay.example.com", KEY)
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(return_value=httpx.Response(status, content=content))
            with pytest.raises(ThinknxError) as caught:
                await _call(site, "power")
        _assert_idle(session, site)
    error = caught.value
    message = str(error)
    assert "power" in message, message
    assert len(message) < 600, message  # never a whole page or a huge body in a message
    assert KEY not in message
    text = _error_text(content)
    if status == 429:
        assert isinstance(error, RateLimitedError)
    elif status in (301, 302, 303, 307, 308):
        assert isinstance(error, ProtocolError)
        assert "Location" in message
    elif text is not None and text in KNOWN_ERRORS:
        assert isinstance(error, KNOWN_ERRORS[text])
        assert isinstance(error, ApiError)
        assert error.status_code == status
    elif status >= 500:
        assert isinstance(error, ServerError)
        assert f"HTTP {status}" in message
    elif status >= 400 or (200 <= status <= 299 and kind == "error"):
        assert type(error) in (ApiError, AuthenticationError, BadRequestError, DeviceNotFoundError)
        assert error.status_code == status  # type: ignore[attr-defined]
        assert f"HTTP {status}" in message
    else:
        assert isinstance(error, ProtocolError)
        if kind == "huge":
            assert "is over the" in message


@pytest.mark.anyio
@pytest.mark.parametrize("what", ["power", "trigger", "powerstatus", "knx", "status"])
@pytest.mark.parametrize("streamed", [False, True])
async def test_a_huge_reply_is_cut_at_the_cap(what: str, streamed: bool) -> None:
    body = _Endless()
    if streamed:
        response = httpx.Response(200, stream=body)
    else:
        response = httpx.Response(200, content=b"[" + b"1," * (50 * CAP) + b"1]")
    async with _session() as session:
        site = session.on_premise("https://relay.example.com", KEY)
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(return_value=response)
            with pytest.raises(ProtocolError, match=f"over the {CAP}-byte limit"):
                await _call(site, what)
        _assert_idle(session, site)
    if streamed:
        assert body.sent <= CAP // 1024 + 2  # stopped reading at the cap
        assert body.closed


@pytest.mark.anyio
@pytest.mark.parametrize("what", ["power", "trigger", "knx", "status"])
async def test_odd_statuses_on_every_kind_of_call(what: str) -> None:
    seen: dict[int, type[ThinknxError]] = {}
    async with _session() as session:
        site = session.on_premise("https://relay.example.com", KEY)
        with respx.mock(assert_all_mocked=True) as router:
            route = router.route()
            for status in (201, 204, 302, 418, 503):
                route.mock(return_value=httpx.Response(status, text="<html>nope</html>"))
                with pytest.raises(ThinknxError) as caught:
                    await _call(site, what)
                seen[status] = type(caught.value)
                assert str(status) in str(caught.value) or status == 302
        _assert_idle(session, site)
    assert seen[201] is ProtocolError
    assert seen[204] is ProtocolError
    assert seen[302] is ProtocolError  # a redirect without Location
    assert seen[418] is ApiError
    assert seen[503] is ServerError


# Broken HTTP over real sockets ----------------------------------------------------------------


SOCKET_CASES: dict[str, type[ThinknxError]] = {
    "html-503": ServerError,
    "html-200": ProtocolError,
    "truncated": TransportError,
    "garbage": TransportError,
    "close-at-once": TransportError,
    "204": ProtocolError,
    "302-no-location": ProtocolError,
    "418": ApiError,
    "huge-declared": ProtocolError,
    "huge-chunked": ProtocolError,
    "silent": TransportError,
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", sorted(SOCKET_CASES))
async def test_broken_http_over_sockets(
    case: str, hostile: HostileServer, transport: Transport
) -> None:
    """Each breakage ends in its typed error; then the same session still works, and closing
    it closes every connection the server saw."""
    hostile.use(case)
    retry = RetryPolicy(max_attempts=2, backoff=0.0, max_backoff=0.0)
    # Only "silent" waits for the timeout; for the others it bounds the good replies, long
    # enough for a loaded machine.
    timeout = 1.0 if case == "silent" else 5.0
    async with _session(
        timeout=timeout, retry=retry, max_connections=4, transport=transport
    ) as session:
        site = session.on_premise(hostile.url, KEY, allow_insecure=True)
        with pytest.raises(SOCKET_CASES[case]) as caught:
            await _call(site, "trigger")  # not idempotent: sent once, whatever happens
        assert len(hostile.requests) == 1
        assert caught.value.attempts == 1
        assert "trigger" in str(caught.value)
        assert KEY not in str(caught.value)
        _assert_idle(session, site)
        hostile.use("ok")
        result = await _call(site, "power")
        assert isinstance(result, CommandResult)
        assert result.guid == GUID
        _assert_idle(session, site)
    assert hostile.wait_closed() == 0
    if case == "huge-chunked":
        assert hostile.chunks_sent < 4096  # the client hung up instead of reading 64 MiB


@pytest.mark.anyio
async def test_an_idempotent_command_is_retried_after_broken_http(
    hostile: HostileServer, transport: Transport
) -> None:
    hostile.use("truncated")
    retry = RetryPolicy(max_attempts=3, backoff=0.0, max_backoff=0.0)
    async with _session(timeout=5.0, retry=retry, transport=transport) as session:
        site = session.on_premise(hostile.url, KEY, allow_insecure=True)
        with pytest.raises(TransportError) as caught:
            await _call(site, "power")
        assert caught.value.attempts == 3
        assert len(hostile.requests) == 3
        _assert_idle(session, site)
    assert hostile.wait_closed() == 0
