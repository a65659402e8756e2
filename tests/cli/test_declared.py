"""A controller declared in the inventory is a ``thinknx`` verb, with its rule and its help."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from thinknx_async.cli import OK, USAGE
from thinknx_async.simulator import Device, Project, Simulator, SimulatorConfig, SimulatorThread
from thinknx_async.simulator import Site as SimSite
from thinknx_async.simulator.controllers import extra

from .conftest import json_lines, run_cli

HVAC = "Hvac000000000000000001"


@pytest.fixture(scope="module")
def server() -> Iterator[SimulatorThread]:
    project = Project(
        (SimSite("house", "HouseKey1", "service", "pw", devices=(Device(HVAC, "hvac"),)),)
    )
    config = SimulatorConfig(local_ports=0, controllers=(extra("fanspeed", "hvac", high=100),))
    with SimulatorThread(Simulator(project, config)) as running:
        yield running


@pytest.fixture
def inventory(tmp_path: Path, server: SimulatorThread) -> Path:
    server.sim.reset()
    path = tmp_path / "thinknx.toml"
    path.write_text(
        '[controllers.fan]\nname = "fanspeed"\nkind = "hvac"\nrule = "percent"\n'
        'help = "set the fan speed"\n\n'
        f'[sites.house]\nmode = "relay"\nurl = "{server.relay_url}"\nallow_insecure = true\n'
        f'key = "HouseKey1"\naliases = {{ unit = {{ guid = "{HVAC}", kind = "hvac" }} }}\n'
    )
    return path


def test_the_declared_verb_sends_its_controller(server: SimulatorThread, inventory: Path) -> None:
    result = run_cli("-i", str(inventory), "--json", "hvac", "fan", "unit", "60")
    assert result.returncode == OK, result.stderr
    assert [line["ok"] for line in json_lines(result.stdout) if line["type"] == "outcome"] == [True]
    assert server.sim.device_state(HVAC)["fanspeed"] == 60
    assert server.sim.counters.executed(HVAC, "fanspeed") == 1


def test_the_declared_verb_checks_its_rule_and_shows_its_help(
    server: SimulatorThread, inventory: Path
) -> None:
    refused = run_cli("-i", str(inventory), "hvac", "fan", "unit", "101")
    assert refused.returncode == USAGE
    assert "expected an integer 0..100, got 101" in refused.stderr
    shown = run_cli("-i", str(inventory), "hvac", "-h")
    assert shown.returncode == OK
    assert "set the fan speed (fanspeed)" in " ".join(shown.stdout.split())
    assert server.sim.counters.total_executed() == 0
