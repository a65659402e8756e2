"""``thinknx ... --cluster local:2`` and ``thinknx bench --cluster local:2``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinknx_async.cli import main
from thinknx_async.simulator import Project, SimulatorThread

pytestmark = pytest.mark.timeout(180)


def _write_inventory(path: Path, project: Project, url: str, count: int) -> Path:
    lines = ['[defaults]\nmode = "relay"', f'url = "{url}"', "allow_insecure = true",
             '[aliases]\nlobby = "light"']  # fmt: skip
    for site in project.sites[:count]:
        light = site.devices_by_kind()["light"][0]
        lines += [
            f"[sites.{site.name}]",
            f'key = "{site.key}"',
            f'aliases = {{ lobby = "{light}" }}',
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_verb_runs_on_a_local_cluster(
    server: SimulatorThread, project: Project, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inventory = _write_inventory(tmp_path / "fleet.toml", project, server.relay_url, 40)
    argv = ["--inventory", str(inventory), "--all", "--cluster", "local:2", "--json",
            "--attempts", "1", "light", "on", "lobby"]  # fmt: skip
    assert main(argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = [line for line in lines if line.get("type") == "summary"]
    assert summary and summary[0]["succeeded"] == 40
    for site in project.sites[:40]:
        assert server.sim.counters.executed(site.devices_by_kind()["light"][0], "power") == 1
    assert server.sim.counters.requests() == 40


def test_cluster_needs_an_inventory(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--relay", "http://127.0.0.1:9", "--key", "abc", "--cluster", "local:1", "status"]
    assert main(argv) == 2
    assert "--cluster runs over inventory sites" in capsys.readouterr().err


def test_bench_on_a_local_cluster_merges_the_workers(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["bench", "--cluster", "local:2", "--transport", "httpx", "--concurrencies", "4",
            "--seconds", "0.5", "--json"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)["results"][0]
    assert result["workers"] == 2 and result["concurrency"] == 4
    assert result["requests"] > 0 and result["errors"] == 0
    assert 0 < result["p50_ms"] <= result["p99_ms"]


def test_bench_on_a_remote_cluster_needs_a_target_it_can_reach(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["bench", "--cluster", "tcp://127.0.0.1:1", "--seconds", "0.1"]
    assert main(argv) == 2
    assert "a remote --cluster needs a target" in capsys.readouterr().err
