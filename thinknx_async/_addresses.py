"""Where a site is and how it proves who it is, validated before any site exists."""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import quote

import attrs
import httpx

from .errors import ValidationError

__all__ = ["AUTH_MODES", "Address", "local_address", "relay_address", "relay_root"]

AUTH_MODES = ("digest", "basic", "query")
_KEY = re.compile(r"[A-Za-z0-9_-]+")
AuthMode = Literal["digest", "basic", "query"]


@attrs.frozen(slots=True)
class Address:
    """A site's base URL and its credentials as they travel."""

    base: str
    auth: httpx.Auth | None = None
    auth_suffix: str = ""
    headers: Mapping[str, str] = attrs.field(factory=dict)


def local_address(
    host: str, port: int, scheme: str, username: str, password: str, auth: str
) -> Address:
    """``SCHEME://HOST:PORT/api/V1/`` with Digest, Basic or query credentials."""
    if auth not in AUTH_MODES:
        raise ValidationError(f"auth must be one of {AUTH_MODES}, got {auth!r}")
    if scheme not in ("http", "https"):
        raise ValidationError(f"scheme must be 'http' or 'https', got {scheme!r}")
    if not isinstance(host, str) or not host or any(c in host for c in "/@?#% \\"):
        raise ValidationError(f"host {host!r:.60} is not a host name or IP address")
    if type(port) is not int or not 0 < port < 65536:
        raise ValidationError(f"port must be an integer 1..65535, got {port!r}")
    for field, value in (("username", username), ("password", password)):
        if not isinstance(value, str) or not value:
            raise ValidationError(f"{field} must be a non-empty string")
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
        digest = httpx.DigestAuth(username, password)
        return Address(base, auth=digest, auth_suffix="auth=digest")
    if auth == "basic":
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        return Address(base, auth_suffix="auth=basic", headers={"authorization": f"Basic {token}"})
    suffix = f"auth=basic&user={quote(username, safe='')}&pass={quote(password, safe='')}"
    return Address(base, auth_suffix=suffix)


def relay_root(url: str, *, allow_insecure: bool) -> str:
    """An on-premise relay's root URL, refused over plain HTTP unless allowed."""
    if not isinstance(url, str):
        raise ValidationError("url must be a string")
    return _relay_root(url, bool(allow_insecure))


@functools.lru_cache(maxsize=64)  # a fan-out opens hundreds of sites behind the same relay
def _relay_root(url: str, allow_insecure: bool) -> str:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValidationError(f"relay URL {url!r:.80} is invalid") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValidationError(f"relay URL {url!r:.80} must be http(s)://host[:port]")
    if parsed.query or parsed.fragment or parsed.userinfo:
        raise ValidationError("relay URL must not carry a query, fragment or credentials")
    if parsed.scheme == "http" and not allow_insecure:
        raise ValidationError(
            "refusing a relay over plain http://: the key would travel in clear text "
            "(pass allow_insecure=True to allow it)"
        )
    return url.rstrip("/")


def relay_address(root: str, key: str) -> Address:
    """``ROOT/KEY/api/V1/``: the cloud's form, and a relay's."""
    if not isinstance(key, str) or not key or len(key) > 256:
        raise ValidationError("the Integration Kit key must be a non-empty string")
    if _KEY.fullmatch(key) is None:
        raise ValidationError("the Integration Kit key must be letters and digits only")
    return Address(f"{root}/{key}/api/V1/")
