"""Redirects: http -> https on the same host is followed once and remembered; nothing else is."""

from __future__ import annotations

import httpx
import pytest
import respx

from thinknx_async import ProtocolError, RedirectError

from ._support import (
    BASIC_TOKEN,
    GUID,
    HOST,
    KEY,
    PASSWORD,
    check_digest,
    command_reply,
    make_site,
    quiet_session,
    responder,
)

REPLY = command_reply("power")
HTTPS_BASE = f"https://{HOST}/api/V1/"


def redirect(status: int = 301, location: str | None = None) -> httpx.Response:
    headers = {} if location is None else {"location": location}
    return httpx.Response(status, headers=headers)


@pytest.mark.anyio
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_http_to_https_same_host_followed_once_and_remembered(status: int) -> None:
    async with quiet_session() as session:
        site = make_site(session, "basic")
        with respx.mock(assert_all_mocked=True) as router:
            plain = router.route(scheme="http").mock(
                return_value=redirect(status, f"https://{HOST}/api/V1/power?guid={GUID}&cmd=1")
            )
            secure = router.route(scheme="https").mock(return_value=httpx.Response(200, json=REPLY))
            await site.light(GUID).turn_on()
            await site.light(GUID).turn_off(feedback=True)
            assert plain.call_count == 1
            assert secure.call_count == 2
            first, second = (call.request for call in secure.calls)
    assert str(first.url) == f"{HTTPS_BASE}power?guid={GUID}&cmd=1&auth=basic"
    assert str(second.url) == f"{HTTPS_BASE}power?guid={GUID}&cmd=0&fb&auth=basic"
    for request in (first, second):
        assert request.headers["authorization"] == f"Basic {BASIC_TOKEN}"
    assert site.url == HTTPS_BASE


@pytest.mark.anyio
async def test_redirect_keeps_a_new_port_and_the_api_path() -> None:
    async with quiet_session() as session:
        site = make_site(session, "basic")
        with respx.mock(assert_all_mocked=True) as router:
            router.route(scheme="http").mock(return_value=redirect(308, f"https://{HOST}:8443/x"))
            secure = router.route(scheme="https").mock(return_value=httpx.Response(200, json=REPLY))
            await site.blind(GUID).set_height(10)
    assert str(secure.calls.last.request.url) == (
        f"https://{HOST}:8443/api/V1/heightlevel?guid={GUID}&val=10&auth=basic"
    )


@pytest.mark.anyio
async def test_redirected_digest_site_answers_the_challenge_on_https() -> None:
    async with quiet_session() as session:
        site = make_site(session, "digest")
        with respx.mock(assert_all_mocked=True) as router:
            router.route(scheme="http").mock(return_value=redirect(301, f"https://{HOST}/"))
            secure = router.route(scheme="https").mock(side_effect=responder(REPLY, digest=True))
            await site.light(GUID).turn_on()
            requests = [call.request for call in secure.calls]
    assert len(requests) == 2
    assert "authorization" not in requests[0].headers
    assert str(requests[1].url) == f"{HTTPS_BASE}power?guid={GUID}&cmd=1&auth=digest"
    check_digest(requests[1])


@pytest.mark.anyio
async def test_redirected_post_resends_the_body() -> None:
    async with quiet_session(method="POST") as session:
        site = make_site(session, "basic")
        with respx.mock(assert_all_mocked=True) as router:
            router.route(scheme="http").mock(return_value=redirect(308, f"https://{HOST}/"))
            secure = router.route(scheme="https").mock(return_value=httpx.Response(200, json=REPLY))
            await site.light(GUID).turn_on()
    request = secure.calls.last.request
    assert request.method == "POST"
    assert str(request.url) == f"{HTTPS_BASE}power"
    assert request.content == f"guid={GUID}&cmd=1&auth=basic".encode()
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"


@pytest.mark.anyio
async def test_a_second_redirect_is_not_followed() -> None:
    async with quiet_session() as session:
        site = make_site(session, "basic")
        with respx.mock(assert_all_mocked=True) as router:
            router.route(scheme="http").mock(return_value=redirect(301, f"https://{HOST}/"))
            secure = router.route(scheme="https").mock(
                return_value=redirect(301, f"https://{HOST}/again")
            )
            with pytest.raises(ProtocolError):
                await site.light(GUID).turn_on()
            assert secure.call_count == 1


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["basic", "digest", "query"])
async def test_redirect_to_another_host_is_refused(mode: str) -> None:
    async with quiet_session() as session:
        site = make_site(session, mode)  # type: ignore[arg-type]
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            home = router.route(host=HOST).mock(
                return_value=redirect(302, "https://evil.example.net/api/V1/power")
            )
            other = router.route(host="evil.example.net").mock(
                return_value=httpx.Response(200, json=REPLY)
            )
            with pytest.raises(RedirectError) as caught:
                await site.light(GUID).turn_on()
            assert home.call_count == 1
            assert other.call_count == 0
    assert caught.value.location == "https://evil.example.net/api/V1/power"
    assert "evil.example.net" in str(caught.value)
    assert isinstance(caught.value, ProtocolError)
    assert PASSWORD not in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["cloud", "relay"])
async def test_redirect_of_a_key_site_names_the_masked_target(mode: str) -> None:
    async with quiet_session() as session:
        site = make_site(session, mode)  # type: ignore[arg-type]
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            other = router.route(host="other.example.org").mock(
                return_value=httpx.Response(200, json=REPLY)
            )
            home = router.route().mock(
                return_value=redirect(307, f"https://other.example.org/{KEY}/api/V1/power")
            )
            with pytest.raises(RedirectError) as caught:
                await site.light(GUID).turn_on()
            assert home.call_count == 1
            assert other.call_count == 0
    assert caught.value.location == "https://other.example.org/***/api/V1/power"
    assert KEY not in str(caught.value)
    assert "https://other.example.org/***/api/V1/power" in str(caught.value)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "location",
    [f"http://{HOST}:5051/elsewhere", f"http://{HOST}/api/V1/power"],
    ids=["http-to-http", "http-to-http-other-port"],
)
async def test_redirect_that_does_not_upgrade_is_refused(location: str) -> None:
    async with quiet_session() as session:
        site = make_site(session, "basic")
        with respx.mock(assert_all_mocked=True) as router:
            route = router.route().mock(return_value=redirect(301, location))
            with pytest.raises(RedirectError):
                await site.light(GUID).turn_on()
            assert route.call_count == 1


@pytest.mark.anyio
async def test_https_to_http_downgrade_is_refused() -> None:
    async with quiet_session() as session:
        site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True) as router:
            route = router.route().mock(
                return_value=redirect(301, f"http://data.thinknx.eu/{KEY}/api/V1/power")
            )
            with pytest.raises(RedirectError) as caught:
                await site.light(GUID).turn_on()
            assert route.call_count == 1
    assert caught.value.location == "http://data.thinknx.eu/***/api/V1/power"


@pytest.mark.anyio
@pytest.mark.parametrize("status", [301, 302, 307])
async def test_redirect_without_location_is_a_protocol_error(status: int) -> None:
    async with quiet_session() as session:
        site = make_site(session, "basic")
        with respx.mock(assert_all_mocked=True) as router:
            route = router.route().mock(return_value=redirect(status))
            with pytest.raises(ProtocolError) as caught:
                await site.light(GUID).turn_on()
            assert route.call_count == 1
    assert type(caught.value) is ProtocolError
    assert "Location" in str(caught.value)


@pytest.mark.anyio
async def test_redirect_to_an_invalid_url_is_a_protocol_error() -> None:
    async with quiet_session() as session:
        site = make_site(session, "basic")
        with respx.mock(assert_all_mocked=True) as router:
            router.route().mock(return_value=redirect(302, "https://[bad/"))
            with pytest.raises(ProtocolError):
                await site.light(GUID).turn_on()


@pytest.mark.anyio
async def test_redirect_is_never_followed_by_an_injected_client_either() -> None:
    """Even a client that follows redirects on its own does not hand the key to another host."""
    client = httpx.AsyncClient(follow_redirects=True)
    async with client, quiet_session(http_client=client) as session:
        site = make_site(session, "cloud")
        with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
            router.route(host="data.thinknx.eu").mock(
                return_value=redirect(302, "https://evil.example.net/x")
            )
            other = router.route(host="evil.example.net").mock(
                return_value=httpx.Response(200, json=REPLY)
            )
            with pytest.raises(RedirectError):
                await site.light(GUID).turn_on()
            assert other.call_count == 0
