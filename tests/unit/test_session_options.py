"""Session and site options: what is refused (before anything is sent) and what is honoured."""

from __future__ import annotations

import ssl
from typing import Any

import httpx
import pytest
import respx

from thinknx_async import InsecureTLSWarning, RateLimit, Session, ValidationError

from ._support import GUID, KEY, TLS, command_reply, quiet_session


@pytest.mark.parametrize(
    "options",
    [
        {"rate_limit": 5},
        {"timeout": 0},
        {"timeout": "10"},
        {"method": "PUT"},
        {"max_connections": 0},
        {"max_in_flight": 0},
        {"max_reply_size": 0},
        {"verify": 1.5},
    ],
)
def test_bad_session_options(options: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Session(**options)


@pytest.mark.parametrize("verify", [True, TLS])
def test_tls_verification_options(verify: bool | ssl.SSLContext) -> None:
    Session(verify=verify)


def test_no_verification_is_allowed_with_a_warning() -> None:
    with pytest.warns(InsecureTLSWarning, match="verify=False"):
        Session(verify=False)


def test_tls_ca_file_option(tmp_path: Any) -> None:
    missing = str(tmp_path / "missing.pem")
    with pytest.raises(ValidationError, match="cannot read the CA file") as refused:
        Session(verify=missing)
    assert missing in str(refused.value)


LOCAL = {"username": "admin", "password": "Option-Test-Pw"}


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "options"),
    [
        ("10.0.0.5", {"auth": "ntlm"}),
        ("10.0.0.5", {"scheme": "ftp"}),
        ("", {}),
        ("10.0.0.5/x", {}),
        ("user@10.0.0.5", {}),
        ("10.0.0.5?x", {}),
        ("10.0.0.5", {"port": 0}),
        ("10.0.0.5", {"port": 65536}),
        ("10.0.0.5", {"port": "5051"}),
        ("10.0.0.5", {"username": ""}),
        ("10.0.0.5", {"password": ""}),
        ("10.0.0.5", {"username": "a:b", "auth": "basic"}),
        ("10.0.0.5", {"auth": "query", "scheme": "https"}),
        ("10.0.0.5", {"name": 5}),
        ("10.0.0.5", {"rate_limit": 5}),
        ("10.0.0.5", {"max_in_flight": -1}),
        ("10.0.0.5", {"method": "DELETE"}),
        ("exa mple", {}),
    ],
)
async def test_bad_local_site_options(host: str, options: dict[str, Any]) -> None:
    async with quiet_session() as session:
        with pytest.raises(ValidationError):
            session.local(host, **{**LOCAL, **options})


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("url", "options"),
    [
        ("relay.example.com", {}),
        ("ftp://relay.example.com", {}),
        ("https://", {}),
        ("https://relay.example.com/?x=1", {}),
        ("https://user:pw@relay.example.com", {}),
        ("http://relay.example.com", {}),
        (5, {}),
    ],
)
async def test_bad_relay_options(url: Any, options: dict[str, Any]) -> None:
    async with quiet_session() as session:
        with pytest.raises(ValidationError):
            session.on_premise(url, KEY, **options)


@pytest.mark.anyio
@pytest.mark.parametrize("key", ["", "a b", "a/b", "ké", "a" * 257, None, "a?b", "a%2F"])
async def test_bad_integration_kit_keys(key: Any) -> None:
    async with quiet_session() as session:
        with pytest.raises(ValidationError):
            session.cloud(key)
        with pytest.raises(ValidationError):
            session.on_premise("https://relay.example.com", key)


@pytest.mark.anyio
async def test_plain_http_relay_when_allowed() -> None:
    async with quiet_session() as session:
        site = session.on_premise("http://relay.lan:8080", KEY, allow_insecure=True)
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(return_value=httpx.Response(200, json=command_reply("power")))
            await site.light(GUID).turn_on()
            assert str(router.calls.last.request.url) == (
                f"http://relay.lan:8080/{KEY}/api/V1/power?guid={GUID}&cmd=1"
            )


@pytest.mark.anyio
async def test_ipv6_local_host() -> None:
    async with quiet_session() as session:
        site = session.local(
            "fd00::5", username=LOCAL["username"], password=LOCAL["password"], auth="basic"
        )
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(return_value=httpx.Response(200, json=command_reply("power")))
            await site.light(GUID).turn_on()
            assert str(router.calls.last.request.url) == (
                f"http://[fd00::5]:5051/api/V1/power?guid={GUID}&cmd=1&auth=basic"
            )


@pytest.mark.anyio
async def test_site_names_and_handles() -> None:
    async with quiet_session(relay_rate_limit=RateLimit(rate=50.0, burst=50)) as session:
        named = session.cloud(KEY, name="hotel 12")
        plain = session.cloud(KEY)
        other = session.on_premise("https://relay.example.com", KEY)
        assert named.name == "hotel 12"
        assert repr(named) == "<Site cloud 'hotel 12'>"
        assert repr(plain) == "<Site https://data.thinknx.eu/***/api/V1/>"
        assert named.kind == "cloud"
        assert other.kind == "relay"
        assert {named: 1, plain: 2}[named] == 1
        assert named.light(GUID) == named.light(GUID)
        assert named.light(GUID) != plain.light(GUID)
        assert hash(named.blind(GUID)) == hash(named.blind(GUID))
        assert repr(named.light(GUID)) == f"<Light {GUID} on 'hotel 12'>"
        assert named.rate_limit == session.rate_limit
        assert named.bucket is None
        assert named.in_flight == 0
