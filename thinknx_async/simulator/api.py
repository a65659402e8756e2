"""The Integration Kit endpoints (section 5 of the API contract): validation and execution."""

from __future__ import annotations

import json
import time

from .controllers import DEVICE_CONTROLLERS, KNX_CONTROLLERS, DeviceController
from .params import ParamsError, format_number, parse_decimal, parse_group, parse_int
from .responses import DEVICE_NOT_FOUND, IMPOSSIBLE, PARAMS_ERRORS
from .simulator import Simulator, SiteRuntime

Reply = tuple[int, bytes]


SERVER_STATUS = "system/serverStatus"
_PREFIXES = {name: c.prefix for name, c in DEVICE_CONTROLLERS.items()}
_UNITS = {"en": ("days", "hours", "min"), "it": ("giorni", "ore", "min")}


class Executor:
    """Runs one validated command against a site, recording it in the counters."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim

    def device_command(
        self, site: SiteRuntime, spec: DeviceController, params: dict[str, str], now: float
    ) -> tuple[int, bytes, bool]:
        """Execute; returns (status code, body, whether ``fb`` must add a status later)."""
        guid = params.get("guid")
        if not guid:
            return 400, PARAMS_ERRORS, False
        dev = site.devices.get(guid)
        if dev is None:
            return 404, DEVICE_NOT_FOUND, False
        if dev.kind not in spec.kinds or (spec.name == "powerlevel" and not dev.device.dimmable):
            return 400, IMPOSSIBLE, False
        prefix = _PREFIXES.get(spec.name) or spec.prefix
        if spec.read:
            status = site.state.status(spec.name, guid, now, spec.state)
            self.sim.counters.record_executed(guid, spec.name)
            body = b",".join((prefix + dev.guid_json, b'"status":' + format_number(status)))
            return 200, body + b"," + dev.comm_obj_json + b"}", False
        raw = params.get(spec.param or "cmd")
        value: float = 1
        if raw is not None or not spec.optional:
            try:
                value = parse_decimal(raw) if spec.decimal else parse_int(raw, spec.low, spec.high)
            except ParamsError:
                return 400, PARAMS_ERRORS, False
        site.state.execute(spec.name, guid, value, now, spec.state)
        self.sim.counters.record_executed(guid, spec.name)
        wants_status = spec.feedback and "fb" in params
        return 200, prefix + dev.guid_json + b"," + dev.comm_obj_json + b"}", wants_status

    def feedback_body(self, site: SiteRuntime, spec: DeviceController, guid: str) -> bytes:
        """The reply to a command with ``fb``: the state after the feedback delay."""
        dev = site.devices[guid]
        status = site.state.status(spec.name, guid, time.monotonic(), spec.state)
        return (
            (_PREFIXES.get(spec.name) or spec.prefix)
            + dev.guid_json
            + b',"status":'
            + format_number(status)
            + b","
            + dev.comm_obj_json
            + b"}"
        )

    def knx_command(self, site: SiteRuntime, controller: str, params: dict[str, str]) -> Reply:
        """Send a KNX telegram to a group address."""
        low, high, decimal = KNX_CONTROLLERS[controller]
        try:
            group = parse_group(params.get("group"))
            raw = params.get("value")
            value = parse_decimal(raw) if decimal else float(parse_int(raw, low, high))
        except ParamsError:
            return 400, PARAMS_ERRORS
        site.state.send_knx(group, value)
        self.sim.counters.record_knx(group, controller)
        body = b'{"namespace":"%s","group":"%s","value":%s}' % (
            controller.encode(),
            group.encode(),
            format_number(value),
        )
        return 200, body

    def server_status(self, site: SiteRuntime) -> Reply:
        """The ``system/serverStatus`` facts of a site."""
        process = time.monotonic() - self.sim.started
        units = _UNITS[self.sim.config.uptime_language]
        info = {
            "namespace": SERVER_STATUS,
            "version": site.site.version,
            "process_uptime": format_uptime(process, units),
            "server_uptime": format_uptime(process + site.site.boot_age, units),
            "config_time": site.site.config_time,
            "connected_clients": self.sim.counters.connected,
            "pbx_users": ",".join(site.site.pbx_users),
        }
        return 200, json.dumps(info, separators=(",", ":")).encode()


def format_uptime(seconds: float, units: tuple[str, str, str] = _UNITS["en"]) -> str:
    """``"X days X hours X min"`` (or the given unit words)."""
    minutes = int(seconds // 60)
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    return f"{days} {units[0]} {hours} {units[1]} {mins} {units[2]}"
