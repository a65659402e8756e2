"""Project generation and files, parameter rules, and lazily advanced device state."""

from __future__ import annotations

import json
import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thinknx_async.simulator import KINDS, Project, ProjectError, SceneStep, Simulator
from thinknx_async.simulator.api import format_uptime
from thinknx_async.simulator.params import (
    ParamsError,
    format_number,
    parse_decimal,
    parse_form,
    parse_group,
    parse_int,
)
from thinknx_async.simulator.project import Device, Site
from thinknx_async.simulator.simulator import SimulatorConfig
from thinknx_async.simulator.state import SiteState

GUID_CHARS = set(string.ascii_letters + string.digits + "-_")


def test_generation_is_deterministic() -> None:
    a = Project.generate(sites=4, seed=9, devices_per_kind=3)
    assert a == Project.generate(sites=4, seed=9, devices_per_kind=3)
    assert a != Project.generate(sites=4, seed=10, devices_per_kind=3)
    assert len(a.sites) == 4
    for site in a.sites:
        assert len(site.key) == 32
        assert site.key.isalnum()
        assert site.username
        assert len(site.password) == 16
        assert [len(v) for v in site.devices_by_kind().values()] == [3] * len(KINDS)
        for device in site.devices:
            assert len(device.guid) == 22
            assert set(device.guid) <= GUID_CHARS
        assert site.groups
        for group in site.groups:
            parse_group(group)
    assert len({s.key for s in a.sites}) == 4
    custom = Project.generate(sites=1, devices_per_kind={"light": 5})
    assert custom.sites[0].devices_by_kind()["light"].__len__() == 5
    assert custom.sites[0].devices_by_kind()["blind"] == []


def test_json_and_toml_files(tmp_path: Path) -> None:
    project = Project.generate(sites=2, seed=3)
    json_path = tmp_path / "project.json"
    json_path.write_text(json.dumps(project.to_dict()))
    assert Project.load(json_path) == project
    toml_path = tmp_path / "project.toml"
    toml_path.write_text(
        """
[[sites]]
name = "home"
key = "abc123DEF456"
username = "service"
password = "secret"
rate = 2.5
burst = 4
groups = ["1/0/1"]
pbx_users = ["101", "102"]

[[sites.devices]]
kind = "light"
guid = "kitchenLight_000000001"
comm_obj = 12
dimmable = false

[[sites.devices]]
kind = "scene"
guid = "evening-scene_00000001"

[[sites.devices.steps]]
delay = 0
guid = "kitchenLight_000000001"
controller = "power"
value = 1

[[sites.devices]]
kind = "thermostat"
"""
    )
    loaded = Project.load(toml_path)
    site = loaded.site("home")
    assert loaded.site("abc123DEF456") is site
    assert (site.rate, site.burst, site.pbx_users) == (2.5, 4, ("101", "102"))
    light, scene, thermostat = site.devices
    assert not light.dimmable
    assert light.comm_obj == 12
    assert scene.steps == (SceneStep(0.0, light.guid, "power", 1),)
    assert len(thermostat.guid) == 22  # generated, deterministically
    assert Project.load(toml_path) == loaded


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"sites": []},
        {"sites": [{"devices": [{"kind": "toaster"}]}]},
        {"sites": [{"name": "a"}, {"name": "a"}]},
        {"sites": [{"key": "not alnum!"}]},
        {"sites": [{"devices": [{"kind": "light", "guid": "bad guid"}]}]},
        {"sites": [{"devices": [{"kind": "light", "guid": "x"}, {"kind": "blind", "guid": "x"}]}]},
        {
            "sites": [
                {"devices": [{"kind": "scene", "steps": [{"guid": "zz", "controller": "power"}]}]}
            ]
        },
    ],
)
def test_invalid_projects(data: dict[str, object]) -> None:
    with pytest.raises(ProjectError):
        Project.from_dict(data)


def test_parse_form_keeps_bare_flags() -> None:
    assert parse_form(b"guid=a&cmd=1&fb") == {"guid": "a", "cmd": "1", "fb": ""}
    assert parse_form(b"fb=&guid=a") == {"fb": "", "guid": "a"}
    assert parse_form(b"group=1%2F0%2F1&value=1&&x=a+b") == {
        "group": "1/0/1",
        "value": "1",
        "x": "a b",
    }
    assert parse_form(b"cmd=1&cmd=2") == {"cmd": "1"}
    assert parse_form(b"") == {}


def test_value_rules() -> None:
    assert parse_int("0", 0, 1) == 0
    for bad in (None, "", "2", "-1", "1.0", " 1", "\u00b9", "+1"):
        with pytest.raises(ParamsError):
            parse_int(bad, 0, 1)
    assert parse_decimal("20.5") == 20.5
    assert parse_decimal("-0.5") == -0.5
    assert parse_decimal("670760.96") == 670760.96
    for bad in (
        None,
        "",
        "1e-05",
        "1E5",
        "20,5",
        ".5",
        "5.",
        "-",
        "nan",
        "inf",
        "670760.97",
        "--1",
    ):
        with pytest.raises(ParamsError):
            parse_decimal(bad)
    assert parse_group("31/7/255") == "31/7/255"
    assert parse_group("0/2047") == "0/2047"
    for bad in (None, "", "1", "1/0/1/1", "32/0/0", "1/8/0", "1/0/256", "1/2048", "a/b/c", "1//1"):
        with pytest.raises(ParamsError):
            parse_group(bad)
    assert format_number(20.0) == b"20"
    assert format_number(85.235) == b"85.235"
    assert format_uptime(2 * 86400 + 3 * 3600 + 4 * 60 + 59) == "2 days 3 hours 4 min"
    assert format_uptime(61, ("giorni", "ore", "min")) == "0 giorni 0 ore 1 min"


@given(st.decimals(min_value=-671088, max_value=670760, places=2, allow_nan=False))
def test_any_plain_decimal_is_accepted(value: object) -> None:
    text = f"{value:f}"
    assert parse_decimal(text) == pytest.approx(float(text))


def _site_with(*devices: Device) -> Site:
    return Site("s", "k1", "u", "p", devices=devices)


def test_scene_steps_advance_lazily_and_stop() -> None:
    light = Device("light", "light")
    blind = Device("blind", "blind")
    steps = (
        SceneStep(0, "light", "power", 1),
        SceneStep(1, "blind", "heightlevel", 40),
        SceneStep(1, "light", "powerlevel", 20),
    )
    scene = Device("scene", "scene", steps=steps)
    state = SiteState(_site_with(light, blind, scene))
    state.execute("scenelaunch", "scene", 1, now=100.0)
    assert state.status("power", "light", 100.0) == 1  # delay 0: at once
    assert state.status("heightlevel", "blind", 100.9) == 0
    assert state.snapshot("scene", 100.9)["running"] is True
    assert state.status("heightlevel", "blind", 101.0) == 40
    assert state.snapshot("light", 101.5)["level"] == 100
    state.execute("scenelaunch", "scene", 0, now=101.5)  # stop: the last step never runs
    assert state.snapshot("light", 200.0)["level"] == 100
    assert state.snapshot("scene", 200.0) == {
        "guid": "scene",
        "kind": "scene",
        "name": "",
        "running": False,
        "launches": 1,
    }


def test_blind_travel_and_stop() -> None:
    state = SiteState(_site_with(Device("b", "blind")), blind_travel_time=10.0)
    state.execute("updown", "b", 1, now=0.0)  # DOWN: towards 100 %
    assert state.status("heightlevelstatus", "b", 5.0) == 50
    assert state.snapshot("b", 5.0)["moving"] is True
    state.execute("stop", "b", 1, now=6.0)
    assert state.status("heightlevelstatus", "b", 60.0) == 60
    assert state.snapshot("b", 60.0)["moving"] is False
    state.execute("heightlevel", "b", 20, now=60.0)
    assert state.status("heightlevelstatus", "b", 62.0) == 40
    assert state.status("heightlevelstatus", "b", 99.0) == 20


def test_light_levels_and_simulator_lookups() -> None:
    project = Project.generate(sites=2, seed=1)
    sim = Simulator(project, SimulatorConfig(local_ports=0))
    light = project.sites[1].devices_by_kind()["light"][0]
    assert sim.find_device(light).name == "site-2"
    assert sim.device_state(light) == {
        "guid": light,
        "kind": "light",
        "name": "light 1",
        "on": False,
        "level": 0,
    }
    with pytest.raises(KeyError):
        sim.device_state("missing")
    assert sim.by_port == {}
    assert sim.knx_value("site-1", "1/0/1") is None
