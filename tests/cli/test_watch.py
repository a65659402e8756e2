"""``thinknx watch``: changes as JSON lines against the simulator's house, refusals, Ctrl-C."""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from thinknx_async.cli import INTERRUPTED, USAGE
from thinknx_async.simulator import House, Project, Simulator, SimulatorConfig, SimulatorThread

from ..watch._oracle import check_reported, initial_values
from .conftest import json_lines, run_cli
from .test_interrupt import interrupt, start_cli

FIELD = {"light": "on", "thermostat": "temperature"}


@pytest.fixture(scope="module")
def server(project: Project) -> Iterator[SimulatorThread]:
    """The simulator in house mode: a light or a temperature changes every 0.5 s per site."""
    config = SimulatorConfig(local_ports=0, house=House(interval=0.5, seed=3))
    with SimulatorThread(Simulator(project, config)) as running:
        yield running


def test_json_lines_report_the_house_changes_in_order(
    inventory: Path, project: Project, server: SimulatorThread
) -> None:
    done = run_cli("watch", "lobby", "thermo", "--all", "-i", str(inventory), "--every", "0.3",
                   "--duration", "4", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    records = json_lines(done.stdout)
    reported: dict[str, list[Any]] = defaultdict(list)
    for record in records:
        assert record["type"] == "change", record
        assert record["device"] in ("lobby", "thermo") and record["site"].startswith("flat-")
        datetime.fromisoformat(record["when"])
        values = reported[record["guid"]]
        assert (record["old"] is None) == (not values)  # the first of each device has no old
        values.append(record["new"][FIELD[record["kind"]]])
    assert len(reported) == 8  # two devices on each of four sites
    start = initial_values(project)
    log = server.sim.house_changes()
    changes = sum(check_reported(g, v, start[g], log, cutoff=0.0) for g, v in reported.items())
    assert changes >= 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["night", "--all"], "alias 'night' is a scene: it has no state"),
        (["nosuch", "--all"], "no device to watch"),
        (["scene:AAAAAAAAAAAAAAAAAAAAAA", "--all"], "'scene' has no state to watch"),
    ],
)
def test_targets_without_state_are_refused_before_anything_is_sent(
    inventory: Path, sim: Simulator, args: list[str], message: str
) -> None:
    done = run_cli("watch", *args, "-i", str(inventory), "--duration", "1")
    assert done.returncode == USAGE
    assert message in done.stderr
    assert sim.counters.requests() == 0


def test_without_an_inventory_devices_are_kind_and_guid(
    server: SimulatorThread, project: Project
) -> None:
    site = project.sites[0]
    relay = ["--relay", server.relay_url, "--key", site.key, "--insecure"]
    done = run_cli("watch", "lobby", *relay, "--duration", "1")
    assert done.returncode == USAGE and "KIND:GUID" in done.stderr
    guid = site.devices_by_kind()["light"][0]
    done = run_cli("watch", f"light:{guid}", *relay, "--duration", "1", "--json")
    assert done.returncode == 0, done.stderr
    assert json_lines(done.stdout)[0]["guid"] == guid


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_exits_130_without_a_traceback(inventory: Path) -> None:
    child = start_cli("watch", "lobby", "--all", "-i", str(inventory), "--json")
    pipe = child.stdout
    assert pipe is not None
    first: list[str] = []
    stdout, stderr = interrupt(child, lambda: first.append(pipe.readline()))
    assert '"type":"change"' in first[0]
    assert child.returncode == INTERRUPTED, (stdout, stderr)
    assert stderr.splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in stdout + stderr


def test_the_live_table_shows_each_device_state_and_its_last_error() -> None:
    from rich.console import Console

    from thinknx_async import RateLimit, Session
    from thinknx_async.cli.watch import _Table, describe_state
    from thinknx_async.state import State

    session = Session(rate_limit=RateLimit(rate=5.0))
    site = session.on_premise("https://relay.example", "K" * 20, name="flat-1")
    light, blind = site.light("L" * 22), site.blind("B" * 22)
    assert describe_state(None) == "?"
    state = State({"on": True, "level": 40}, 0.0, "read", frozenset({"on"}))
    assert describe_state(state) == "on, level 40 (unconfirmed)"
    assert describe_state(State({"temperature": 21.5}, 0.0, "read")) == "21.5 °C"
    table = _Table({light: "lobby", blind: "shade"})
    table.errors[blind] = "TimeoutError"
    console = Console(width=100, record=True, no_color=True)
    console.print(table.render())
    text = console.export_text()
    assert "flat-1  lobby" in text and "?" in text
    assert "shade" in text and "TimeoutError" in text
