"""Where a site is and how it proves who it is, validated before any site exists."""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from typing import Literal
from urllib.parse import quote, unquote, urlsplit

import attrs
import httpx

from ._digest import SiteDigestAuth
from ._endpoints import is_url_safe
from .errors import ValidationError

__all__ = [
    "AUTH_MODES",
    "Address",
    "LocalTarget",
    "PlainHttpRefused",
    "SiteKind",
    "check_host",
    "check_key",
    "local_address",
    "local_target",
    "relay_address",
    "relay_root",
]

AUTH_MODES = ("digest", "basic", "query")
#: How a site is reached: a local server, the Thinknx cloud, an on-premise relay.
SiteKind = Literal["local", "cloud", "relay"]


@attrs.frozen(slots=True)
class Address:
    """A site's base URL and its credentials as they travel."""

    base: str
    auth: httpx.Auth | None = None
    auth_suffix: str = attrs.field(default="", repr=False)  # may hold pass=...
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)  # may hold Basic ...


class PlainHttpRefused(ValidationError):
    """A relay (or cloud) root over plain ``http://`` without leave; ``how`` says how to give
    it, ``what`` names the root."""

    def __init__(self, how: str, what: str = "relay URL") -> None:
        super().__init__(
            f"refusing a {what} over plain http://: the key would travel in clear text "
            f"({how} to allow it)"
        )
        self.what = what


@attrs.frozen(slots=True)
class LocalTarget:
    """A local server as given: host and port, scheme, credentials (``None``: not given)."""

    host: str
    port: int
    scheme: str
    username: str | None
    password: str | None


def _shown(url: str) -> str:
    """``url`` for a message: any user-info replaced, so no password is ever quoted."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return f"{url[:60]!r}"
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rpartition("@")[2]
    return repr(f"{scheme}{sep}{authority}{slash}{path}"[:80])


def local_target(
    host: str,
    port: int | None,
    scheme: str | None,
    username: str | None,
    password: str | None,
) -> LocalTarget:
    """``host`` as a name or address, or as the URL a server or a manifest hands out:
    ``http://HOST:PORT``, with or without ``/api/V1/``, or the spec's own form with
    credentials, ``http://user:pass@HOST:5051``. What the URL says and the arguments say must
    agree; the port defaults to 5051 and the scheme to ``http``."""
    if not isinstance(host, str) or "://" not in host:
        return LocalTarget(host, 5051 if port is None else port, scheme or "http", username,
                           password)  # fmt: skip
    shown = _shown(host)
    try:
        parts = urlsplit(host)
        url_port = parts.port
    except ValueError:
        raise ValidationError(f"local URL {shown} has an invalid port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(f"local URL {shown} must be http(s)://[user:pass@]host[:port]")
    if parts.query or parts.fragment or parts.path.strip("/") not in ("", "api/V1"):
        raise ValidationError(
            f"local URL {shown} must end at the port or /api/V1/: no path, query or fragment"
        )
    raw_user, raw_password = parts.username, parts.password
    url_user = None if raw_user is None else unquote(raw_user)
    url_password = None if raw_password is None else unquote(raw_password)
    for what, given, in_url in (
        ("scheme", scheme, parts.scheme),
        ("port", port, url_port),
        ("username", username, url_user),
        ("password", password, url_password),
    ):
        if given is not None and in_url is not None and given != in_url:
            raise ValidationError(f"the {what} given differs from the URL's")
    return LocalTarget(
        parts.hostname,
        url_port or port or 5051,
        parts.scheme,
        username if url_user is None else url_user,
        password if url_password is None else url_password,
    )


def _non_empty(field: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field} must be a non-empty string")
    return value


def local_address(
    host: str,
    port: int | None,
    scheme: str | None,
    username: str | None,
    password: str | None,
    auth: str,
) -> Address:
    """``SCHEME://HOST:PORT/api/V1/`` with Digest, Basic or query credentials; ``host`` may
    be a URL (see :func:`local_target`)."""
    target = local_target(host, port, scheme, username, password)
    host, port, scheme = target.host, target.port, target.scheme
    if auth not in AUTH_MODES:
        raise ValidationError(f"auth must be one of {AUTH_MODES}, got {auth!r}")
    if scheme not in ("http", "https"):
        raise ValidationError(f"scheme must be 'http' or 'https', got {scheme!r}")
    check_host(host)
    if type(port) is not int or not 0 < port < 65536:
        raise ValidationError(f"port must be an integer 1..65535, got {port!r}")
    username = _non_empty("username", target.username)
    password = _non_empty("password", target.password)
    if ":" in username and auth == "basic":
        raise ValidationError("a Basic auth username cannot contain ':'")
    if auth == "query" and scheme != "http":
        raise ValidationError("the server takes query credentials over plain HTTP only")
    shown_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    base = f"{scheme}://{shown_host}:{port}/api/V1/"
    try:
        httpx.URL(base)
    except httpx.InvalidURL as exc:
        raise ValidationError(f"host {host!r:.60} is not a host name or IP address") from exc
    if auth == "digest":
        digest = SiteDigestAuth(username, password)
        return Address(base, auth=digest, auth_suffix="auth=digest")
    if auth == "basic":
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        return Address(base, auth_suffix="auth=basic", headers={"authorization": f"Basic {token}"})
    suffix = f"auth=basic&user={quote(username, safe='')}&pass={quote(password, safe='')}"
    return Address(base, auth_suffix=suffix)


def relay_root(url: str, *, allow_insecure: bool, what: str = "relay URL") -> str:
    """A relay's (or the cloud's) root URL, percent-encoded, refused over plain HTTP unless
    allowed, and without credentials, query or fragment (``what`` names it in messages)."""
    if not isinstance(url, str):
        raise ValidationError(f"{what} must be a string")
    return _relay_root(url, bool(allow_insecure), what)


@functools.lru_cache(maxsize=64)  # a fan-out opens hundreds of sites behind the same relay
def _relay_root(url: str, allow_insecure: bool, what: str) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValidationError(f"{what} {url!r:.80} is invalid") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValidationError(f"{what} {url!r:.80} must be http(s)://host[:port][/path]")
    if parsed.query or parsed.fragment or parsed.userinfo or "?" in url or "#" in url:
        raise ValidationError(f"{what} must not carry a query, fragment or credentials")
    if parsed.scheme == "http" and not allow_insecure:
        raise PlainHttpRefused("pass allow_insecure=True", what)
    # The encoded form (a space as %20, non-ASCII as UTF-8 escapes), so that every transport
    # sends the same request line.
    return str(parsed).rstrip("/")


def relay_address(root: str, key: str) -> Address:
    """``ROOT/KEY/api/V1/``: the cloud's form, and a relay's."""
    check_key(key)
    return Address(f"{root}/{key}/api/V1/")


def check_key(key: str) -> str:
    """An Integration Kit key as it may stand in a URL path (never quoted in the message)."""
    if not isinstance(key, str) or not key or len(key) > 256:
        raise ValidationError("the Integration Kit key must be a non-empty string")
    if not is_url_safe(key, 256):
        raise ValidationError("the Integration Kit key must be letters, digits, - and _ only")
    return key


def check_host(host: str) -> str:
    """A host name or IP address as it may stand in a URL: nothing of a path, credentials,
    query, escape or space."""
    if not isinstance(host, str) or not host or any(c in host for c in "/@?#% \\"):
        raise ValidationError(f"host {host!r:.60} is not a host name or IP address")
    return host
