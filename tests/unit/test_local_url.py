"""``Session.local`` takes the URL a server or a simulator's manifest hands out, with or
without the spec's own credentials form (``http://user:pass@host:5051``), and masks them."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import respx

from thinknx_async import ThinknxError, ValidationError
from thinknx_async._secrets import redact

from ._support import GUID, PASSWORD, USER, command_reply, quiet_session

IN_URL = quote(PASSWORD, safe="")  # the password as it stands in a URL's user-info


async def _sent(host: str, **options: Any) -> httpx.Request:
    """The request ``light.turn_on()`` sends to ``session.local(host, **options)``."""
    async with quiet_session() as session:
        site = session.local(host, auth="basic", **options)
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(return_value=httpx.Response(200, json=command_reply("power")))
            await site.light(GUID).turn_on()
            request: httpx.Request = router.calls.last.request
            return request


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("http://10.0.0.5:8081", "http://10.0.0.5:8081/api/V1/"),
        ("http://10.0.0.5", "http://10.0.0.5:5051/api/V1/"),
        ("http://10.0.0.5:8081/api/V1/", "http://10.0.0.5:8081/api/V1/"),
        ("https://Server.lan:5443/", "https://server.lan:5443/api/V1/"),
        ("http://[fd00::5]:8081", "http://[fd00::5]:8081/api/V1/"),
    ],
)
async def test_a_url_without_credentials(host: str, url: str) -> None:
    request = await _sent(host, username=USER, password=PASSWORD)
    assert str(request.url) == f"{url}power?guid={GUID}&cmd=1&auth=basic"


@pytest.mark.anyio
async def test_the_spec_form_with_credentials_in_the_url() -> None:
    request = await _sent(f"http://{USER}:{IN_URL}@10.0.0.5:5051")
    assert str(request.url) == f"http://10.0.0.5:5051/api/V1/power?guid={GUID}&cmd=1&auth=basic"
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {token}"


@pytest.mark.anyio
async def test_url_credentials_are_masked_while_the_site_lives() -> None:
    secret = "Url-Only-Pw-7731"
    async with quiet_session() as session:
        site = session.local(f"http://{USER}:{secret}@10.0.0.5:5051")
        text = f"GET http://{USER}:{secret}@10.0.0.5:5051/ pass={secret}"
        assert secret not in redact(text) and secret not in repr(site)
        assert redact(text) == f"GET http://{USER}:***@10.0.0.5:5051/ pass=***"
    assert redact(secret) == secret  # forgotten with the session


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("host", "options", "message"),
    [
        (
            "http://u:Sekr3tPw@host:99999",
            {},
            "local URL 'http://***@host:99999' has an invalid port",
        ),
        (
            "http://u:Sekr3tPw@host:5051/other",
            {},
            "local URL 'http://***@host:5051/other' must end at the port or /api/V1/: no path, "
            "query or fragment",
        ),
        ("http://host:5051?x=1", {"username": "u", "password": "p"}, "no path, query"),
        ("ftp://host", {"username": "u", "password": "p"}, "must be http(s)://"),
        ("http://u:Sekr3tPw@host:5051", {"port": 80}, "the port given differs from the URL's"),
        ("http://u:Sekr3tPw@host", {"password": "x"}, "the password given differs from the URL's"),
        ("https://host", {"scheme": "http", "username": "u", "password": "p"}, "the scheme given"),
        ("http://host:5051", {}, "username must be a non-empty string"),
        ("http://u@host:5051", {}, "password must be a non-empty string"),
    ],
)
async def test_bad_urls_are_refused_before_sending_and_never_quote_a_password(
    host: str, options: dict[str, Any], message: str
) -> None:
    async with quiet_session() as session:
        with pytest.raises(ValidationError) as caught:
            session.local(host, **options)
    assert message in str(caught.value)
    assert "Sekr3tPw" not in str(caught.value)
    assert isinstance(caught.value, ThinknxError)


@pytest.mark.anyio
async def test_a_plain_host_still_works_as_before() -> None:
    request = await _sent("10.0.0.5", username=USER, password=PASSWORD, port=6000)
    assert str(request.url) == f"http://10.0.0.5:6000/api/V1/power?guid={GUID}&cmd=1&auth=basic"
