"""A site inventory: the sites an integrator manages, in one TOML file, with device aliases.

Each site has its own address or key, its own credentials and its own GUIDs; an alias such as
``lobby_lights`` names "the same" device on every site. See ``docs/inventory.md`` for the format.
"""

from __future__ import annotations

import fnmatch
import os
import tomllib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, overload

import attrs

from ._endpoints import is_url_safe
from ._inventory_controllers import parse_controllers
from ._inventory_parse import GUID_LENGTH, Alias, Mode, parse_inventory
from ._inventory_parse import InventoryError as InventoryError
from ._inventory_parse import Secret as Secret
from .controllers import DEVICE_KINDS, Controller, DeviceKind
from .devices import PROXIES, Analog, Blind, Button, Device, Hvac, Light, Scene, Thermostat
from .errors import ValidationError
from .site import Site

if TYPE_CHECKING:
    from .session import Session
    from .throttle import RateLimit

__all__ = [
    "DEVICE_KINDS",
    "Alias",
    "DeviceKind",
    "Fleet",
    "Inventory",
    "InventoryError",
    "Mode",
    "Secret",
    "SiteEntry",
]

#: Kept for older imports: the proxy class of each device kind is :data:`devices.PROXIES`.
_PROXIES: Mapping[DeviceKind, type[Device]] = PROXIES


@attrs.frozen(slots=True, eq=False)
class SiteEntry:
    """One site of an inventory, as written in the file (secrets not yet resolved)."""

    name: str
    """The site's name: its ``[sites.NAME]`` table, and its label in messages and reports."""
    mode: Mode
    """How the site is reached: ``"local"`` (``host``, ``port``, ``scheme``, ``auth``,
    ``username``, ``password``), ``"cloud"`` (``key``) or ``"relay"`` (``url``, ``key``,
    ``allow_insecure``)."""
    tags: tuple[str, ...] = ()
    """Labels for selection (:meth:`Inventory.select`), in file order, each once."""
    host: str | None = None
    """A local site's host name or IP address (``None`` for the other modes)."""
    port: int = 5051
    """A local site's port."""
    scheme: Literal["http", "https"] = "http"
    """A local site's scheme."""
    auth: Literal["digest", "basic", "query"] = "digest"
    """How a local site's credentials travel, as :meth:`Session.local` takes it (``"query"``
    over plain ``http`` only)."""
    username: str | None = None
    """A local site's user name (``None`` for the other modes)."""
    password: Secret | None = None
    """A local site's password, a literal or an environment variable read when the site is
    opened (``None`` for the other modes)."""
    url: str | None = None
    """A relay site's root, ``https://host[:port]`` (``None`` for the other modes)."""
    key: Secret | None = None
    """A cloud or relay site's Integration Kit key, a literal or an environment variable read
    when the site is opened (``None`` for a local site)."""
    allow_insecure: bool = False
    """Whether a relay site's ``url`` may be plain ``http://``."""
    rate_limit: RateLimit | None = None
    """The site's own rate limit; ``None`` means the session's default unless ``throttled`` is
    false."""
    throttled: bool = True
    """False when the file says ``rate_limit = false``: the site has no rate limit at all."""
    max_in_flight: int | None = None
    """The site's cap on requests in flight at once (``None``: the session's default)."""
    aliases: Mapping[str, Alias] = attrs.field(factory=dict, converter=MappingProxyType)
    """The site's device aliases: alias name -> GUID and device kind (read-only)."""
    path: Path | None = None
    """The inventory file the site was read from, named in messages (``None`` when it came
    from no file)."""

    def _error(self, message: str, field: str | None = None) -> InventoryError:
        return InventoryError(message, path=self.path, site=self.name, field=field)

    def alias(self, name: str) -> Alias:
        """The alias ``name`` of this site, or :class:`InventoryError` naming the ones it has."""
        try:
            return self.aliases[name]
        except KeyError:
            known = ", ".join(sorted(self.aliases)) or "none"
            raise self._error(f"no alias {name!r} (aliases: {known})", "aliases") from None

    def resolve(self, name: str, kind: DeviceKind | None = None) -> Alias:
        """An alias of this site, or a raw GUID (22 URL-safe characters) that is not one.

        With ``kind``, the alias must be of that kind.
        """
        alias = self.aliases.get(name)
        if alias is None:
            if len(name) == GUID_LENGTH and is_url_safe(name):
                if kind is None:
                    raise self._error(f"{name!r} is a GUID, not an alias: say what kind it is")
                return Alias(name=name, guid=name, kind=kind)
            alias = self.alias(name)
        if kind is not None and alias.kind != kind:
            raise self._error(f"alias {name!r} is a {alias.kind}, not a {kind}", "aliases")
        return alias

    def open(self, session: Session, *, environ: Mapping[str, str] | None = None) -> Site:
        """A :class:`~thinknx_async.Site` of ``session`` for this entry, secrets resolved.

        ``environ`` (default ``os.environ``) resolves ``{env = "NAME"}`` secrets.
        """
        env = os.environ if environ is None else environ
        options: dict[str, Any] = {"name": self.name, "max_in_flight": self.max_in_flight}
        if not self.throttled:
            options["rate_limit"] = None
        elif self.rate_limit is not None:
            options["rate_limit"] = self.rate_limit
        if self.mode == "local":
            field, secret = "password", self._secret(self.password, "password", env)
        else:
            field, secret = "key", self._secret(self.key, "key", env)
        try:
            if self.mode == "local":
                assert self.host is not None and self.username is not None
                return session.local(
                    self.host,
                    username=self.username,
                    password=secret,
                    auth=self.auth,
                    port=self.port,
                    scheme=self.scheme,
                    **options,
                )
            if self.mode == "cloud":
                return session.cloud(secret, **options)
            assert self.url is not None
            return session.on_premise(
                self.url, secret, allow_insecure=self.allow_insecure, **options
            )
        except ValidationError as exc:
            raise self._error(exc.message, field) from None

    def _secret(self, secret: Secret | None, field: str, env: Mapping[str, str]) -> str:
        assert secret is not None  # the parser requires it for this mode
        value = secret.resolve(env)
        if value is None:
            raise self._error(f"environment variable {secret.env} is not set", field)
        if not value:
            raise self._error(f"environment variable {secret.env} is empty", field)
        return value


@attrs.frozen(slots=True, eq=False)
class Inventory:
    """The sites of an inventory file, in file order. Load one with :meth:`load`."""

    sites: tuple[SiteEntry, ...]
    """The sites, in file order."""
    path: Path | None = None
    """The file the inventory was read from, named in messages (``None`` when it came from no
    file)."""
    controllers: tuple[Controller[Any], ...] = ()
    """The controllers its ``[controllers.VERB]`` tables declare (see :func:`controller`)."""

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Inventory:
        """Read and check an inventory TOML file; :class:`InventoryError` names what is wrong."""
        file = Path(path)
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InventoryError(f"cannot read the file: {exc}", path=file) from None
        return cls.loads(text, path=file)

    @classmethod
    def loads(cls, text: str, *, path: str | os.PathLike[str] | None = None) -> Inventory:
        """Parse inventory TOML text (``path`` only names it in messages)."""
        file = None if path is None else Path(path)
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InventoryError(f"invalid TOML: {exc}", path=file) from None
        return cls.from_dict(data, path=file)

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, path: str | os.PathLike[str] | None = None
    ) -> Inventory:
        """Build an inventory from the file's structure (as ``tomllib`` returns it)."""
        file = None if path is None else Path(path)
        entries = [SiteEntry(**fields) for fields in parse_inventory(data, file)]
        return cls(tuple(entries), file, parse_controllers(data, file))

    def controller(self, verb: str) -> Controller[Any]:
        """The controller declared as ``[controllers.VERB]``."""
        for controller in self.controllers:
            if verb in controller.actions:
                return controller
        known = ", ".join(v for c in self.controllers for v in c.actions) or "none"
        raise InventoryError(f"no controller {verb!r} (declared: {known})", path=self.path)

    def __len__(self) -> int:
        return len(self.sites)

    def __iter__(self) -> Iterator[SiteEntry]:
        return iter(self.sites)

    def __getitem__(self, name: str) -> SiteEntry:
        for entry in self.sites:
            if entry.name == name:
                return entry
        raise InventoryError(f"no site named {name!r}", path=self.path)

    @property
    def names(self) -> tuple[str, ...]:
        """Site names, in file order."""
        return tuple(entry.name for entry in self.sites)

    @property
    def tags(self) -> frozenset[str]:
        """Every tag used by a site."""
        return frozenset(tag for entry in self.sites for tag in entry.tags)

    def select(self, *patterns: str, tags: Iterable[str] = ()) -> Inventory:
        """The sites whose name matches one of ``patterns`` (exact or glob: ``flat-*``) or
        that carry one of ``tags``, in file order. No pattern and no tag selects every site.

        A pattern or tag that matches no site is an :class:`InventoryError` (a typo should not
        silently select nothing).
        """
        wanted = tuple(tags)
        if isinstance(tags, str):
            wanted = (tags,)
        if not patterns and not wanted:
            return self
        chosen: set[str] = set()
        for pattern in patterns:
            hits = [e.name for e in self.sites if fnmatch.fnmatchcase(e.name, pattern)]
            if not hits:
                raise InventoryError(f"no site matches {pattern!r}", path=self.path)
            chosen.update(hits)
        for tag in wanted:
            hits = [e.name for e in self.sites if tag in e.tags]
            if not hits:
                raise InventoryError(f"no site has the tag {tag!r}", path=self.path)
            chosen.update(hits)
        chosen_sites = tuple(e for e in self.sites if e.name in chosen)
        return Inventory(chosen_sites, self.path, self.controllers)

    def open(self, session: Session, *, environ: Mapping[str, str] | None = None) -> Fleet:
        """Make a :class:`~thinknx_async.Site` of ``session`` for every entry: a :class:`Fleet`.

        Secrets given as ``{env = "NAME"}`` are read from ``environ`` (default ``os.environ``)
        now; a missing one is an :class:`InventoryError` naming the site and the field.
        """
        return Fleet([(entry, entry.open(session, environ=environ)) for entry in self.sites])


class Fleet(Sequence[Site]):
    """The sites of an inventory opened on a session: a sequence of sites, in inventory order,
    that also knows each site's entry and resolves its aliases.

    ``fleet.light(site, "lobby_lights")`` is that site's own light for the alias, so one lambda
    addresses the same logical device everywhere::

        await session.gather(fleet, lambda site: fleet.light(site, "lobby_lights").turn_on())
    """

    __slots__ = ("_entries", "_sites")

    def __init__(self, pairs: Iterable[tuple[SiteEntry, Site]]) -> None:
        self._sites: list[Site] = []
        self._entries: dict[Site, SiteEntry] = {}
        for entry, site in pairs:
            self._sites.append(site)
            self._entries[site] = entry

    def __repr__(self) -> str:
        return f"<Fleet of {len(self._sites)} sites>"

    def __len__(self) -> int:
        return len(self._sites)

    @overload
    def __getitem__(self, index: int) -> Site: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[Site]: ...

    def __getitem__(self, index: int | slice) -> Site | Sequence[Site]:
        return self._sites[index]

    def entry(self, site: Site) -> SiteEntry:
        """The inventory entry ``site`` was opened from."""
        try:
            return self._entries[site]
        except KeyError:
            raise InventoryError(f"{site!r} is not part of this fleet") from None

    def site(self, name: str) -> Site:
        """The site named ``name``."""
        for site, entry in self._entries.items():
            if entry.name == name:
                return site
        raise InventoryError(f"no site named {name!r} in this fleet")

    def guid(self, site: Site, name: str, kind: DeviceKind | None = None) -> str:
        """The GUID that alias ``name`` (or the raw GUID ``name``) means on ``site``."""
        return self.entry(site).resolve(name, kind).guid

    def device(self, site: Site, name: str) -> Device:
        """The device proxy for alias ``name`` on ``site`` (its class follows the alias kind)."""
        alias = self.entry(site).resolve(name)
        return PROXIES[alias.kind](site, alias.guid)

    def light(self, site: Site, name: str) -> Light:
        """The light that alias (or GUID) ``name`` means on ``site``."""
        return Light(site, self.guid(site, name, "light"))

    def blind(self, site: Site, name: str) -> Blind:
        """The blind that alias (or GUID) ``name`` means on ``site``."""
        return Blind(site, self.guid(site, name, "blind"))

    def thermostat(self, site: Site, name: str) -> Thermostat:
        """The thermostat that alias (or GUID) ``name`` means on ``site``."""
        return Thermostat(site, self.guid(site, name, "thermostat"))

    def hvac(self, site: Site, name: str) -> Hvac:
        """The HVAC unit that alias (or GUID) ``name`` means on ``site``."""
        return Hvac(site, self.guid(site, name, "hvac"))

    def scene(self, site: Site, name: str) -> Scene:
        """The scene that alias (or GUID) ``name`` means on ``site``."""
        return Scene(site, self.guid(site, name, "scene"))

    def button(self, site: Site, name: str) -> Button:
        """The button that alias (or GUID) ``name`` means on ``site``."""
        return Button(site, self.guid(site, name, "button"))

    def analog(self, site: Site, name: str) -> Analog:
        """The analog value that alias (or GUID) ``name`` means on ``site``."""
        return Analog(site, self.guid(site, name, "analog"))
