"""Known state on the proxies: learned from reads and feedback, shared per GUID and site."""

from __future__ import annotations

import pytest

from thinknx_async import Site
from thinknx_async.simulator import Project, Simulator
from thinknx_async.state import PASSIVE, READS, STATUS_FIELDS, StateStore, store_of

from .conftest import guids

pytestmark = pytest.mark.anyio


async def test_a_read_teaches_every_proxy_of_the_same_device(
    sites: list[Site], project: Project
) -> None:
    site = sites[0]
    guid = guids(project, site, "light")[0]
    assert site.light(guid).state is None
    before = await site.light(guid).is_on()
    state = site.light(guid).state  # another proxy, the same device
    assert state is not None
    assert state.values == {"on": before}
    assert state.source == "read"
    assert state.confirmed
    assert store_of(sites[1]).get(guid) is None  # another site knows nothing of it


async def test_feedback_replies_carry_state_and_commands_without_it_unconfirm(
    sites: list[Site], project: Project, sim: Simulator
) -> None:
    site = sites[0]
    light = site.light(guids(project, site, "light")[0])
    await light.set_level(40, feedback=True)
    state = light.state
    assert state is not None and state.values == {"level": 40, "on": True}  # a level lights it
    assert state.source == "feedback"
    await light.turn_off()  # no feedback: what is known is no longer sure, not changed
    state = light.state
    assert state is not None and state.values == {"level": 40, "on": True}
    assert state.unconfirmed == {"on"} and not state.confirmed
    assert await light.is_on() is False
    state = light.state
    assert state is not None and state.values == {"level": 40, "on": False}
    assert state.confirmed


async def test_every_readable_field_is_learned(sites: list[Site], project: Project) -> None:
    site = sites[0]
    blind = site.blind(guids(project, site, "blind")[0])
    thermostat = site.thermostat(guids(project, site, "thermostat")[0])
    hvac = site.hvac(guids(project, site, "hvac")[0])
    await blind.set_height(30, feedback=True)
    await blind.set_angle(70, feedback=True)
    await blind.down()  # a movement with no status: the height is unsure now
    assert blind.state is not None
    assert blind.state.values == {"height": 30, "angle": 70}
    assert blind.state.unconfirmed == {"height"}
    assert await blind.height() == 100
    assert blind.state.values == {"height": 100, "angle": 70} and blind.state.confirmed
    temperature = await thermostat.temperature()
    await thermostat.set_setpoint(21.5, feedback=True)
    assert thermostat.state is not None
    assert thermostat.state.values == {"temperature": temperature, "setpoint": 21.5}
    await hvac.turn_on(feedback=True)  # no status read: feedback is its only source
    assert hvac.state is not None and hvac.state.values == {"on": True}


async def test_scenes_buttons_and_the_escape_hatch_learn_nothing(
    sites: list[Site], project: Project
) -> None:
    site = sites[0]
    await site.scene(guids(project, site, "scene")[0]).launch()
    await site.button(guids(project, site, "button")[0]).trigger()
    light = guids(project, site, "light")[0]
    await site.call("powerstatus", {"guid": light})
    assert len(store_of(site)) == 0


def test_the_reads_and_fields_agree_with_the_simulator() -> None:
    from thinknx_async.simulator.controllers import STATUS_FIELD

    assert dict(STATUS_FIELDS) == STATUS_FIELD
    assert {kind: read.name for kind, read in READS.items()} == {
        "light": "powerstatus",
        "blind": "heightlevelstatus",
        "thermostat": "actualtemp",
    }
    assert {"hvac"} == PASSIVE


def test_a_status_out_of_range_is_not_learned() -> None:
    store = StateStore()
    assert store.learn("g", "powerstatus", 7, "read", 1.0) is None
    assert store.learn("g", "heightlevelstatus", 101, "read", 1.0) is None
    assert store.get("g") is None
    # a command that ran with an unreadable status: nothing learned, nothing known to unsure
    assert store.learn("g", "powerlevel", 250, "feedback", 1.0) is None
    store.learn("g", "powerlevel", 20, "feedback", 1.0)
    state = store.learn("g", "powerlevel", 250, "feedback", 2.0)
    assert state is not None and state.values == {"level": 20, "on": True}
    assert state.unconfirmed == {"level"}


def test_listeners_hear_every_update_and_can_leave() -> None:
    store = StateStore()
    heard: list[tuple[str, object, object]] = []
    leave = store.subscribe(lambda guid, old, new: heard.append((guid, old, new.values)))
    first = store.learn("g", "actualtemp", 20.5, "read", 1.0)
    store.learn("g", "actualtemp", 20.5, "read", 2.0)
    leave()
    store.learn("g", "actualtemp", 21.0, "read", 3.0)
    assert heard == [("g", None, {"temperature": 20.5}), ("g", first, {"temperature": 20.5})]
