"""The simulated project: sites, their devices and KNX group addresses.

A project is immutable. It is either generated (deterministic for a seed) or loaded from a
JSON or TOML file whose format is described in ``docs/simulator.md``.
"""

from __future__ import annotations

import json
import random
import string
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS: tuple[str, ...] = ("light", "blind", "thermostat", "hvac", "scene", "button")
"""Device kinds, in the order used by manifests and generation."""
DECLARED_KINDS: tuple[str, ...] = ("analog",)
"""Kinds a project file may hold but generation never makes: their controllers have no URL in
the spec, so they answer only controllers the simulator is told about."""

GUID_ALPHABET = string.ascii_letters + string.digits + "-_"
KEY_ALPHABET = string.ascii_letters + string.digits
GUID_LENGTH = 22
KEY_LENGTH = 32

SCENE_STEP_CONTROLLERS = frozenset(
    {"power", "powerlevel", "updown", "stop", "heightlevel", "blindangle", "setpoint"}
    | {"hvacpower", "trigger"}
)


class ProjectError(ValueError):
    """A project file or definition is invalid."""


def is_guid(text: str) -> bool:
    """Whether ``text`` is a non-empty string of URL-safe characters only."""
    return bool(text) and all(c in GUID_ALPHABET for c in text)


def random_guid(rng: random.Random) -> str:
    """A 22-character URL-safe GUID drawn from ``rng``."""
    return "".join(rng.choice(GUID_ALPHABET) for _ in range(GUID_LENGTH))


def random_key(rng: random.Random, length: int = KEY_LENGTH) -> str:
    """An alphanumeric Integration Kit key (or password) drawn from ``rng``."""
    return "".join(rng.choice(KEY_ALPHABET) for _ in range(length))


@dataclass(frozen=True, slots=True)
class SceneStep:
    """One timed step of a scene: after ``delay`` seconds (from the previous step), run
    ``controller`` with ``value`` on the device ``guid`` of the same site."""

    delay: float
    guid: str
    controller: str
    value: float = 1


@dataclass(frozen=True, slots=True)
class Device:
    """One UI object of a site. Kind-specific fields are ignored by other kinds."""

    guid: str
    kind: str
    name: str = ""
    comm_obj: int = 1
    dimmable: bool = True
    level: int = 0
    height: int = 0
    angle: int = 0
    temperature: float = 21.0
    setpoint: float = 21.0
    on: bool = False
    steps: tuple[SceneStep, ...] = ()


@dataclass(frozen=True, slots=True)
class Site:
    """One Thinknx server: its Integration Kit key, local credentials, devices and facts."""

    name: str
    key: str
    username: str
    password: str
    devices: tuple[Device, ...] = ()
    groups: tuple[str, ...] = ()
    rate: float | None = None
    burst: int | None = None
    version: str = "03.02.01.07"
    config_time: str = "08:30:00 2024-01-15"
    boot_age: float = 3 * 86400 + 7200.0
    pbx_users: tuple[str, ...] = ()

    def devices_by_kind(self) -> dict[str, list[str]]:
        """GUIDs of this site's devices, grouped by kind (every kind present, maybe empty)."""
        out: dict[str, list[str]] = {kind: [] for kind in KINDS}
        for device in self.devices:
            out.setdefault(device.kind, []).append(device.guid)
        return out


@dataclass(frozen=True, slots=True)
class Project:
    """A set of sites served by one simulator."""

    sites: tuple[Site, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _validate(self.sites)

    def site(self, name_or_key: str) -> Site:
        """The site with this name or Integration Kit key."""
        for site in self.sites:
            if name_or_key in (site.name, site.key):
                return site
        raise KeyError(name_or_key)

    @classmethod
    def generate(
        cls,
        sites: int = 1,
        seed: int = 0,
        devices_per_kind: int | Mapping[str, int] = 2,
        groups_per_site: int = 4,
    ) -> Project:
        """A project of ``sites`` sites, identical for identical arguments.

        ``devices_per_kind`` is a count for every kind or a mapping kind -> count.
        """
        if isinstance(devices_per_kind, int):
            counts = dict.fromkeys(KINDS, devices_per_kind)
        else:
            counts = {kind: int(devices_per_kind.get(kind, 0)) for kind in KINDS}
        rng = random.Random(seed)
        return cls(tuple(_generate_site(rng, i, counts, groups_per_site) for i in range(sites)))

    @classmethod
    def load(cls, path: str | Path) -> Project:
        """Read a project from a ``.json`` or ``.toml`` file."""
        path = Path(path)
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode()) if path.suffix.lower() == ".toml" else json.loads(raw)
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Project:
        """Build a project from the file format's dictionary form."""
        sites = data.get("sites")
        if not isinstance(sites, list) or not sites:
            raise ProjectError("a project needs a non-empty 'sites' list")
        return cls(tuple(_site_from_dict(i, s) for i, s in enumerate(sites)))

    def to_dict(self) -> dict[str, Any]:
        """The file format's dictionary form (JSON-serialisable; ``Project.from_dict`` inverse)."""
        return {"sites": [_site_to_dict(site) for site in self.sites]}


def _generate_site(rng: random.Random, index: int, counts: Mapping[str, int], groups: int) -> Site:
    key = random_key(rng)
    password = random_key(rng, 16)
    devices: list[Device] = []
    comm_obj = 10
    for kind in KINDS:
        for n in range(counts.get(kind, 0)):
            comm_obj += 1
            guid = random_guid(rng)
            temperature = round(rng.uniform(18.0, 24.0), 1) if kind == "thermostat" else 21.0
            devices.append(Device(guid, kind, f"{kind} {n + 1}", comm_obj, temperature=temperature))
    devices = [_with_generated_steps(d, devices) for d in devices]
    group_list = tuple(f"{1 + g // 8}/{(g // 4) % 8}/{1 + g % 4}" for g in range(groups))
    return Site(
        name=f"site-{index + 1}",
        key=key,
        username="service",
        password=password,
        devices=tuple(devices),
        groups=group_list,
        config_time=f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:00 2024-0{1 + index % 9}-15",
        boot_age=float(rng.randrange(3600, 40 * 86400)),
        pbx_users=tuple(str(100 + u) for u in range(index % 3)),
    )


def _with_generated_steps(device: Device, devices: list[Device]) -> Device:
    """Scenes get a short timed macro over the site's first light and blind."""
    if device.kind != "scene":
        return device
    light = next((d.guid for d in devices if d.kind == "light"), None)
    blind = next((d.guid for d in devices if d.kind == "blind"), None)
    steps: list[SceneStep] = []
    if light:
        steps.append(SceneStep(0.0, light, "power", 1))
    if blind:
        steps.append(SceneStep(0.5, blind, "heightlevel", 50))
    if light:
        steps.append(SceneStep(0.5, light, "powerlevel", 30))
    return Device(device.guid, "scene", device.name, device.comm_obj, steps=tuple(steps))


_DEVICE_FIELDS = ("name", "comm_obj", "dimmable", "level", "height", "angle")
_DEVICE_FLOAT_FIELDS = ("temperature", "setpoint")


def _device_from_dict(site_name: str, index: int, raw: Mapping[str, Any]) -> Device:
    kind = raw.get("kind")
    if kind not in KINDS + DECLARED_KINDS:
        raise ProjectError(
            f"site {site_name!r} device {index}: kind must be one of {KINDS + DECLARED_KINDS}"
        )
    guid = raw.get("guid") or random_guid(random.Random(f"{site_name}/{index}"))
    steps = tuple(
        SceneStep(float(s.get("delay", 0)), str(s["guid"]), str(s["controller"]), s.get("value", 1))
        for s in raw.get("steps", ())
    )
    kwargs: dict[str, Any] = {k: raw[k] for k in _DEVICE_FIELDS if k in raw}
    kwargs.update({k: float(raw[k]) for k in _DEVICE_FLOAT_FIELDS if k in raw})
    kwargs.setdefault("comm_obj", index + 1)
    return Device(guid=str(guid), kind=kind, on=bool(raw.get("on", False)), steps=steps, **kwargs)


def _site_from_dict(index: int, raw: Mapping[str, Any]) -> Site:
    name = str(raw.get("name") or f"site-{index + 1}")
    rng = random.Random(f"site/{name}")
    devices = tuple(_device_from_dict(name, i, d) for i, d in enumerate(raw.get("devices", ())))
    optional: dict[str, Any] = {}
    for key in ("version", "config_time"):
        if key in raw:
            optional[key] = str(raw[key])
    if "boot_age" in raw:
        optional["boot_age"] = float(raw["boot_age"])
    return Site(
        name=name,
        key=str(raw.get("key") or random_key(rng)),
        username=str(raw.get("username", "service")),
        password=str(raw.get("password") or random_key(rng, 16)),
        devices=devices,
        groups=tuple(str(g) for g in raw.get("groups", ())),
        rate=None if raw.get("rate") is None else float(raw["rate"]),
        burst=None if raw.get("burst") is None else int(raw["burst"]),
        pbx_users=tuple(str(u) for u in raw.get("pbx_users", ())),
        **optional,
    )


def _site_to_dict(site: Site) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": site.name,
        "key": site.key,
        "username": site.username,
        "password": site.password,
        "version": site.version,
        "config_time": site.config_time,
        "boot_age": site.boot_age,
        "pbx_users": list(site.pbx_users),
        "groups": list(site.groups),
        "devices": [_device_to_dict(d) for d in site.devices],
    }
    if site.rate is not None:
        out["rate"] = site.rate
    if site.burst is not None:
        out["burst"] = site.burst
    return out


def _device_to_dict(device: Device) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": device.kind, "guid": device.guid, "name": device.name}
    out["comm_obj"] = device.comm_obj
    if device.kind == "light":
        out.update(dimmable=device.dimmable, level=device.level)
    elif device.kind == "blind":
        out.update(height=device.height, angle=device.angle)
    elif device.kind == "thermostat":
        out.update(temperature=device.temperature, setpoint=device.setpoint)
    elif device.kind == "hvac":
        out.update(on=device.on, setpoint=device.setpoint)
    elif device.kind == "scene":
        out["steps"] = [
            {"delay": s.delay, "guid": s.guid, "controller": s.controller, "value": s.value}
            for s in device.steps
        ]
    return out


def _validate(sites: Iterable[Site]) -> None:
    names: set[str] = set()
    keys: set[str] = set()
    for site in sites:
        if site.name in names:
            raise ProjectError(f"duplicate site name {site.name!r}")
        if not site.key.isalnum() or not site.key.isascii() or site.key in keys:
            raise ProjectError(f"site {site.name!r}: key must be unique and alphanumeric")
        names.add(site.name)
        keys.add(site.key)
        guids = {d.guid for d in site.devices}
        if len(guids) != len(site.devices):
            raise ProjectError(f"site {site.name!r}: duplicate device GUIDs")
        for device in site.devices:
            if not is_guid(device.guid):
                raise ProjectError(f"site {site.name!r}: invalid GUID {device.guid!r}")
            for step in device.steps:
                if step.guid not in guids or step.controller not in SCENE_STEP_CONTROLLERS:
                    raise ProjectError(f"site {site.name!r}: bad step in scene {device.guid!r}")
