"""Shared constants and helpers for the unit tests: sites in every access mode, digest checks."""

from __future__ import annotations

import base64
import hashlib
import re
import ssl
from collections.abc import Callable
from typing import Any, Literal

import httpx
import pytest

from thinknx_async import InsecureCredentialsWarning, RetryPolicy, Session, Site

GUID = "1IzPszHWAEuvzxtXBMkzWQ"
OTHER_GUID = "9QzPszHWAEuvzxtXBMkzAA"
KEY = "Zk7Qm2Xr9TfB4nLwP8cD"
USER = "service"
#: A password with every character that must be percent-encoded in a query.
PASSWORD = "pä&ss w=rd/+%#?"
PASSWORD_QUERY = "p%C3%A4%26ss%20w%3Drd%2F%2B%25%23%3F"
BASIC_TOKEN = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode("ascii")
HOST = "10.0.0.5"

LOCAL_BASE = f"http://{HOST}:5051/api/V1/"
CLOUD_BASE = f"https://data.thinknx.eu/{KEY}/api/V1/"
RELAY_BASE = f"https://relay.example.com/{KEY}/api/V1/"

Mode = Literal["digest", "basic", "query", "cloud", "relay"]
MODES: tuple[Mode, ...] = ("digest", "basic", "query", "cloud", "relay")

#: What each mode appends to the parameters, last.
SUFFIX: dict[Mode, str] = {
    "digest": "auth=digest",
    "basic": "auth=basic",
    "query": f"auth=basic&user={USER}&pass={PASSWORD_QUERY}",
    "cloud": "",
    "relay": "",
}
BASE: dict[Mode, str] = {
    "digest": LOCAL_BASE,
    "basic": LOCAL_BASE,
    "query": LOCAL_BASE,
    "cloud": CLOUD_BASE,
    "relay": RELAY_BASE,
}

REALM = "thinknx"
NONCE = "dcd98b7102dd2f0e8b11d0f600bfb0c093"
OPAQUE = "5ccc069c403ebaf9f0171e9517f40e41"
CHALLENGE = f'Digest realm="{REALM}", qop="auth", nonce="{NONCE}", opaque="{OPAQUE}", algorithm=MD5'

#: One TLS context for every test session: building one per session costs more than a test.
TLS = ssl.create_default_context()


def quiet_session(**options: Any) -> Session:
    """A session with no throttling and no retries unless a test asks for them."""
    options.setdefault("rate_limit", None)
    options.setdefault("retry", RetryPolicy(max_attempts=1))
    options.setdefault("verify", TLS)
    return Session(**options)


def make_site(session: Session, mode: Mode, **options: Any) -> Site:
    """A site of ``session`` reached in ``mode``."""
    if mode == "cloud":
        return session.cloud(KEY, **options)
    if mode == "relay":
        return session.on_premise("https://relay.example.com", KEY, **options)
    if mode == "query":
        with pytest.warns(InsecureCredentialsWarning):
            return session.local(HOST, username=USER, password=PASSWORD, auth="query", **options)
    return session.local(HOST, username=USER, password=PASSWORD, auth=mode, **options)


def command_reply(namespace: str, **extra: Any) -> dict[str, Any]:
    """A success body for a device command."""
    return {"namespace": namespace, "guid": GUID, "comm_obj": 12, **extra}


def responder(
    reply: dict[str, Any] | Callable[[httpx.Request], httpx.Response], *, digest: bool = False
) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect answering ``reply``; with ``digest``, a 401 challenge first."""

    def answer(request: httpx.Request) -> httpx.Response:
        if digest and "authorization" not in request.headers:
            return httpx.Response(401, headers={"www-authenticate": CHALLENGE})
        if callable(reply):
            return reply(request)
        return httpx.Response(200, json=reply)

    return answer


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def check_digest(request: httpx.Request, password: str = PASSWORD) -> None:
    """Assert ``request`` answers :data:`CHALLENGE` with a correct ``Authorization: Digest``."""
    header = request.headers["authorization"]
    assert header.startswith("Digest ")
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', header[len("Digest ") :]))
    assert fields["username"] == USER
    assert fields["realm"] == REALM
    assert fields["nonce"] == NONCE
    assert fields["opaque"] == OPAQUE
    assert fields["qop"] == "auth"
    assert fields["uri"] == request.url.raw_path.decode("ascii")
    ha1 = _md5(f"{USER}:{REALM}:{password}")
    ha2 = _md5(f"{request.method}:{fields['uri']}")
    expected = _md5(f"{ha1}:{NONCE}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
    assert fields["response"] == expected
    assert password not in header
