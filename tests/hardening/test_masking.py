"""Masking by structure, over real sockets on both transports.

A key or a password is masked where it stands, and nowhere else: a one-letter password, a
dictionary word, a password that is also part of the host name or of a controller name changes
nothing but the places it stands in. The proof: every text a failure shows (message, repr,
every cause and context, the formatted traceback) is the same, byte for byte, whatever the
secret, and a long unmistakable secret appears in none of it, locals included.
"""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import traceback
import warnings
from collections.abc import Iterable, Iterator
from typing import Literal

import pytest

from thinknx_async import (
    ApiError,
    BadRequestError,
    ConnectError,
    RetryPolicy,
    ServerError,
    Session,
    Site,
    ThinknxError,
    TimeoutError,
    TransportError,
)
from thinknx_async._secrets import redact

from .._logs import Collector
from ..cli.conftest import run_cli
from ..conftest import Transport
from ._hostile import CASES, Case, HostileServer, _reply, digest, silent

Mode = Literal["relay", "query", "basic", "digest"]
MODES: tuple[Mode, ...] = ("relay", "query", "basic", "digest")
#: Long and unmistakable: if any of it shows anywhere, masking missed it.
REFERENCE = "Zq8RefSecretNeverShown4711"
#: How it travels: as is (key, pass=) and inside the Basic credential.
FORMS = (REFERENCE, base64.b64encode(f"service:{REFERENCE}".encode()).decode())
#: Short and ordinary: inside the host name (127.0.0.1), the port, the path and the controller.
KEYS = ("a", "1", "api", "V1", "system", "127")
PASSWORDS = ("y", "e", "1", "admin", "wrong", "system", "127", "0.0", "api")
TIMEOUT = 0.3
SERVER_TEXT = "wrong authentication information for"


def _error_echo(sock: socket.socket, target: str, server: HostileServer) -> bool:
    """A 400 whose error text quotes the request target back."""
    body = json.dumps({"error": f"{SERVER_TEXT} {target}"}).encode()
    sock.sendall(_reply("400 Bad Request", body, ("Content-Type: application/json",)))
    return True


def _html_echo(sock: socket.socket, target: str, server: HostileServer) -> bool:
    page = f"<html>no route to {target}</html>".encode()
    sock.sendall(_reply("502 Bad Gateway", page, ("Content-Type: text/html",)))
    return False


def _bad_status_line(sock: socket.socket, target: str, server: HostileServer) -> bool:
    sock.sendall(b"HTTP/1.1 2OO OK\r\nContent-Length: 0\r\n\r\n")
    return False


def _long_header(sock: socket.socket, target: str, server: HostileServer) -> bool:
    pad = b"a" * 200_000  # over aiohttp's 8,190 bytes and httpcore's 100 KiB
    sock.sendall(b"HTTP/1.1 200 OK\r\nX-Pad: " + pad + b"\r\nContent-Length: 2\r\n\r\n{}")
    return False


ECHOES = ("error-echo", "html-echo")
FAULTS: dict[str, tuple[Case, type[ThinknxError]]] = {
    "error-echo": (_error_echo, BadRequestError),
    "html-echo": (_html_echo, ServerError),
    "bad-status-line": (_bad_status_line, TransportError),
    "long-header": (_long_header, TransportError),
    "silent": (silent, TimeoutError),
}


def _leaks(texts: Iterable[str]) -> list[str]:
    return [text for text in texts if any(form in text for form in FORMS)]


def _with_digest(case: Case) -> Case:
    def answer(sock: socket.socket, target: str, server: HostileServer) -> bool:
        if b"\r\nauthorization: digest " in server.raw[-1].lower():
            return case(sock, target, server)
        return digest(sock, target, server)

    return answer


def _session(transport: Transport) -> Session:
    retry = RetryPolicy(max_attempts=1)
    return Session(rate_limit=None, retry=retry, timeout=TIMEOUT, transport=transport)


def _site(session: Session, mode: Mode, secret: str, port: int) -> Site:
    """Made here, so that the frames a failure passes through hold no secret of the test's."""
    if mode == "relay":
        return session.on_premise(f"http://127.0.0.1:{port}", secret, allow_insecure=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # query credentials over plain HTTP warn, rightly
        return session.local("127.0.0.1", port=port, username="service", password=secret, auth=mode)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [error]
    while todo:
        link = todo.pop()
        if id(link) not in seen:
            seen.add(id(link))
            yield link
            todo.extend(e for e in (link.__cause__, link.__context__) if e is not None)


#: Object ids, which differ from one run to the next whatever the secret.
_IDS = re.compile(r"(?<=0x)[0-9a-f]+|(?<=cancel scope )[0-9a-f]+")


def _texts(error: BaseException, formatted: str) -> list[str]:
    """What a user can see of ``error``: every text of every link, and the tracebacks."""
    texts = [formatted, "".join(traceback.format_exception(error))]
    for link in _chain(error):
        texts += [str(link), repr(link), *map(repr, link.args)]
    return [_IDS.sub("?", text) for text in texts]


async def _fail(transport: Transport, mode: Mode, secret: str, port: int) -> tuple[str, ...]:
    """The texts of one failing call, and (last) its traceback with every frame's locals."""
    async with _session(transport) as session:
        site = _site(session, mode, secret, port)
        try:
            await site.server_status()
        except ThinknxError as caught:
            formatted = traceback.format_exc()
            error = caught
        else:  # pragma: no cover - every fault fails
            raise AssertionError("the call succeeded")
    frames = traceback.TracebackException.from_exception(error, capture_locals=True)
    return (*_texts(error, formatted), type(error).__name__, "\n".join(_locals(frames)))


def _locals(frames: traceback.TracebackException | None) -> Iterator[str]:
    """Every local of every frame outside the tests, along the whole chain (what a traceback
    printed with its locals, as ``rich.traceback`` does, would show)."""
    seen: set[int] = set()
    while frames is not None and id(frames) not in seen:
        seen.add(id(frames))
        for frame in frames.stack:
            if "/tests/" not in frame.filename:
                yield from (f"{name} = {value}" for name, value in (frame.locals or {}).items())
        yield from _locals(frames.__context__)
        frames = frames.__cause__


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_every_secret_changes_only_the_places_it_stands_in(
    mode: Mode, transport: Transport, hostile: HostileServer, logs: Collector
) -> None:
    shorts = KEYS if mode == "relay" else PASSWORDS
    for fault, (case, kind) in FAULTS.items():
        hostile.use(_with_digest(case) if mode == "digest" else case)
        *reference, name, with_locals = await _fail(transport, mode, REFERENCE, hostile.port)
        assert name == kind.__name__, (fault, reference[0])
        assert not _leaks(reference), fault
        # A reply quoting the request is kept as received (``ApiError.body``, and the locals
        # of the frames that decode it); what the request itself left in frames is masked.
        assert fault in ECHOES or not _leaks([with_locals]), fault
        for secret in shorts:
            *texts, _, _ = await _fail(transport, mode, secret, hostile.port)
            assert texts == reference, (fault, secret)
    lines = logs.lines
    assert lines and not _leaks(lines)
    assert not [line for line in lines if redact(line) != line]  # nothing left to mask


@pytest.mark.anyio
@pytest.mark.parametrize("case", sorted(set(CASES) - {"ok", "digest"}))
@pytest.mark.parametrize("mode", ["relay", "query"])
async def test_no_hostile_reply_puts_a_secret_in_any_text_of_its_error(
    case: str, mode: Mode, transport: Transport, hostile: HostileServer
) -> None:
    """Every broken reply of the hostile server, on both transports: the chain, tracebacks and
    library locals are free of the secret, and the same with a one-letter one."""
    hostile.use(case)
    *reference, _, with_locals = await _fail(transport, mode, REFERENCE, hostile.port)
    assert not _leaks([*reference, with_locals])
    *texts, _, _ = await _fail(transport, mode, "a", hostile.port)
    assert texts == reference


def _expected_target(mode: Mode) -> str:
    if mode == "relay":
        return "/***/api/V1/system/serverStatus"
    auth = {"query": "basic&user=service&pass=***", "basic": "basic", "digest": "digest"}[mode]
    return f"/api/V1/system/serverStatus?auth={auth}"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", MODES)
async def test_the_server_text_is_kept_byte_for_byte_but_the_quoted_secret(
    mode: Mode, transport: Transport, hostile: HostileServer
) -> None:
    hostile.use(_with_digest(_error_echo) if mode == "digest" else _error_echo)
    async with _session(transport) as session:
        site = _site(session, mode, "wrong", hostile.port)
        with pytest.raises(ApiError) as caught:
            await site.server_status()
    text = f"{SERVER_TEXT} {_expected_target(mode)}"
    assert str(caught.value) == f"{site.url}: system/serverStatus: HTTP 400, {text!r}"
    base = f"http://127.0.0.1:{hostile.port}"
    assert site.url == (f"{base}/***/api/V1/" if mode == "relay" else f"{base}/api/V1/")


@pytest.mark.anyio
async def test_timeouts_and_refusals_read_as_user_level_facts(
    transport: Transport, hostile: HostileServer
) -> None:
    hostile.use("silent")
    async with _session(transport) as session:
        site = _site(session, "relay", REFERENCE, hostile.port)
        with pytest.raises(TimeoutError) as caught:
            await site.server_status()
    expected = f"{site.url}: system/serverStatus: no reply within {TIMEOUT:g} s (read timeout)"
    assert str(caught.value) == expected
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    async with _session(transport) as session:
        site = _site(session, "relay", REFERENCE, closed)
        with pytest.raises(ConnectError) as refused:
            await site.server_status()
    message = str(refused.value)
    assert message.startswith(f"{site.url}: system/serverStatus: cannot connect (")
    assert "cancel scope" not in message and "0x" not in message and "_ssl.c" not in message


@pytest.mark.anyio
async def test_a_thousand_one_letter_passwords_leave_another_site_intact(
    hostile: HostileServer,
) -> None:
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
    hostile.use(_error_echo)
    async with _session("httpx") as session:
        sites = [
            session.local(f"10.0.{i // 250}.{i % 250 + 1}", username="admin", password=c)
            for i, c in enumerate(letters[i % len(letters)] for i in range(1000))
        ]
        other = session.on_premise(hostile.url, "Unrelated9", allow_insecure=True)
        with pytest.raises(ApiError) as caught:
            await other.server_status()
    assert len(sites) == 1000
    assert [site.url for site in sites[:3]] == [
        "http://10.0.0.1:5051/api/V1/",
        "http://10.0.0.2:5051/api/V1/",
        "http://10.0.0.3:5051/api/V1/",
    ]
    text = f"{SERVER_TEXT} /***/api/V1/system/serverStatus"
    assert str(caught.value) == (
        f"http://127.0.0.1:{hostile.port}/***/api/V1/: system/serverStatus: HTTP 400, {text!r}"
    )


def _cli_output(*args: str) -> str:
    result = run_cli("--attempts", "1", "--timeout", "5", *args, "status")
    assert result.returncode == 1, result.stderr
    return re.sub(r'elapsed"?:? ?[0-9.]+', "elapsed", result.stdout + result.stderr)


@pytest.mark.parametrize("fault", ["error-echo", "bad-status-line"])
@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_the_cli_shows_the_same_text_and_json_whatever_the_secret(
    fault: str, transport: str, hostile: HostileServer
) -> None:
    hostile.use(FAULTS[fault][0])
    as_json = "--json" if transport == "aiohttp" else "--no-progress"
    local = ("--host", "127.0.0.1", "--port", str(hostile.port), "--username", "service")
    shown = {
        secret: (
            _cli_output(as_json, "--transport", transport, "--relay", hostile.url, "--key",
                        secret, "--insecure"),
            _cli_output(as_json, "--transport", transport, *local, "--auth", "query",
                        "--password", secret),
        )
        for secret in (REFERENCE, "a", "system")
    }  # fmt: skip
    reference = shown.pop(REFERENCE)
    assert not _leaks(reference)
    assert "/***/api/V1/" in reference[0] or fault != "error-echo"
    assert "pass=***" in reference[1] or fault != "error-echo"
    assert all(texts == reference for texts in shown.values())


@pytest.mark.anyio
@pytest.mark.parametrize("fault", ["refused", "bad-status-line"])
@pytest.mark.parametrize("mode", ["relay", "basic", "query"])
async def test_a_rich_traceback_with_locals_shows_no_secret(
    fault: str, mode: Mode, transport: Transport, hostile: HostileServer
) -> None:
    """What ``rich.traceback.install(show_locals=True)`` would print for the failure."""
    console_module = pytest.importorskip("rich.console")
    traceback_module = pytest.importorskip("rich.traceback")
    port = hostile.port
    if fault == "refused":
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    else:
        hostile.use(_bad_status_line)
    async with _session(transport) as session:
        site = _site(session, mode, REFERENCE, port)
        with pytest.raises(TransportError) as caught:
            await site.server_status()
    error = caught.value
    console = console_module.Console(file=io.StringIO(), width=300, color_system=None)
    shown = traceback_module.Traceback.from_exception(
        type(error), error, error.__traceback__, show_locals=True
    )
    console.print(shown)
    printed = console.file.getvalue()
    assert "server_status" in printed and "_attempt" in printed  # the frames are there
    assert not _leaks([printed])
