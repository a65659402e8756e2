"""The command line, in-process and as a separate process."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from thinknx_async.simulator import SimulatorProcess
from thinknx_async.simulator.cli import build_parser, main, simulator_from_args


def test_parser_builds_the_configured_simulator() -> None:
    args = build_parser().parse_args(
        [
            "--sites",
            "2",
            "--seed",
            "5",
            "--rate",
            "3",
            "--burst",
            "4",
            "--relay-rate",
            "50",
            "--feedback-delay",
            "0.1",
            "--latency",
            "0.01-0.05",
            "--error-rate-before",
            "0.1",
            "--error-rate-after",
            "0.2",
            "--drop-rate",
            "0.3",
            "--local-ports",
            "2",
            "--italian",
        ]
    )
    sim = simulator_from_args(args)
    assert len(sim.project.sites) == 2
    config = sim.config
    assert (config.rate, config.burst, config.relay_rate, config.feedback_delay) == (3, 4, 50, 0.1)
    assert config.local_ports == 2
    assert config.uptime_language == "it"
    faults = config.faults
    assert (faults.latency, faults.latency_max) == (0.01, 0.05)
    assert (faults.error_before_rate, faults.error_after_rate, faults.drop_after_rate) == (
        0.1,
        0.2,
        0.3,
    )
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--latency", "soon"])


def test_main_runs_for_a_duration(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "m.json"
    code = main(["--sites", "2", "--duration", "0.2", "--manifest", str(manifest), "--tls"])
    assert code == 0
    out = capsys.readouterr().out
    assert "relay: https://127.0.0.1:" in out
    assert f"manifest: {manifest}" in out
    data = json.loads(manifest.read_text())
    assert len(data["sites"]) == 2
    assert data["ca_file"]


def test_main_reports_a_bad_project(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"sites": []}')
    assert main(["--project", str(bad), "--duration", "0.1"]) == 2


def test_separate_process_stops_on_sigterm() -> None:
    with SimulatorProcess(["--sites", "2", "--local-ports", "1"]) as process:
        manifest = process.manifest()
        site = manifest["sites"][0]
        r = httpx.get(f"{process.relay_url}/{site['key']}/api/V1/system/serverStatus")
        assert r.status_code == 200
        r = httpx.get(
            f"{process.local_urls[site['name']]}/api/V1/system/serverStatus?auth=basic",
            auth=(site["username"], site["password"]),
        )
        assert r.status_code == 200
        assert process.stop() == 0
