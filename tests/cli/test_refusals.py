"""Every refusal before sending: exit status 2, one readable line on stderr, nothing sent."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from thinknx_async.cli import OK, USAGE
from thinknx_async.simulator import Project, Simulator, SimulatorThread

from .conftest import run_cli


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
        f"error: {inventory}: site 'flat-1': field 'aliases': no alias 'lobyy'"
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
        "error: refusing a relay URL over plain http://: the key would travel in clear text "
        "(add --insecure to allow it)\n"
    )
