"""CLI fixtures: a simulator on real sockets and an inventory file pointing at it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from thinknx_async.simulator import Project, Simulator, SimulatorConfig, SimulatorThread

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def project() -> Project:
    """Four sites, one device of each kind."""
    return Project.generate(sites=4, seed=11, devices_per_kind=1)


@pytest.fixture(scope="module")
def server(project: Project) -> Iterator[SimulatorThread]:
    """The simulator on 127.0.0.1, relay form only."""
    with SimulatorThread(Simulator(project, SimulatorConfig(local_ports=0))) as running:
        yield running


@pytest.fixture
def sim(server: SimulatorThread) -> Simulator:
    """The running simulator, reset to its initial state."""
    server.sim.reset()
    return server.sim


def write_inventory(path: Path, project: Project, relay: str, broken: str | None = None) -> Path:
    """An inventory of ``project``'s sites as flat-1..N; ``broken`` gets a wrong key."""
    lines = [
        '[aliases]\nlobby = "light"\nshade = "blind"\nnight = "scene"\nthermo = "thermostat"',
        f'[defaults]\nmode = "relay"\nurl = "{relay}"\nallow_insecure = true',
    ]
    for i, site in enumerate(project.sites, start=1):
        name = f"flat-{i}"
        devices = site.devices_by_kind()
        key = "WrongKey000" if name == broken else site.key
        tag = "even" if i % 2 == 0 else "odd"
        lines.append(
            f'[sites.{name}]\nkey = "{key}"\ntags = ["{tag}"]\n[sites.{name}.aliases]\n'
            f'lobby = "{devices["light"][0]}"\nshade = "{devices["blind"][0]}"\n'
            f'night = "{devices["scene"][0]}"\nthermo = "{devices["thermostat"][0]}"'
        )
    path.write_text("\n\n".join(lines) + "\n")
    return path


@pytest.fixture
def inventory(tmp_path: Path, project: Project, server: SimulatorThread) -> Path:
    """An inventory file of every simulated site."""
    return write_inventory(tmp_path / "thinknx.toml", project, server.relay_url)


def cli_env(pythonpath: Path | None = None) -> dict[str, str]:
    """The environment of a child ``thinknx``: this checkout first on the path (after
    ``pythonpath``), 100 columns, no colour, no ``THINKNX_*`` variable of the caller's."""
    path = str(ROOT) if pythonpath is None else f"{pythonpath}{os.pathsep}{ROOT}"
    env = {**os.environ, "PYTHONPATH": path, "COLUMNS": "100", "NO_COLOR": "1"}
    for name in ("THINKNX_INVENTORY", "THINKNX_KEY", "THINKNX_USERNAME", "THINKNX_PASSWORD"):
        env.pop(name, None)
    return env


def run_cli(
    *args: str, cwd: Path | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m thinknx_async.cli ARGS`` in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "thinknx_async.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
        cwd=cwd or ROOT,
        check=False,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every line of ``text`` as JSON."""
    return [json.loads(line) for line in text.splitlines()]
