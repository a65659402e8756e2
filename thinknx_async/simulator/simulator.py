"""The simulator object: project, live state, limits, faults and counters, behind one API."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from .auth import DigestAuthority
from .controllers import DeviceController
from .counters import Counters
from .faults import Faults, FaultState
from .house import House, HouseChange
from .personality import Personality
from .project import Project, Site
from .ratelimit import RetryAfterStyle, TokenBucket
from .state import SiteState


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """How the simulator behaves beyond the project itself."""

    rate: float | None = None
    """Requests per second allowed per site (``None``: unlimited). A site's own rate wins."""
    burst: int = 10
    """Bucket size per site (a site's own burst wins)."""
    relay_rate: float | None = None
    """Requests per second for the whole relay port (``None``: unlimited)."""
    relay_burst: int | None = None
    """Bucket size for the relay (defaults to ``burst``)."""
    feedback_delay: float = 0.0
    """Seconds waited before answering a request carrying ``fb``."""
    faults: Faults = field(default_factory=Faults)
    local_ports: int = 1
    """How many sites (the first ones) also answer in local form on their own port."""
    tls: bool = False
    """Serve HTTPS with a generated CA (used by the runner)."""
    retry_after: RetryAfterStyle = "seconds"
    """``Retry-After`` on 429: integer seconds, an HTTP date, or omitted."""
    uptime_language: Literal["en", "it"] = "en"
    """Units in ``serverStatus`` uptimes: ``days hours min`` or ``giorni ore min``."""
    realm: str = "Thinknx"
    digest_algorithms: tuple[str, ...] = ("SHA-256", "MD5")
    """Digest challenges offered, preferred first (clients usually take the first)."""
    blind_travel_time: float = 0.0
    """Seconds a blind takes from 0 to 100 %; 0 moves instantly."""
    local_port_base: int = 5051
    """In-process, local site ``i`` answers requests addressed to port ``local_port_base + i``."""
    personality: Personality = field(default_factory=Personality)
    """Behaviours of other firmware or of a proxy in front (see ``personality.py``)."""
    controllers: tuple[DeviceController, ...] = ()
    """Controllers beyond the spec's section 5 (see :func:`~.controllers.extra`), answered
    like the built-in ones."""
    house: House | None = None
    """House mode: lights switch and temperatures drift by themselves (``None``: off)."""


class DeviceRuntime:
    """A device plus its pre-encoded JSON fragments."""

    __slots__ = ("comm_obj_json", "device", "guid_json", "kind")

    def __init__(self, site: Site, index: int) -> None:
        self.device = site.devices[index]
        self.kind = self.device.kind
        self.guid_json = b'"guid":"' + self.device.guid.encode() + b'"'
        self.comm_obj_json = b'"comm_obj":' + str(self.device.comm_obj).encode()


class SiteRuntime:
    """Everything the request path needs about one site."""

    def __init__(self, site: Site, config: SimulatorConfig) -> None:
        self.site = site
        self.name = site.name
        self.key = site.key
        self.state = SiteState(site, config.blind_travel_time, config.house, time.monotonic())
        self.devices = {d.guid: DeviceRuntime(site, i) for i, d in enumerate(site.devices)}
        rate = site.rate if site.rate is not None else config.rate
        self.rate = rate
        self.burst = site.burst if site.burst is not None else config.burst
        self.bucket = TokenBucket(rate, self.burst) if rate else None


class Simulator:
    """A set of simulated Thinknx servers. Reads and controls are safe from any thread."""

    def __init__(self, project: Project, config: SimulatorConfig | None = None) -> None:
        self.project = project
        self.config = config = config or SimulatorConfig()
        self.counters = Counters()
        self.fault_state = FaultState(config.faults)
        self.personality = config.personality
        """The personality in force (``set_personality`` changes it)."""
        self.digest = DigestAuthority(config.realm, config.digest_algorithms)
        self.sites: list[SiteRuntime] = [SiteRuntime(s, config) for s in project.sites]
        self.by_key: dict[str, SiteRuntime] = {s.key: s for s in self.sites}
        self.by_name: dict[str, SiteRuntime] = {s.name: s for s in self.sites}
        self.local_sites = self.sites[: max(0, config.local_ports)]
        self.by_port: dict[int, SiteRuntime] = {
            config.local_port_base + i: s for i, s in enumerate(self.local_sites)
        }
        relay_burst = config.relay_burst or config.burst
        self.relay_bucket = (
            TokenBucket(config.relay_rate, relay_burst) if config.relay_rate else None
        )
        self.extra_controllers = {c.name: c for c in config.controllers}
        self.started = time.monotonic()
        self.closing = threading.Event()
        self.urls: dict[str, Any] = {"relay_url": None, "ca_file": None, "local": {}}

    # -- faults -------------------------------------------------------------------------------

    @property
    def faults(self) -> Faults:
        """The faults in force."""
        return self.fault_state.faults

    def set_faults(self, faults: Faults) -> None:
        """Replace the faults (reseeds their RNG; restarts a 429 storm if configured)."""
        self.fault_state.set(faults)

    def set_personality(self, personality: Personality) -> None:
        """Switch personality: replies from now on, and connections opened from now on for
        the transport-level behaviours (TLS handshake delay, HTTP/1.0 status line)."""
        self.personality = personality

    # -- state and counters -------------------------------------------------------------------

    def reset_counters(self) -> None:
        """Zero the counters."""
        self.counters.reset()

    def reset(self, state: bool = True, counters: bool = True) -> None:
        """Back to the project's initial state: device state, rate buckets and/or counters."""
        if counters:
            self.counters.reset()
        if state:
            for site in self.sites:
                config = self.config
                site.state = SiteState(
                    site.site, config.blind_travel_time, config.house, time.monotonic()
                )
                if site.bucket is not None:
                    site.bucket.reset()
            if self.relay_bucket is not None:
                self.relay_bucket.reset()

    def find_device(self, guid: str) -> SiteRuntime:
        """The site holding device ``guid``."""
        for site in self.sites:
            if guid in site.devices:
                return site
        raise KeyError(guid)

    def device_state(self, guid: str) -> dict[str, Any]:
        """Current state of a device (scenes and blind travel advanced to now)."""
        return self.find_device(guid).state.snapshot(guid, time.monotonic())

    def house_changes(self, site: str | None = None) -> list[HouseChange]:
        """The changes house mode made by now, oldest first: of one site (by name or key), or
        of every site (in site order)."""
        now = time.monotonic()
        runtimes = self.sites if site is None else [self.by_name.get(site) or self.by_key[site]]
        changes: list[HouseChange] = []
        for runtime in runtimes:
            runtime.state.catch_up(now)
            if runtime.state.house is not None:
                changes.extend(runtime.state.house.log)
        return changes

    def knx_value(self, site: str, group: str) -> float | None:
        """Last value sent to a KNX group address of a site (by name or key)."""
        runtime = self.by_name.get(site) or self.by_key[site]
        return runtime.state.knx.get(group)

    # -- addressing ---------------------------------------------------------------------------

    def bind_local_port(self, port: int, site_name: str) -> None:
        """Make ``port`` answer in local form for a site (used by the server runner)."""
        self.by_port[port] = self.by_name[site_name]

    def manifest(self) -> dict[str, Any]:
        """Where and how to reach every site (see ``docs/simulator.md``)."""
        local: dict[str, str] = self.urls["local"]
        sites = []
        for site in self.sites:
            s = site.site
            sites.append(
                {
                    "name": s.name,
                    "key": s.key,
                    "local_url": local.get(s.name),
                    "username": s.username,
                    "password": s.password,
                    "rate": site.rate,
                    "burst": site.burst,
                    "devices": s.devices_by_kind(),
                    "groups": list(s.groups),
                }
            )
        return {
            "relay_url": self.urls["relay_url"],
            "ca_file": self.urls["ca_file"],
            "sites": sites,
        }
