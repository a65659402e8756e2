"""The real ``thinknx`` command against a running simulator: output, JSON lines, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinknx_async.cli import FAILED, OK, USAGE, main
from thinknx_async.simulator import Project, Simulator, SimulatorThread

from .conftest import json_lines, run_cli, write_inventory


def test_fan_out_over_the_inventory_prints_lines_and_a_summary(
    inventory: Path, sim: Simulator, project: Project
) -> None:
    result = run_cli("light", "on", "lobby", "--all", "-i", str(inventory))
    assert result.returncode == OK, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert ["light", "on", "lobby"] in lines
    assert ["sites", "4"] in lines and ["succeeded", "4"] in lines and ["failed", "0"] in lines
    assert ["429s", "seen", "0"] in lines and ["retries", "0"] in lines
    assert any(line[:1] == ["elapsed"] for line in lines)
    for site in project.sites:
        assert sim.counters.executed(site.devices_by_kind()["light"][0], "power") == 1


def test_json_output_is_one_object_per_outcome_then_a_summary(
    inventory: Path, sim: Simulator
) -> None:
    result = run_cli("--json", "status", "--tag", "even", "-i", str(inventory))
    assert result.returncode == OK, result.stderr
    records = json_lines(result.stdout)
    outcomes, summary = records[:-1], records[-1]
    assert sorted(r["site"] for r in outcomes) == ["flat-2", "flat-4"]
    for record in outcomes:
        assert record["type"] == "outcome" and record["ok"] and record["error"] is None
        assert record["value"]["version"] == "03.02.01.07" and record["attempts"] == 1
    assert summary["type"] == "summary" and summary["exit_code"] == OK
    assert (summary["sites"], summary["succeeded"], summary["failed"]) == (2, 2, 0)


def test_a_failing_site_fails_alone_and_sets_exit_status_1(
    tmp_path: Path, project: Project, server: SimulatorThread, sim: Simulator
) -> None:
    path = write_inventory(tmp_path / "inv.toml", project, server.relay_url, broken="flat-3")
    human = run_cli("scene", "launch", "night", "--all", "-i", str(path))
    assert human.returncode == FAILED
    assert "flat-3: AuthenticationError:" in human.stdout
    lines = [line.split() for line in human.stdout.splitlines()]
    assert ["succeeded", "3"] in lines and ["AuthenticationError", "1"] in lines
    as_json = run_cli("--json", "light", "status", "lobby", "-s", "flat-[23]", "-i", str(path))
    assert as_json.returncode == FAILED
    records = {r.get("site"): r for r in json_lines(as_json.stdout)}
    assert records["flat-3"]["error"]["type"] == "AuthenticationError"
    assert records["flat-2"]["value"] is True  # the night scene switched it on
    assert records[None]["errors"] == {"AuthenticationError": 1}
    assert records[None]["exit_code"] == FAILED


def test_usage_and_inventory_errors_exit_2_and_send_nothing(
    tmp_path: Path, inventory: Path, sim: Simulator
) -> None:
    result = run_cli("status", "-i", str(inventory))
    assert result.returncode == USAGE
    assert "the inventory has 4 sites: choose with --site, --tag or --all" in result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text('[sites.rome]\nmode = "cloud"\nkye = "x"\n')
    result = run_cli("status", "--all", "-i", str(bad))
    assert result.returncode == USAGE
    assert f"{bad}: site 'rome': field 'kye': unknown field" in result.stderr.replace("\n", "")
    result = run_cli("light", "level", "lobby", "150", "--all", "-i", str(inventory))
    assert result.returncode == USAGE and "expected an integer 0..100" in result.stderr
    result = run_cli("status", "--site", "paris", "-i", str(inventory))
    assert result.returncode == USAGE and "no site matches 'paris'" in result.stderr
    assert sim.counters.snapshot()["requests_total"] == 0


def test_one_site_without_inventory(
    server: SimulatorThread, sim: Simulator, project: Project
) -> None:
    site = project.sites[0]
    args = ("--relay", server.relay_url, "--key", site.key, "--insecure")
    result = run_cli("knx", "send-float", "1/0/1", "21.5", *args)
    assert result.returncode == OK, result.stderr
    assert result.stdout.strip() == "✓ relay: sent 1/0/1 = 21.5"
    assert sim.knx_value(site.name, "1/0/1") == 21.5
    refused = run_cli("status", "--relay", server.relay_url, "--key", site.key)
    assert refused.returncode == USAGE and refused.stdout == ""
    assert refused.stderr == (
        "error: refusing a relay URL over plain http://: the key would travel in clear text "
        "(add --insecure to allow it)\n"
    )


def test_every_verb_in_process(
    inventory: Path, sim: Simulator, project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    site = project.sites[0]
    devices = {kind: guids[0] for kind, guids in site.devices_by_kind().items() if guids}
    base = ["-i", str(inventory), "--site", "flat-1", "--no-progress"]
    thermostat = next(d for d in site.devices if d.kind == "thermostat")
    for argv, expected in [
        (["light", "level", "lobby", "40", "--feedback"], "done, status 40"),
        (["light", "status", "lobby"], "on"),
        (["light", "off", "lobby"], "done"),
        (["blind", "height", "shade", "30", "--fb"], "done, status 30"),
        (["blind", "height", "shade"], "30"),
        (["blind", "angle", "shade", "10"], "done"),
        (["blind", "up", "shade"], "done"),
        (["blind", "down", "shade"], "done"),
        (["blind", "stop", "shade"], "done"),
        (["thermostat", "setpoint", "thermo", "20.5"], "done"),
        (["thermostat", "temperature", "thermo"], str(float(thermostat.temperature))),
        (["hvac", "on", devices["hvac"]], "done"),
        (["hvac", "off", devices["hvac"]], "done"),
        (["scene", "launch", "night"], "done"),
        (["scene", "stop", "night"], "done"),
        (["button", "trigger", devices["button"]], "done"),
        (["knx", "send-bit", "1/0/2", "1"], "sent 1/0/2 = 1"),
        (["knx", "send-byte", "1/0/3", "200"], "sent 1/0/3 = 200"),
        (["call", "powerlevel", "guid=lobby", "cmd=70", "--fb"], '"status":70'),
    ]:
        assert main([*argv, *base]) == OK, argv
        out = capsys.readouterr().out
        assert out.startswith("✓ flat-1: ") and expected in out, (argv, out)
    assert sim.device_state(devices["light"])["level"] == 70
    assert main(["light", "on", "nope", *base]) == USAGE  # no site has it: nothing sent
    refusal = capsys.readouterr()
    assert refusal.out == ""
    assert refusal.err.startswith(f"error: {inventory}: site 'flat-1': field 'aliases': no alias ")
    assert main(["sites", "-i", str(inventory), "--tag", "odd"]) == OK
    out = capsys.readouterr().out
    assert "flat-1  relay" in out and "flat-3  relay" in out and "flat-2" not in out
    assert main(["--json", "sites", "-i", str(inventory), "-s", "flat-2"]) == OK
    assert json_lines(capsys.readouterr().out)[0]["aliases"]["lobby"].startswith("light ")
    assert main(["sites"]) == USAGE
    assert main(["status"]) == USAGE
    assert main(["status", "--host", "127.0.0.1"]) == USAGE
    assert main(["status", "--all"]) == USAGE
    assert main(["status", "-c", "0", "-i", str(inventory), "--all"]) == USAGE


def test_simulate_reuses_the_simulator_command(tmp_path: Path) -> None:
    manifest = tmp_path / "sim.json"
    result = run_cli("simulate", "--sites", "2", "--duration", "0.3", "--manifest", str(manifest))
    assert result.returncode == OK, result.stderr
    assert result.stdout.startswith("relay: http://127.0.0.1:")
    assert manifest.is_file()


def test_bench_measures_a_target_and_respects_its_rate_limit(
    server: SimulatorThread, sim: Simulator, project: Project
) -> None:
    site = project.sites[1]
    args = ("--relay", server.relay_url, "--key", site.key, "--insecure")
    bench = ("bench", "--concurrencies", "1,4", "--seconds", "0.5", "--transport", "httpx")
    result = run_cli(*bench, "--rate", "20", "--burst", "2", "--json", *args)
    assert result.returncode == OK, result.stderr
    report = json.loads(result.stdout)
    assert [r["concurrency"] for r in report["results"]] == [1, 4]
    assert all(r["errors"] == 0 and r["requests"] > 0 for r in report["results"])
    # Throttled to the target's 20/s (burst 2): per run at most the burst, the rate over the
    # run, and one more per caller started just before the end; unthrottled it sends hundreds.
    assert all(r["requests"] <= 2 + 20 * 0.5 + r["concurrency"] for r in report["results"])
