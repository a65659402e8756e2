"""The masking rules, one by one: what is masked, and what stays byte for byte."""

from __future__ import annotations

import asyncio
import base64
import logging
import sys
import traceback

import httpx
import pytest

from thinknx_async import Session, ValidationError
from thinknx_async._failures import transport_error
from thinknx_async._secrets import MaskedError, masked_chain, redact
from thinknx_async._transport import Outgoing
from thinknx_async._transport.httpx_pool import failure_of

BASIC = base64.b64encode(b"service:y").decode()

MASKED = [
    # A key: the segment before /api/V1/, in any URL or path, however short or common.
    ("https://data.thinknx.eu/a/api/V1/power", "https://data.thinknx.eu/***/api/V1/power"),
    ("https://relay.example/api/api/V1/", "https://relay.example/***/api/V1/"),
    ("https://r.example/a%20b/K1/api/V1/x", "https://r.example/a%20b/***/api/V1/x"),
    ("GET /K-e_y/api/V1/system/serverStatus HTTP/1.1",
     "GET /***/api/V1/system/serverStatus HTTP/1.1"),
    ("URL('https://h/system/api/V1/power?guid=1')", "URL('https://h/***/api/V1/power?guid=1')"),
    ("no route to /V1/api/V1/power", "no route to /***/api/V1/power"),
    # A password: userinfo and pass=, nothing else of the URL.
    ("http://u:y@127.0.0.1:5051/api/V1/", "http://u:***@127.0.0.1:5051/api/V1/"),
    ("/api/V1/power?auth=basic&user=system&pass=system",
     "/api/V1/power?auth=basic&user=system&pass=***"),
    ("auth=basic&user=service&pass=p%C3%A4%26ss", "auth=basic&user=service&pass=***"),
    ("pass=1&guid=x", "pass=***&guid=x"),
    # Credentials in header lists and header lines.
    ("<CIMultiDictProxy('Accept': 'x', 'authorization': 'Basic dXM6cA==')>",
     "<CIMultiDictProxy('Accept': 'x', 'authorization': '***')>"),
    ("[(b'Authorization', b'Digest username=\"u\", response=\"9a1f\"')]",
     "[(b'Authorization', b'***')]"),
    ("Authorization: Digest username=\"u\", response=\"9a1f\"\r\nHost: h",
     "Authorization: Digest ***\r\nHost: h"),
    (f"echo: Basic {BASIC} (refused)", "echo: Basic *** (refused)"),
]  # fmt: skip

KEPT = [
    "wrong authentication information",
    "s" + "ystem/serverStatus: cannot connect",
    "http://127.0.0.1:5051/api/V1/system/serverStatus",
    "http://[::1]:5051/api/V1/",
    "http://system:5051/api/V1/power?guid=admin&cmd=1",
    "Basic auth required",
    "Basic Authentication failed: admin",
    "Missing authorization, please log in",
    "authorization: failed",
    "bypass=1&compass=2",
    "mailto user@example.com",
    "e-mail: admin@thinknx.eu",
    "<html>503 Service Unavailable</html>",
    "",
]


@pytest.mark.parametrize(("text", "masked"), MASKED)
def test_a_secret_is_masked_where_it_stands(text: str, masked: str) -> None:
    assert redact(text) == masked
    assert redact(masked) == masked


@pytest.mark.parametrize("text", KEPT)
def test_everything_else_stays_byte_for_byte(text: str) -> None:
    assert redact(text) == text


@pytest.mark.parametrize("key", ["a b", "k/ey", "kéy", "k%2Fey", "k?e=y", "x" * 257])
def test_a_key_that_would_need_percent_encoding_is_refused_without_being_shown(key: str) -> None:
    session = Session()
    with pytest.raises(ValidationError) as caught:
        session.cloud(key)
    texts = [
        str(caught.value),
        repr(caught.value),
        "".join(traceback.format_exception(caught.value)),
    ]
    assert not [text for text in texts if key in text]


def _raise_dirty() -> None:
    url = "https://h.example/SecretKey1/api/V1/power"
    try:
        raise KeyError(f"lookup {url}")
    except KeyError as inner:
        raise OSError(f"cannot reach {url}") from inner


def _raise_wrapped() -> None:
    try:
        _raise_dirty()
    except OSError as exc:
        raise ValueError("clean top") from exc


def test_a_dirty_chain_is_replaced_link_by_link_and_keeps_its_shape() -> None:
    with pytest.raises(ValueError, match="clean top") as caught:
        _raise_wrapped()
    error = caught.value
    top = masked_chain(error)
    assert top is error  # a clean link stays itself
    cause = top.__cause__
    assert isinstance(cause, MaskedError) and cause.original_type is OSError
    assert str(cause) == "builtins.OSError: cannot reach https://h.example/***/api/V1/power"
    assert isinstance(cause.__cause__, MaskedError) and cause.__cause__.original_type is KeyError
    assert cause.__suppress_context__ and top.__suppress_context__
    shown = "".join(traceback.format_exception(top))
    assert "SecretKey1" not in shown and "_raise_dirty" in shown  # the frames are kept
    frames = traceback.TracebackException.from_exception(top, capture_locals=True)
    assert "SecretKey1" not in "".join(frames.format())  # but not their locals


def test_a_clean_chain_is_returned_as_it_is() -> None:
    with pytest.raises(ConnectionError) as caught:
        raise ConnectionError("[Errno 111] Connection refused")
    assert masked_chain(caught.value) is caught.value
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_an_outgoing_request_shows_itself_masked() -> None:
    wire = Outgoing("GET", "http://h:5051/api/V1/power?pass=y", {"authorization": "Basic x"}, None)
    assert repr(wire) == "<Outgoing GET http://h:5051/api/V1/power?pass=***>"
    assert wire.url.endswith("pass=y")  # what goes out is untouched


@pytest.mark.parametrize("name", ["httpx", "httpcore.http11", "aiohttp.client", "thinknx_async"])
def test_the_log_filter_masks_messages_and_tracebacks(name: str) -> None:
    logger = logging.getLogger(name)
    try:
        raise OSError("reaching https://h/SecretKey2/api/V1/power")
    except OSError:
        exc_info = sys.exc_info()
    record = logger.makeRecord(
        name, logging.ERROR, __file__, 1, "GET %s", ("/K9/api/V1/x",), exc_info
    )
    assert logger.filter(record)  # the logger's own filters, ours among them
    line = logging.Formatter("%(message)s").format(record)
    assert line.startswith("GET /***/api/V1/x\n")
    assert "SecretKey2" not in line and "https://h/***/api/V1/power" in line


TIMEOUTS = {"connect": 3.0, "write": 4.0, "read": 5.5, "pool": None}


@pytest.mark.parametrize(
    ("raised", "says"),
    [
        (httpx.ConnectTimeout(""), "x: no connection opened within 3 s (connect timeout)"),
        (httpx.WriteTimeout(""), "x: request not sent within 4 s (write timeout)"),
        (
            httpx.ReadTimeout("Cancelled via cancel scope 7fa48e416e80; reason: deadline exceeded"),
            "x: no reply within 5.5 s (read timeout)",
        ),
        (httpx.PoolTimeout(""), "x: no free connection in the pool (pool timeout)"),
        (
            httpx.ConnectError(
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
                "self-signed certificate (_ssl.c:1006)"
            ),
            "x: cannot connect ([SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: "
            "self-signed certificate)",
        ),
        (
            httpx.ReadError("<anyio._backends._asyncio.SocketStream object at 0x7f12ab> closed"),
            "x: connection failed (<anyio._backends._asyncio.SocketStream object> closed)",
        ),
        (
            httpx.ConnectError("cannot reach https://h/SecretKey3/api/V1/power"),
            "x: cannot connect (cannot reach https://h/***/api/V1/power)",
        ),
        (httpx.RemoteProtocolError(""), "x: connection failed"),
    ],
)
def test_a_transport_error_reads_as_what_a_user_can_act_on(
    raised: httpx.HTTPError, says: str
) -> None:
    assert str(transport_error(failure_of(raised), "x", TIMEOUTS, 1000)) == says


async def _keeper(box: list[BaseException], handed: asyncio.Event, release: asyncio.Event) -> str:
    """Catches an error, hands it over, and goes on: suspended while another task raises it."""
    try:
        raise OSError("reaching https://h/SecretKey4/api/V1/power")
    except OSError as exc:
        box.append(exc)
    handed.set()
    await release.wait()
    return "finished"


def _reraise(error: BaseException) -> None:
    raise error


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
@pytest.mark.anyio
async def test_masking_a_chain_never_closes_a_coroutine_that_caught_the_error() -> None:
    box: list[BaseException] = []
    handed, release = asyncio.Event(), asyncio.Event()
    keeper = asyncio.create_task(_keeper(box, handed, release))
    await handed.wait()
    with pytest.raises(OSError, match="SecretKey4") as caught:
        _reraise(box[0])  # its traceback now runs through the suspended keeper's frame
    masked = masked_chain(caught.value)
    assert isinstance(masked, MaskedError) and "SecretKey4" not in str(masked)
    release.set()
    assert await asyncio.wait_for(keeper, timeout=30) == "finished"  # bounded: a closed one hangs
