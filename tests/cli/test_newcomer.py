"""The first hour with the command: what each line says, on which stream, with which status."""

from __future__ import annotations

import os
import pty
import re
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

#: Blocks importing aiohttp in a child, as in an environment with the cli extra only.
NO_AIOHTTP = """\
import sys


class _NoAiohttp:
    def find_spec(self, name, path=None, target=None):
        if name == "aiohttp" or name.startswith("aiohttp."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoAiohttp())
"""


def _usage_and_error(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    assert result.returncode == USAGE and result.stdout == ""
    usage, error = result.stderr.splitlines()
    return usage, error


# Refusals before sending: status 2, one line ---------------------------------------------


def test_a_setpoint_that_is_not_a_number(sim: Simulator) -> None:
    usage, error = _usage_and_error(run_cli("thermostat", "setpoint", "X", "abc"))
    assert (
        usage
        == "usage: thinknx thermostat setpoint [-h] [--feedback] ALIAS_OR_GUID CELSIUS [options]"
    )
    assert error == (
        "thinknx thermostat setpoint: error: argument CELSIUS: expected a decimal number such as "
        "21.5, got 'abc'"
    )


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (["light", "level", "X", "150"], "argument PERCENT: expected an integer 0..100, got 150"),
        (
            ["light", "level", "X", "half"],
            "argument PERCENT: expected an integer 0..100, got 'half'",
        ),
        (["knx", "send-byte", "1/0/1", "x"], "argument VALUE: expected an integer 0..255, got 'x'"),
        (["knx", "send-bit", "1/0/1", "2"], "argument VALUE: expected 0 or 1, got '2'"),
        (
            ["status", "-c", "0"],
            "argument -c/--concurrency: expected an integer of at least 1, got 0",
        ),
        (
            ["status", "--timeout", "soon"],
            "argument --timeout: expected seconds such as 2.5, got 'soon'",
        ),
        (["status", "--rate", "-1"], "argument --rate: expected a positive number, got -1"),
    ],
)
def test_bad_values_name_the_argument_and_what_it_takes(argv: list[str], error: str) -> None:
    usage, line = _usage_and_error(run_cli(*argv))
    assert line.endswith(f": error: {error}")
    assert "--inventory" not in usage and usage.endswith("[options]")


def test_a_usage_error_shows_the_verb_at_hand_only() -> None:
    usage, error = _usage_and_error(run_cli("light", "on"))
    assert usage == "usage: thinknx light on [-h] [--feedback] ALIAS_OR_GUID [options]"
    assert error == "thinknx light on: error: the following arguments are required: ALIAS_OR_GUID"
    helped = run_cli("light", "on", "-h")
    assert helped.returncode == OK and "--inventory FILE" in helped.stdout  # all in the help


def test_a_bad_guid_is_refused_before_sending(server: SimulatorThread, sim: Simulator) -> None:
    key = sim.project.sites[0].key
    args = ("--relay", server.relay_url, "--key", key, "--insecure")
    result = run_cli("light", "on", "bad guid!", *args)
    assert (result.returncode, result.stdout) == (USAGE, "")
    assert result.stderr == (
        "error: GUID 'bad guid!' is invalid: 1 to 128 characters of A-Z a-z 0-9 - _\n"
    )
    result = run_cli("call", "power/../x", "guid=abc", *args)
    assert result.returncode == USAGE and result.stderr.startswith("error: controller ")
    assert len(result.stderr.splitlines()) == 1
    assert sim.counters.snapshot()["requests_total"] == 0


def test_an_alias_no_selected_site_has(inventory: Path, sim: Simulator) -> None:
    result = run_cli("light", "on", "lobyy", "--all", "-i", str(inventory))
    assert (result.returncode, result.stdout) == (USAGE, "")
    assert result.stderr.startswith(
        f"error: flat-1: {inventory}: site 'flat-1': field 'aliases': no alias 'lobyy'"
    )
    assert result.stderr.rstrip().endswith("(and 3 more sites)")
    assert len(result.stderr.splitlines()) == 1
    assert sim.counters.snapshot()["requests_total"] == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["status", "--host", "10.0.0.9"], "a local site needs --username and --password"),
        (["status", "--relay", "https://relay.example.com"], "--relay needs --key KEY"),
        (["status", "-i", "."], "error: .: is a directory, not an inventory file"),
        (["status", "--all", "-i", "missing.toml"], "error: missing.toml: no such inventory file"),
        (
            ["status", "--key", "https://relay.example.com/Sekr3t"],
            "error: --key (or $THINKNX_KEY): the Integration Kit key must be letters, digits",
        ),
        (["call"], "error: the following arguments are required: CONTROLLER\n"),
        (["status", "--host", "http://u:Sekr3t@h:5051/x"], "local URL 'http://***@h:5051/x'"),
        (
            ["status", "--host", "h", "--port", "0", "--username", "u", "--password", "p"],
            "port must be an integer 1..65535, got 0",
        ),
        (
            ["--transport", "aiohttp", "status", "--key", "abc", "--rate", "1e999"],
            "argument --rate: expected a positive number",
        ),
    ],
)
def test_target_mistakes_are_one_line(argv: list[str], message: str, tmp_path: Path) -> None:
    result = run_cli(*argv, cwd=tmp_path)
    assert result.returncode == USAGE and result.stdout == ""
    assert message in result.stderr and "Sekr3t" not in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) <= 2


def test_an_empty_inventory(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    result = run_cli("status", "--all", "-i", str(empty))
    assert (result.returncode, result.stdout) == (USAGE, "")
    assert result.stderr.startswith(f"error: {empty}: ") and len(result.stderr.splitlines()) == 1


def test_the_plain_http_hint_names_the_flag_in_bench_too(server: SimulatorThread) -> None:
    key = Project.generate(sites=1, seed=3).sites[0].key
    result = run_cli("bench", "--relay", server.relay_url, "--key", key, "--seconds", "0.5")
    assert (result.returncode, result.stdout) == (USAGE, "")
    assert result.stderr == (
        "error: refusing a relay over plain http://: the key would travel in clear text "
        "(add --insecure to allow it)\n"
    )


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


# bench ----------------------------------------------------------------------------------------


def test_bench_with_only_the_cli_extra(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(NO_AIOHTTP)
    env = cli_env(pythonpath=tmp_path)
    command = [sys.executable, "-m", "thinknx_async.cli", "bench"]
    blocked = subprocess.run([sys.executable, "-c", "import aiohttp"], env=env,
                             capture_output=True, check=False, timeout=30)  # fmt: skip
    assert blocked.returncode != 0  # the child really cannot import it
    result = subprocess.run([*command, "--seconds", "1", "--concurrencies", "1"], env=env,
                            capture_output=True, text=True, check=False, timeout=120)  # fmt: skip
    assert result.returncode == OK, result.stderr
    rows = [line.split() for line in result.stdout.splitlines()]
    assert [row[:2] for row in rows if row and row[0] in ("httpx", "aiohttp")] == [["httpx", "1"]]
    assert result.stderr == "[1/1] httpx, 1 in flight: 1.25 s\n"  # progress, on stderr
    refused = subprocess.run([*command, "--transport", "aiohttp"], env=env, capture_output=True,
                             text=True, check=False, timeout=60)  # fmt: skip
    assert (refused.returncode, refused.stdout) == (USAGE, "")
    assert refused.stderr == (
        "error: --transport aiohttp needs the extra: pip install 'thinknx-async[aiohttp]'\n"
    )
    fan_out = subprocess.run(
        [*command[:-1], "status", "--key", "K", "--transport", "aiohttp"],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert (fan_out.returncode, fan_out.stdout) == (USAGE, "")
    assert fan_out.stderr == refused.stderr  # the flag, not transport='aiohttp'
    helped = subprocess.run([*command, "--help"], env=env, capture_output=True, text=True,
                            check=False, timeout=60)  # fmt: skip
    assert "default: every installed one, here httpx)" in " ".join(helped.stdout.split())


def test_bench_help_reads_in_words() -> None:
    result = run_cli("bench", "--help")
    assert result.returncode == OK
    assert not re.search(r"BENCH_[A-Z]+", result.stdout)
    for words in ("--local HOST|URL", "--port PORT", "--seconds SECONDS", "--guid GUID"):
        assert words in result.stdout


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
