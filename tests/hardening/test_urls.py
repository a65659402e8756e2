"""Roots of relays and of the cloud: checked alike, and sent percent-encoded on every transport."""

from __future__ import annotations

import warnings

import pytest

from thinknx_async import InsecureTLSWarning, Session, ValidationError

from ..conftest import Transport
from ._hostile import HostileServer

KEY = "K3y"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://cloud.example", "plain http"),
        ("https://user:pw@cloud.example", "credentials"),
        ("https://cloud.example/x?y=1", "query"),
        ("https://cloud.example/x?", "query"),
        ("https://cloud.example/#top", "fragment"),
        ("not a url", "must be http"),
        ("ftp://cloud.example", "must be http"),
        ("", "must be http"),
    ],
)
async def test_cloud_url_is_checked_like_a_relay_root(url: str, refused: str) -> None:
    with pytest.raises(ValidationError, match=f"(?i)cloud_url.*{refused}|{refused}.*cloud_url"):
        Session(cloud_url=url)


@pytest.mark.anyio
async def test_plain_http_cloud_only_when_allowed() -> None:
    async with Session(cloud_url="http://127.0.0.1:9/", allow_insecure=True) as session:
        assert session.cloud(KEY).url == "http://127.0.0.1:9/***/api/V1/"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("root", "path"),
    [
        ("https://relay.example/a b", "/a%20b/"),
        ("https://relay.example/caf\u00e9", "/caf%C3%A9/"),
        ('https://relay.example/"<>', "/%22%3C%3E/"),
        ("https://relay.example/plain/", "/plain/"),
    ],
)
async def test_relay_path_is_percent_encoded(root: str, path: str) -> None:
    async with Session(rate_limit=None) as session:
        assert session.on_premise(root, KEY).url == f"https://relay.example{path}***/api/V1/"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("path", "sent"), [("/a b/\u00e9", "/a%20b/%C3%A9"), ('/"<>', "/%22%3C%3E"), ("", "")]
)
async def test_relay_path_is_the_same_on_the_wire_on_both_transports(
    hostile: HostileServer, transport: Transport, path: str, sent: str
) -> None:
    """The request line both transports send for a relay root that needs encoding."""
    hostile.use("ok")
    async with Session(rate_limit=None, transport=transport) as session:
        site = session.on_premise(f"{hostile.url}{path}", KEY, allow_insecure=True)
        await site.call("x")
    line = hostile.raw[0].split(b"\r\n", 1)[0]
    assert line == f"GET {sent}/{KEY}/api/V1/x HTTP/1.1".encode()


@pytest.mark.anyio
async def test_verify_false_warns_once_per_session() -> None:
    with pytest.warns(InsecureTLSWarning, match="verify=False") as caught:
        session = Session(verify=False)
    assert len(caught) == 1
    async with session:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            session.cloud(KEY)  # no further warning per site
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        async with Session():
            pass
