"""``thinknx demo``: the embedded simulator serves many flats; the library drives them all."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import anyio
from rich.table import Table

from ..devices import Device, Light
from ..fanout import Summary
from ..inventory import Fleet, Inventory
from ..retry import RetryPolicy
from ..session import Session
from ..simulator import Project, Simulator, SimulatorConfig, SimulatorThread
from ..site import Site
from ..throttle import RateLimit
from ..watch import Change
from .exits import OK
from .render import Ui, summary_table
from .run import run_on_sites
from .targets import UsageError
from .watch import describe_state

__all__ = ["run_demo"]

BROKEN = 13
"""The flat whose inventory entry carries a wrong key, on purpose."""
SERVER_RATE, SERVER_BURST = 2.0, 1
PYTHON = """\
async with Session() as session:
    fleet = Inventory.load("thinknx.toml").select(tags=["building-a"]).open(session)
    report = await session.gather(fleet, lambda site: fleet.scene(site, "night_scene").launch())
    print(report.summary())"""


def demo_inventory(project: Project, relay_url: str) -> Inventory:
    """An inventory of the simulated flats: two aliases, a different GUID on every site."""
    sites: dict[str, Any] = {}
    for number, site in enumerate(project.sites, start=1):
        devices = site.devices_by_kind()
        sites[f"flat-{number:03d}"] = {
            "key": "WrongKey0000" if number == BROKEN else site.key,
            "tags": ["building-a" if number % 2 else "building-b"],
            "aliases": {"night_scene": devices["scene"][0], "lobby_lights": devices["light"][0]},
        }
    data = {
        "aliases": {"night_scene": "scene", "lobby_lights": "light"},
        "defaults": {"mode": "relay", "url": relay_url, "allow_insecure": True},
        "sites": sites,
    }
    return Inventory.from_dict(data, path="demo.toml")


async def _steps(
    args: argparse.Namespace, ui: Ui, inventory: Inventory
) -> list[tuple[str, Summary]]:
    session = Session(rate_limit=RateLimit(rate=5.0, burst=5), retry=RetryPolicy(max_attempts=4))
    rows: list[tuple[str, Summary]] = []
    async with session:
        fleet: Fleet = inventory.open(session)

        async def step(title: str, sites: list[Site], operation: Any, reads: bool) -> None:
            ui.print(f"\n[bold]$ thinknx {title}[/]")
            report = await run_on_sites(
                session, sites, title, operation,
                ui=ui, reads=reads, concurrency=args.demo_concurrency,
            )  # fmt: skip
            summary = report.summary()
            if len(sites) > 3:
                ui.out.print(summary_table(f"thinknx {title}", summary))
            rows.append((title.split(" --")[0], summary))

        everyone, first = list(fleet), list(fleet)[:3]
        await step(
            "scene launch night_scene --all",
            everyone,
            lambda site: fleet.scene(site, "night_scene").launch(),
            reads=False,
        )
        ui.print(
            f"\nEach server accepts {SERVER_RATE:g} requests/s (burst {SERVER_BURST}); the "
            "client is set to 5/s, so the next round meets 429s, slows down and retries."
        )
        await step("status --all", everyone, lambda site: site.server_status(), reads=False)
        ui.print("\nA few reads:")
        await step("status --site 'flat-00[1-3]'", first, lambda s: s.server_status(), True)
        await step(
            "light status lobby_lights --site 'flat-00[1-3]'",
            first,
            lambda site: fleet.light(site, "lobby_lights").is_on(),
            reads=True,
        )
    return rows


async def _watch_step(ui: Ui, inventory: Inventory) -> None:
    """Three flats' lobby lights watched while one is switched with feedback, one without."""
    ui.print("\n[bold]$ thinknx watch lobby_lights --site 'flat-00[1-3]'[/]")
    limit = RateLimit(rate=SERVER_RATE, burst=SERVER_BURST)  # the servers' own figure
    async with Session(rate_limit=limit) as session:
        fleet = inventory.select("flat-00[1-3]").open(session)
        names: dict[Device, str] = {fleet.light(site, "lobby_lights"): site.name for site in fleet}
        with anyio.move_on_after(60) as scope:
            async with session.watch(names, every=60.0) as changes:

                async def next_change() -> Change:
                    async for event in changes:  # a failed poll is tried again: wait it out
                        if isinstance(event, Change):
                            return event
                    raise AssertionError("a watch never ends by itself")

                firsts = [await next_change() for _ in names]
                for event in sorted(firsts, key=lambda e: names[e.device]):
                    ui.print(f"{names[event.device]} lobby_lights: {describe_state(event.new)}")
                for light, how in zip(list(names)[1:], ("with", "without"), strict=True):
                    assert isinstance(light, Light)
                    on = not (light.state is not None and light.state.get("on"))
                    ui.print(f"[dim](switched {'on' if on else 'off'} {how} feedback)[/]")
                    await (light.turn_on if on else light.turn_off)(feedback=how == "with")
                    event = await next_change()
                    old, new = describe_state(event.old), describe_state(event.new)
                    ui.print(f"{names[event.device]} lobby_lights: {old} -> {new}")
        if scope.cancelled_caught:
            ui.note("the watch saw no change in 60 s")


def run_demo(args: argparse.Namespace, ui: Ui) -> int:
    """Serve ``--sites`` simulated flats on 127.0.0.1 and drive them; the exit status."""
    count: int = args.demo_sites
    if count < BROKEN:
        raise UsageError(f"--sites must be at least {BROKEN}, got {count}")
    if args.demo_concurrency < 1:
        raise UsageError(f"--concurrency must be at least 1, got {args.demo_concurrency}")
    project = Project.generate(sites=count, seed=1, devices_per_kind=1)
    config = SimulatorConfig(rate=SERVER_RATE, burst=SERVER_BURST, local_ports=0)
    with SimulatorThread(Simulator(project, config), host="127.0.0.1") as server:
        inventory = demo_inventory(project, server.relay_url)
        ui.print(f"[bold]thinknx demo[/]: {count} flats served by the embedded simulator")
        ui.print(f"relay: {server.relay_url}/{{KEY}}/api/V1/")
        ui.print(
            f"inventory: {len(inventory)} sites, aliases night_scene (scene) and lobby_lights "
            "(light), each a different GUID on every site"
        )
        ui.print(f"flat-{BROKEN:03d} has a wrong key in the inventory, on purpose")
        rows = asyncio.run(_steps(args, ui, inventory))
        asyncio.run(_watch_step(ui, inventory))
    table = Table(title="summary", title_justify="left")
    for column in ("command", "sites", "ok", "failed", "429s", "retries", "elapsed"):
        table.add_column(column, justify="left" if column == "command" else "right")
    for title, summary in rows:
        table.add_row(
            title, str(summary.total), str(summary.succeeded), str(summary.failed),
            str(summary.rate_limited), str(summary.retries), f"{summary.elapsed:.2f} s",
        )  # fmt: skip
    ui.print()
    ui.out.print(table)
    ui.print("\nThe same from Python:\n")
    ui.out.print(PYTHON, markup=False, highlight=False)
    return OK
