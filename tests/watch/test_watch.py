"""The watch as a stream, in-process: first states, feedback, typed errors, misuse refused."""

from __future__ import annotations

import anyio
import pytest

from thinknx_async import (
    Change,
    Device,
    DeviceNotFoundError,
    Session,
    SessionError,
    Site,
    ValidationError,
    Watch,
    WatchError,
)
from thinknx_async.simulator import Project, Simulator

from .conftest import guids

pytestmark = pytest.mark.anyio


async def test_first_states_then_feedback_changes_then_nothing_more(
    sites: list[Site], project: Project
) -> None:
    site = sites[0]
    lights = [site.light(g) for g in guids(project, site, "light")]
    hvac = site.hvac(guids(project, site, "hvac")[0])
    with anyio.fail_after(30):
        async with site.watch([*lights, hvac], every=0.05) as changes:
            first = [await changes.__anext__() for _ in lights]
            assert {c.device for c in first} == set(lights)
            assert all(isinstance(c, Change) and c.old is None for c in first)
            await hvac.turn_on(feedback=True)  # HVAC units are never polled: feedback tells
            await lights[0].set_level(55, feedback=True)
            seen: dict[Device, Change] = {}
            while len(seen) < 2:
                event = await changes.__anext__()
                assert isinstance(event, Change)
                seen[event.device] = event
    assert seen[hvac].old is None and seen[hvac].new.values == {"on": True}
    assert seen[lights[0]].new.get("level") == 55
    assert seen[lights[0]].new.source == "feedback"


async def test_a_failing_device_is_an_event_and_the_others_go_on(
    sites: list[Site], project: Project
) -> None:
    site = sites[0]
    light = site.light(guids(project, site, "light")[0])
    missing = site.light("NoSuchDeviceAnywhere00")
    errors: list[WatchError] = []
    changes_seen: list[Change] = []
    with anyio.fail_after(30):
        async with site.watch([missing, light], every=0.05, backoff=0.01) as changes:
            async for event in changes:
                if isinstance(event, WatchError):
                    errors.append(event)
                else:
                    changes_seen.append(event)
                if len(errors) >= 2 and changes_seen:
                    break
    assert all(isinstance(e.error, DeviceNotFoundError) for e in errors)
    assert all(e.device == missing for e in errors)
    assert [c.device for c in changes_seen] == [light]
    assert changes.errors >= 2 and changes.polls > changes.errors


async def test_a_command_without_feedback_is_read_back_soon(
    sites: list[Site], project: Project
) -> None:
    site = sites[0]
    light = site.light(guids(project, site, "light")[0])
    await light.turn_off(feedback=True)
    with anyio.fail_after(30):
        async with site.watch([light], every=3600.0) as changes:  # once an hour, normally
            first = await changes.__anext__()
            assert isinstance(first, Change) and first.new.values == {"on": False}
            await light.turn_on()  # unconfirmed: the watch reads it back, not an hour later
            event = await changes.__anext__()
    assert isinstance(event, Change)
    assert event.old is not None and event.old.get("on") is False
    assert event.new.get("on") is True and event.new.source == "read" and event.new.confirmed


async def test_an_unconfirmed_unit_without_a_status_read_is_waited_for_not_polled(
    sites: list[Site], project: Project
) -> None:
    """An HVAC unit switched without feedback stays unconfirmed until feedback says: the
    watch neither polls it (it has no status read) nor stops."""
    site = sites[0]
    light = site.light(guids(project, site, "light")[0])
    hvac = site.hvac(guids(project, site, "hvac")[0])
    with anyio.fail_after(30):
        async with site.watch([light, hvac], every=0.05) as changes:
            assert isinstance(await changes.__anext__(), Change)  # the light's first state
            await hvac.turn_on(feedback=True)
            event = await changes.__anext__()
            assert isinstance(event, Change) and event.device == hvac
            await hvac.turn_off()  # no feedback: unconfirmed, nothing to read it back with
            assert hvac.state is not None and not hvac.state.confirmed
            await light.set_level(20, feedback=True)  # the stream is still alive after it
            while True:
                event = await changes.__anext__()
                assert not isinstance(event, WatchError), event
                if event.device == light and event.new.get("level") == 20:
                    break


async def test_session_watch_spans_sites(
    session: Session, sites: list[Site], project: Project
) -> None:
    devices = [s.thermostat(guids(project, s, "thermostat")[0]) for s in sites]
    with anyio.fail_after(30):
        async with session.watch(devices, every=0.05) as changes:
            firsts = {(await changes.__anext__()).device for _ in devices}
    assert firsts == set(devices)


async def test_misuse_is_refused(session: Session, sites: list[Site], project: Project) -> None:
    site = sites[0]
    light = site.light(guids(project, site, "light")[0])
    with pytest.raises(ValidationError, match="no state to watch"):
        site.watch([site.scene(guids(project, site, "scene")[0])])
    with pytest.raises(ValidationError, match="not a device of"):
        sites[1].watch([light])
    with pytest.raises(ValidationError, match="every"):
        site.watch([light], every=0.0)
    with pytest.raises(ValidationError, match="every"):
        site.watch([light], every={"light": float("nan")})
    with pytest.raises(ValidationError, match="share"):
        site.watch([light], share=1.5)
    with pytest.raises(ValidationError, match="max_backoff"):
        site.watch([light], max_backoff=float("inf"))
    with pytest.raises(ValidationError, match="device proxies"):
        Watch(["guid"])  # type: ignore[list-item]
    watch = site.watch([light])
    with pytest.raises(SessionError, match="enter the watch first"):
        await watch.__anext__()
    async with watch:
        pass
    with pytest.raises(SessionError, match="only once"):
        await watch.__aenter__()
    with pytest.raises(StopAsyncIteration):
        await watch.__anext__()


async def test_a_device_learned_from_feedback_is_not_polled(
    sites: list[Site], project: Project, sim: Simulator
) -> None:
    site = sites[0]
    light = site.light(guids(project, site, "light")[0])
    with anyio.fail_after(30):
        async with site.watch([light], every=3600.0) as changes:
            await changes.__anext__()  # the first read
            await light.set_level(30, feedback=True)
            event = await changes.__anext__()
            assert isinstance(event, Change) and event.new.source == "feedback"
            await anyio.sleep(0.2)  # room for a poll that must not come
            assert changes.polls == 1
    assert sim.counters.requests(controller="powerstatus") == 1
