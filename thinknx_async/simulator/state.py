"""Live device state of one site, with lazily advanced blinds and scenes.

Nothing here runs in the background: blind travel and scene steps are computed from
timestamps whenever the state is touched, so no task outlives a request.
"""

from __future__ import annotations

import threading
from typing import Any

from .controllers import STATUS_FIELD
from .house import House, HouseLife
from .project import Device, SceneStep, Site


class DeviceState:
    """Mutable state of one device; kind-specific fields are unused by other kinds."""

    __slots__ = (
        "angle",
        "device",
        "extra",
        "height",
        "launches",
        "level",
        "memory",
        "move_t0",
        "on_",
        "scene_due",
        "scene_next",
        "setpoint",
        "target",
        "temperature",
        "triggers",
    )

    def __init__(self, device: Device) -> None:
        self.device = device
        self.level = device.level
        self.memory = device.level or 100
        self.on_ = device.on
        self.height = float(device.height)
        self.target = float(device.height)
        self.move_t0 = 0.0
        self.angle = device.angle
        self.temperature = device.temperature
        self.setpoint = device.setpoint
        self.launches = 0
        self.triggers = 0
        self.scene_next = 0
        self.scene_due = 0.0
        self.extra: dict[str, float] = {}


class SiteState:
    """All device state of one site, guarded by one lock (mutations are short and sync)."""

    def __init__(
        self,
        site: Site,
        blind_travel_time: float = 0.0,
        house: House | None = None,
        start: float = 0.0,
    ) -> None:
        self.site = site
        self.travel = blind_travel_time
        self.lock = threading.Lock()
        self.devices: dict[str, DeviceState] = {d.guid: DeviceState(d) for d in site.devices}
        self.running: list[DeviceState] = []
        self.knx: dict[str, float] = {}
        self.house = None if house is None else HouseLife(house, site.key, self, start)
        """The house's own changes (house mode), or ``None``."""

    # -- blinds -------------------------------------------------------------------------------

    def _height(self, s: DeviceState, now: float) -> float:
        if self.travel <= 0 or s.height == s.target:
            return s.target
        span = (now - s.move_t0) * 100.0 / self.travel
        if s.target > s.height:
            return min(s.target, s.height + span)
        return max(s.target, s.height - span)

    def _move(self, s: DeviceState, target: float, now: float) -> None:
        s.height = self._height(s, now)
        s.target = target
        s.move_t0 = now
        if self.travel <= 0:
            s.height = target

    # -- scenes -------------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        """Run every scene step that fell due by ``now``, in time order."""
        while self.running:
            scene = min(self.running, key=lambda s: s.scene_due)
            if scene.scene_due > now:
                return
            steps = scene.device.steps
            step = steps[scene.scene_next]
            self._apply(step.controller, self.devices[step.guid], step.value, scene.scene_due)
            scene.scene_next += 1
            if scene.scene_next >= len(steps):
                self.running.remove(scene)
            else:
                scene.scene_due += steps[scene.scene_next].delay

    def _launch(self, s: DeviceState, start: bool, now: float) -> None:
        if s in self.running:
            self.running.remove(s)
        if start:
            s.launches += 1
            steps: tuple[SceneStep, ...] = s.device.steps
            if steps:
                s.scene_next = 0
                s.scene_due = now + steps[0].delay
                self.running.append(s)

    def _catch_up(self, now: float) -> None:
        """Run what fell due by ``now``: the house's own changes, then scene steps."""
        if self.house is not None:
            self.house.advance(now)
        if self.running:
            self._advance(now)

    def catch_up(self, now: float) -> None:
        """Bring the state to ``now`` (house changes and scene steps), touching nothing else."""
        with self.lock:
            self._catch_up(now)

    # -- commands -----------------------------------------------------------------------------

    def _apply(self, controller: str, s: DeviceState, value: float, now: float) -> None:
        if controller == "power":
            s.level = (s.memory if s.device.dimmable else 100) if value else 0
        elif controller == "powerlevel":
            s.level = int(value)
            if value:
                s.memory = int(value)
        elif controller == "updown":
            self._move(s, 100.0 if value else 0.0, now)
        elif controller == "stop":
            self._move(s, self._height(s, now), now)
        elif controller == "heightlevel":
            self._move(s, float(value), now)
        elif controller == "blindangle":
            s.angle = int(value)
        elif controller == "setpoint":
            s.setpoint = float(value)
        elif controller == "hvacpower":
            s.on_ = bool(value)
        elif controller == "scenelaunch":
            self._launch(s, bool(value), now)
        elif controller == "trigger":
            s.triggers += 1

    def _status(self, controller: str, s: DeviceState, now: float) -> float:
        name = STATUS_FIELD[controller]
        if name == "on":
            return int(s.level > 0) if s.device.kind == "light" else int(s.on_)
        if name == "height":
            return round(self._height(s, now))
        value: float = getattr(s, name)
        return value

    def execute(
        self, controller: str, guid: str, value: float, now: float, key: str | None = None
    ) -> None:
        """Apply a command (the caller has validated kind and value); ``key``: the state entry
        of a controller beyond the built-in model."""
        with self.lock:
            self._catch_up(now)
            if key is not None:
                self.devices[guid].extra[key] = value
                return
            self._apply(controller, self.devices[guid], value, now)
            if controller == "scenelaunch" and self.running:
                self._advance(now)

    def status(self, controller: str, guid: str, now: float, key: str | None = None) -> float:
        """The value ``controller`` (or the state entry ``key``) reports as ``status``."""
        with self.lock:
            self._catch_up(now)
            if key is not None:
                return self.devices[guid].extra.get(key, 0)
            return self._status(controller, self.devices[guid], now)

    def send_knx(self, group: str, value: float) -> None:
        """Record a telegram sent to a group address."""
        with self.lock:
            self.knx[group] = value

    def snapshot(self, guid: str, now: float) -> dict[str, Any]:
        """A JSON-ready view of one device's state."""
        with self.lock:
            self._catch_up(now)
            s = self.devices[guid]
            kind = s.device.kind
            out: dict[str, Any] = {"guid": guid, "kind": kind, "name": s.device.name}
            if kind == "light":
                out.update(on=s.level > 0, level=s.level)
            elif kind == "blind":
                height = self._height(s, now)
                out.update(height=round(height), angle=s.angle, moving=height != s.target)
            elif kind == "thermostat":
                out.update(temperature=s.temperature, setpoint=s.setpoint)
            elif kind == "hvac":
                out.update(on=s.on_, setpoint=s.setpoint)
            elif kind == "scene":
                out.update(running=s in self.running, launches=s.launches)
            elif kind == "button":
                out.update(triggers=s.triggers)
            out.update(s.extra)
            return out
