"""Checking an inventory file's structure: every mistake named by file, site and field."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, get_args

import attrs

from ._addresses import AUTH_MODES, PlainHttpRefused, SiteKind, check_host, check_key, relay_root
from ._endpoints import is_url_safe
from .controllers import DEVICE_KINDS, DeviceKind
from .errors import ThinknxError, ValidationError
from .throttle import RateLimit

__all__ = [
    "DEVICE_KINDS",
    "GUID_LENGTH",
    "Alias",
    "DeviceKind",
    "InventoryError",
    "Mode",
    "Secret",
    "parse_inventory",
]

#: How a site is reached (the same :data:`~thinknx_async.site.SiteKind` a site reports).
Mode = SiteKind
#: A Thinknx GUID is 22 URL-safe characters.
GUID_LENGTH: Final = 22

_MODES: Final[tuple[Mode, ...]] = get_args(Mode)
_COMMON: Final = frozenset({"mode", "tags", "rate_limit", "max_in_flight", "aliases"})
_BY_MODE: Final[Mapping[str, frozenset[str]]] = {
    "local": frozenset({"host", "port", "scheme", "auth", "username", "password"}),
    "cloud": frozenset({"key"}),
    "relay": frozenset({"url", "key", "allow_insecure"}),
}
_ALL_FIELDS: Final = _COMMON.union(*_BY_MODE.values())
_DEFAULT_FIELDS: Final = _ALL_FIELDS - {"aliases", "tags"}
_RATE_FIELDS: Final = frozenset({"rate", "burst", "jitter", "adaptive"})
_TOP_LEVEL: Final = frozenset({"version", "defaults", "aliases", "controllers", "sites"})


class InventoryError(ThinknxError, ValueError):
    """An inventory file (or a use of it) is wrong; the message names file, site and field.

    ``path``, ``site`` and ``field`` hold the same facts (``None`` where they do not apply).
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | None = None,
        site: str | None = None,
        field: str | None = None,
    ) -> None:
        where = [str(path)] if path is not None else []
        if site is not None:
            where.append(f"site {site!r}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(": ".join([*where, message]))
        self.path = path
        self.site = site
        self.field = field


@attrs.frozen(slots=True, repr=False)
class Secret:
    """A password or key: a literal, or the name of an environment variable holding it.

    Its ``repr`` never shows a literal value.
    """

    value: str | None = None
    env: str | None = None

    def __repr__(self) -> str:
        return f"Secret(env={self.env!r})" if self.env is not None else "Secret('***')"

    def resolve(self, environ: Mapping[str, str]) -> str | None:
        """The secret's text (``None`` when its environment variable is not set)."""
        if self.env is not None:
            return environ.get(self.env)
        return self.value


@attrs.frozen(slots=True)
class Alias:
    """What an alias means on one site: a GUID and the kind of device it is."""

    name: str
    guid: str
    kind: DeviceKind


def _type_name(value: object) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}
    names |= {list: "an array", dict: "a table"}
    return names.get(type(value), type(value).__name__)


class _Context:
    """Where in the file we are: raises errors that say so."""

    def __init__(self, path: Path | None, site: str | None = None) -> None:
        self.path = path
        self.site = site

    def error(self, message: str, field: str | None = None) -> InventoryError:
        return InventoryError(message, path=self.path, site=self.site, field=field)

    def table(self, value: object, field: str | None) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.error(f"expected a table, got {_type_name(value)}", field)
        return value

    def string(self, value: object, field: str) -> str:
        if not isinstance(value, str) or not value:
            raise self.error(f"expected a non-empty string, got {_type_name(value)}", field)
        return value

    def integer(self, value: object, field: str, low: int, high: int) -> int:
        if type(value) is not int or not low <= value <= high:
            raise self.error(f"expected an integer {low}..{high}, got {value!r}", field)
        return value

    def boolean(self, value: object, field: str) -> bool:
        if type(value) is not bool:
            raise self.error(f"expected true or false, got {_type_name(value)}", field)
        return value

    def choice(self, value: object, field: str, choices: tuple[str, ...]) -> Any:
        if value not in choices:
            raise self.error(f"expected one of {', '.join(choices)}; got {value!r}", field)
        return value

    def secret(self, value: object, field: str) -> Secret:
        if isinstance(value, str):
            return Secret(value=self.string(value, field))
        if isinstance(value, Mapping):
            if set(value) != {"env"}:
                raise self.error('a secret table must be exactly {env = "VARIABLE"}', field)
            name = self.string(value["env"], f"{field}.env")
            if not name.replace("_", "a").isalnum():
                raise self.error(f"{name!r} is not an environment variable name", f"{field}.env")
            return Secret(env=name)
        raise self.error(
            f'expected a string or {{env = "VARIABLE"}}, got {_type_name(value)}', field
        )


def _rate_limit(ctx: _Context, value: object) -> tuple[RateLimit | None, bool]:
    if value is False:
        return None, False
    if not isinstance(value, Mapping):
        raise ctx.error("expected a table {rate = R, burst = B} or false", "rate_limit")
    table = value
    for name in table:
        if name not in _RATE_FIELDS:
            raise ctx.error(f"unknown field (expected {', '.join(sorted(_RATE_FIELDS))})",
                            f"rate_limit.{name}")  # fmt: skip
    if "rate" not in table:
        raise ctx.error("missing (requests per second)", "rate_limit.rate")
    try:
        return RateLimit(**table), True
    except (ValidationError, TypeError) as exc:
        raise ctx.error(str(exc), "rate_limit") from None


def _key(ctx: _Context, value: object) -> Secret:
    secret = ctx.secret(value, "key")
    if secret.value is not None:
        try:
            check_key(secret.value)
        except ValidationError:
            raise ctx.error(
                "an Integration Kit key is letters, digits, - and _ only", "key"
            ) from None
    return secret


def _relay_url(ctx: _Context, value: object, insecure: bool) -> str:
    url = ctx.string(value, "url")
    try:
        relay_root(url, allow_insecure=insecure)
    except PlainHttpRefused:
        raise ctx.error("plain http:// would send the key in clear text (set allow_insecure = "
                        "true to allow it)", "url") from None  # fmt: skip
    except ValidationError:
        raise ctx.error(f"expected http(s)://host[:port], got {url!r}", "url") from None
    return url


def _aliases(ctx: _Context, value: object, kinds: Mapping[str, DeviceKind]) -> dict[str, Alias]:
    aliases: dict[str, Alias] = {}
    for name, raw in ctx.table(value, "aliases").items():
        field = f"aliases.{name}"
        declared = kinds.get(name)
        if isinstance(raw, str):
            guid, kind = raw, declared
        else:
            table = ctx.table(raw, field)
            extra = sorted(set(table) - {"guid", "kind"})
            if extra:
                raise ctx.error("unknown field (expected guid, kind)", f"{field}.{extra[0]}")
            if "guid" not in table:
                raise ctx.error("missing", f"{field}.guid")
            guid = table["guid"]
            kind = ctx.choice(table.get("kind", declared), f"{field}.kind", DEVICE_KINDS)
            if declared is not None and kind != declared:
                raise ctx.error(f"is {kind}, but [aliases] declares a {declared}", f"{field}.kind")
        if not isinstance(guid, str) or not is_url_safe(guid):
            raise ctx.error(f"{guid!r} is not a GUID (URL-safe characters only)", field)
        if kind is None:
            raise ctx.error(
                'no kind: give {guid = "...", kind = "light"} or declare it in [aliases]', field
            )
        aliases[name] = Alias(name=name, guid=guid, kind=kind)
    return aliases


def _site(
    ctx: _Context, raw: Mapping[str, Any], defaults: Mapping[str, Any], kinds: Mapping[str, Any]
) -> dict[str, Any]:
    for name in raw:
        if name not in _ALL_FIELDS:
            raise ctx.error(f"unknown field (expected one of {', '.join(sorted(_ALL_FIELDS))})",
                            name)  # fmt: skip
    if "mode" not in raw and "mode" not in defaults:
        raise ctx.error("missing (local, cloud or relay)", "mode")
    mode: str = ctx.choice(raw.get("mode", defaults.get("mode")), "mode", _MODES)
    for name in raw:
        if name not in _COMMON and name not in _BY_MODE[mode]:
            raise ctx.error(f"does not apply to a {mode} site", name)
    merged = {k: v for k, v in defaults.items() if k in _COMMON or k in _BY_MODE[mode]}
    merged.update(raw)
    out: dict[str, Any] = {"name": ctx.site, "mode": mode, "path": ctx.path}
    tags = merged.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        raise ctx.error("expected an array of non-empty strings", "tags")
    out["tags"] = tuple(dict.fromkeys(tags))
    if "rate_limit" in merged:
        out["rate_limit"], out["throttled"] = _rate_limit(ctx, merged["rate_limit"])
    if "max_in_flight" in merged:
        out["max_in_flight"] = ctx.integer(merged["max_in_flight"], "max_in_flight", 1, 10_000)
    out["aliases"] = _aliases(ctx, merged.get("aliases", {}), kinds)
    required = {"local": ("host", "username", "password"), "cloud": ("key",),
                "relay": ("url", "key")}[mode]  # fmt: skip
    for name in required:
        if name not in merged:
            raise ctx.error(f"missing (a {mode} site needs {', '.join(required)})", name)
    if mode == "local":
        host = ctx.string(merged["host"], "host")
        try:
            out["host"] = check_host(host)
        except ValidationError:
            raise ctx.error(f"{host!r} is not a host name or IP address", "host") from None
        out["username"] = ctx.string(merged["username"], "username")
        out["password"] = ctx.secret(merged["password"], "password")
        out["port"] = ctx.integer(merged.get("port", 5051), "port", 1, 65535)
        out["scheme"] = ctx.choice(merged.get("scheme", "http"), "scheme", ("http", "https"))
        auth = ctx.choice(merged.get("auth", "digest"), "auth", AUTH_MODES)
        if auth == "query" and out["scheme"] != "http":
            raise ctx.error("query credentials work over plain http only", "auth")
        out["auth"] = auth
    else:
        out["key"] = _key(ctx, merged["key"])
        if mode == "relay":
            insecure = ctx.boolean(merged.get("allow_insecure", False), "allow_insecure")
            out["url"] = _relay_url(ctx, merged["url"], insecure)
            out["allow_insecure"] = insecure
    return out


def parse_inventory(data: Mapping[str, Any], path: Path | None) -> list[dict[str, Any]]:
    """Check ``data`` (a parsed inventory file); return each site's fields, in file order."""
    top = _Context(path)
    for name in data:
        if name not in _TOP_LEVEL:
            raise top.error(f"unknown top-level key (expected {', '.join(sorted(_TOP_LEVEL))})",
                            name)  # fmt: skip
    if data.get("version", 1) != 1:
        raise top.error(
            f"unsupported version {data['version']!r} (this library reads 1)", "version"
        )
    defaults = top.table(data.get("defaults", {}), "defaults")
    for name in defaults:
        if name not in _DEFAULT_FIELDS:
            raise top.error("not allowed in [defaults]", f"defaults.{name}")
    kinds: dict[str, DeviceKind] = {}
    for name, kind in top.table(data.get("aliases", {}), "aliases").items():
        kinds[name] = top.choice(kind, f"aliases.{name}", DEVICE_KINDS)
    if "sites" not in data:
        raise top.error("no [sites.NAME] table: an inventory lists at least one site")
    sites = top.table(data["sites"], "sites")
    if not sites:
        raise top.error("no [sites.NAME] table: an inventory lists at least one site")
    entries = []
    for name, raw in sites.items():
        ctx = _Context(path, name)
        if not name.strip():
            raise ctx.error("a site name must not be blank")
        entries.append(_site(ctx, ctx.table(raw, None), defaults, kinds))
    return entries
