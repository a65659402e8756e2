"""The launchers themselves: a missing server skips with the reason, a failed start says why."""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path

import pytest

from ._process import (
    ServerProcess,
    ServerStartError,
    ServerUnavailable,
    find_binary,
    start_with_free_ports,
)
from .conftest import started
from .nginx import Limit, LocalRoute, NginxRelay

LISTEN = """
import pathlib, socket, sys, time
sock = socket.socket()
sock.bind(("127.0.0.1", int(sys.argv[1])))
sock.listen()
pathlib.Path(sys.argv[2]).write_text("1")
time.sleep(60)
"""


def test_a_missing_binary_names_the_package_to_install() -> None:
    with pytest.raises(ServerUnavailable, match=r"apt-get install no-such-pkg"):
        find_binary(["no-such-server-binary"], "no-such-pkg")


class _Failing(AbstractContextManager[NginxRelay]):
    """A launcher that fails as a real one would."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __enter__(self) -> NginxRelay:
        raise self.error

    def __exit__(self, *exc_info: object) -> None:
        return None


def test_a_missing_server_is_a_skip_with_the_reason() -> None:
    with ExitStack() as stack, pytest.raises(pytest.skip.Exception) as skipped:
        started(_Failing(ServerUnavailable("nginx not found (install it)")), stack)
    assert "not installed: nginx not found (install it)" in str(skipped.value)


def test_a_server_that_does_not_start_is_a_failure_with_its_log() -> None:
    with ExitStack() as stack, pytest.raises(pytest.fail.Exception) as failed:
        started(_Failing(ServerStartError("nginx exited with 1\n[emerg] bad line")), stack)
    assert "did not start: nginx exited with 1\n[emerg] bad line" in str(failed.value)


def test_an_exiting_server_reports_its_output(tmp_path: Path) -> None:
    process = ServerProcess(
        "demo",
        [sys.executable, "-c", "print('bind() failed: no luck'); raise SystemExit(3)"],
        ports=[1],
        pid_file=tmp_path / "demo.pid",
        logs=[tmp_path / "error.log"],
        directory=tmp_path,
    )
    with pytest.raises(ServerStartError) as failed:
        process.start()
    assert "demo exited with 3" in str(failed.value)
    assert "bind() failed: no luck" in str(failed.value)


def test_a_port_taken_meanwhile_is_tried_again_on_others(tmp_path: Path) -> None:
    tried: list[list[int]] = []

    def launch(ports: list[int]) -> ServerProcess:
        tried.append(ports)
        pid = tmp_path / f"try{len(tried)}.pid"
        code = LISTEN if len(tried) > 1 else "print('Address already in use'); raise SystemExit(1)"
        return ServerProcess(
            "demo",
            [sys.executable, "-c", code, str(ports[0]), str(pid)],
            ports=ports,
            pid_file=pid,
            logs=[],
            directory=tmp_path,
        )

    process = start_with_free_ports(1, launch)
    try:
        assert process.running and len(tried) == 2 and process.ports == tried[1]
    finally:
        process.stop()
    assert not process.running


def test_other_start_failures_are_not_retried(tmp_path: Path) -> None:
    tried: list[list[int]] = []

    def launch(ports: list[int]) -> ServerProcess:
        tried.append(ports)
        code = "print('unknown directive'); raise SystemExit(1)"
        return ServerProcess(
            "demo",
            [sys.executable, "-c", code],
            ports=ports,
            pid_file=tmp_path / "x.pid",
            logs=[],
            directory=tmp_path,
        )

    with pytest.raises(ServerStartError, match="unknown directive"):
        start_with_free_ports(2, launch)
    assert len(tried) == 1 and len(set(tried[0])) == 2


@pytest.mark.parametrize("rate", ["10", "1.5r/s", "0r/s", "10r/h", "r/s"])
def test_limit_takes_nginx_rates_only(rate: str) -> None:
    with pytest.raises(ValueError, match="rate must read like"):
        Limit(rate)


def test_routes_are_checked_before_they_reach_a_config() -> None:
    with pytest.raises(ValueError, match="a key is"):
        LocalRoute("key/../x", "http://127.0.0.1:1", "u", "p")
    with pytest.raises(ValueError, match="origin must be"):
        LocalRoute("KEY", "http://example.com:1", "u", "p")
