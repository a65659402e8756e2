"""The first hour with the command: results on stdout, diagnostics on stderr, sorted small
selections, the simulator's inventory, a local site by URL."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import pytest

from thinknx_async import Inventory, Session
from thinknx_async.cli import FAILED, OK, USAGE
from thinknx_async.cli.render import Ui
from thinknx_async.cli.run import SORTED_UP_TO, run_on_sites
from thinknx_async.simulator import Faults, Project, Simulator, SimulatorConfig, SimulatorThread
from thinknx_async.simulator.inventory_file import inventory_toml

from .conftest import ROOT, cli_env, json_lines, run_cli

# Results on stdout, diagnostics on stderr ---------------------------------------------------


def _slow_first_site(sim: Simulator) -> None:
    """flat-1 answers last, so completion order is not name order."""
    sim.set_faults(Faults(latency=1.0, sites=(sim.project.sites[0].key,)))


def test_a_small_selection_prints_sorted_results_on_stdout(inventory: Path, sim: Simulator) -> None:
    _slow_first_site(sim)
    try:
        result = run_cli("status", "--all", "-i", str(inventory))
    finally:
        sim.set_faults(Faults())
    assert result.returncode == OK and result.stderr == ""
    results = [line for line in result.stdout.splitlines() if line.startswith("✓")]
    assert [line.split(":")[0] for line in results] == [f"✓ flat-{i}" for i in range(1, 5)]
    assert all(", process up " in line and ", server up " in line for line in results)
    as_json = run_cli("--json", "status", "--all", "-i", str(inventory))
    assert [r.get("site") for r in json_lines(as_json.stdout)] == [
        "flat-1", "flat-2", "flat-3", "flat-4", None,
    ]  # fmt: skip


def _on_a_terminal(argv: list[str], both: bool) -> tuple[str, str]:
    """Run the command with stderr (and stdout, when ``both``) on a terminal; what the pipe
    and the terminal received."""
    master, slave = pty.openpty()
    env = {**cli_env(), "TERM": "xterm"}
    screen: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            if not chunk:
                return
            screen.append(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        child = subprocess.run(
            [sys.executable, "-m", "thinknx_async.cli", *argv],
            stdout=slave if both else subprocess.PIPE,
            stderr=slave,
            env=env,
            cwd=ROOT,
            timeout=60,
            check=False,
        )
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    assert child.returncode == OK
    out = b"" if both else child.stdout
    return out.decode(), b"".join(screen).decode(errors="replace")


def test_results_go_to_stdout_while_the_bar_is_on_a_terminal(
    inventory: Path, sim: Simulator
) -> None:
    _slow_first_site(sim)  # long enough for the bar to be drawn
    try:
        out, screen = _on_a_terminal(["light", "status", "lobby", "--all", "-i", str(inventory)],
                                     both=False)  # fmt: skip
    finally:
        sim.set_faults(Faults())
    assert [line for line in out.splitlines() if line.startswith("✓")] == [
        f"✓ flat-{i}: off" for i in range(1, 5)
    ]
    assert "light status lobby" in screen and "✓" not in screen  # the bar, not the results


def test_both_streams_on_one_terminal_show_every_result(inventory: Path, sim: Simulator) -> None:
    _slow_first_site(sim)
    try:
        _, screen = _on_a_terminal(["light", "status", "lobby", "--all", "-i", str(inventory)],
                                   both=True)  # fmt: skip
    finally:
        sim.set_faults(Faults())
    for i in range(1, 5):
        assert f"✓ flat-{i}: off" in screen


@pytest.mark.anyio
async def test_a_large_fan_out_streams_in_completion_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    count = SORTED_UP_TO + 1
    async with Session() as session:
        sites = [
            session.on_premise("http://127.0.0.1:9", "K", allow_insecure=True, name=f"s-{i:02d}")
            for i in range(count)
        ]
        done = {site: anyio.Event() for site in sites}

        async def last_first(site: Any) -> str:  # each waits for the next one: reverse order
            index = sites.index(site)
            if index + 1 < count:
                await done[sites[index + 1]].wait()
            done[site].set()
            return "x"

        ui = Ui(json_lines=False, verbose=False, progress=False)
        report = await run_on_sites(session, sites, "t", last_first, ui=ui, reads=True,
                                    concurrency=count)  # fmt: skip
        assert report.ok
        streamed = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
        assert streamed == [f"✓ s-{i:02d}" for i in reversed(range(count))]
        await run_on_sites(session, sites[:3], "t", last_first, ui=ui, reads=True,
                           concurrency=3)  # fmt: skip
    assert capsys.readouterr().out.splitlines() == ["✓ s-00: x", "✓ s-01: x", "✓ s-02: x"]


# simulate --write-inventory ---------------------------------------------------------------------


def test_simulate_writes_a_ready_inventory(tmp_path: Path) -> None:
    path = tmp_path / "sim.toml"
    result = run_cli(
        "simulate", "--sites", "2", "--duration", "0.3", "--write-inventory", str(path)
    )
    assert result.returncode == OK, result.stderr
    assert f"inventory: {path}" in result.stdout.splitlines()
    inventory = Inventory.load(path)
    assert inventory.names == ("site-1", "site-1-local", "site-2")
    assert inventory["site-1-local"].mode == "local"
    assert {a.kind for a in inventory["site-2"].aliases.values()} == {
        "light", "blind", "thermostat", "hvac", "scene", "button",
    }  # fmt: skip
    for target in (tmp_path, tmp_path / "no" / "such.toml"):
        refused = run_cli("simulate", "--duration", "0.3", "--write-inventory", str(target))
        assert (refused.returncode, refused.stdout) == (USAGE, "")
        assert refused.stderr.startswith(f"error: --write-inventory {target}: ")


def test_the_written_inventory_drives_every_site(
    tmp_path: Path, server: SimulatorThread, sim: Simulator
) -> None:
    path = tmp_path / "thinknx.toml"
    path.write_text(inventory_toml(sim.project, server.relay_url, server.local_urls, None))
    result = run_cli("light", "on", "light_1", "--all", cwd=tmp_path)
    assert result.returncode == OK, result.stderr
    for site in sim.project.sites:
        assert sim.counters.executed(site.devices_by_kind()["light"][0], "power") == 1


# A local site by URL ----------------------------------------------------------------------------


def test_a_local_site_by_the_url_the_simulator_prints() -> None:
    project = Project.generate(sites=1, seed=5, devices_per_kind=1)
    site = project.sites[0]
    with SimulatorThread(Simulator(project, SimulatorConfig(local_ports=1))) as running:
        url = running.local_urls[site.name]  # http://127.0.0.1:PORT
        host = url.removeprefix("http://")
        spec_form = f"http://{site.username}:{quote(site.password, safe='')}@{host}"
        result = run_cli("status", "--host", spec_form)
        assert result.returncode == OK, result.stderr
        assert result.stdout.startswith("✓ 127.0.0.1: version 03.02.01.07, process up ")
        printed = run_cli("light", "on", site.devices_by_kind()["light"][0], "--host",
                          f"{url}/api/V1/", "--username", site.username, "--password",
                          site.password)  # fmt: skip
        assert (printed.returncode, printed.stdout) == (OK, "✓ 127.0.0.1: done\n")
        wrong = run_cli("status", "--host", f"http://{site.username}:Not-It-4242@{host}")
    assert wrong.returncode == FAILED
    assert wrong.stdout.startswith("✗ 127.0.0.1: AuthenticationError: ")
    assert "Not-It-4242" not in wrong.stdout + wrong.stderr
