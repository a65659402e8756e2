"""Ctrl-C in the middle of a fan-out: exit status 130, no traceback, no connection left open."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from thinknx_async.cli import INTERRUPTED
from thinknx_async.simulator import Faults, Simulator

from .._wait import until_blocking
from .conftest import ROOT, cli_env


def _default_sigint() -> None:
    """In the child: Ctrl-C's default action, even when this run ignores SIGINT (as a job
    started in the background by a shell does, and its children inherit)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_cli(*args: str) -> subprocess.Popen[str]:
    """``thinknx ARGS`` in a child that Ctrl-C can interrupt, its output piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "thinknx_async.cli", *args],
        env=cli_env(),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )


def interrupt(child: subprocess.Popen[str], ready: Callable[[], object]) -> tuple[str, str]:
    """Ctrl-C to ``child`` once ``ready()`` returns; what it printed (killed if it hangs)."""
    try:
        ready()
        child.send_signal(signal.SIGINT)
        return child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_ctrl_c_mid_fan_out_exits_130_cleanly(
    inventory: Path, sim: Simulator, transport: str
) -> None:
    sim.set_faults(Faults(down=True, down_max_hold=120.0))  # held until the client leaves
    child = start_cli("light", "on", "lobby", "--all", "-i", str(inventory),
                      "--transport", transport, "--timeout", "60")  # fmt: skip
    try:
        stdout, stderr = interrupt(
            child,
            lambda: until_blocking(lambda: sim.counters.requests() == 4, "every request held"),
        )
    finally:
        sim.set_faults(Faults())
    assert child.returncode == INTERRUPTED, (stdout, stderr)
    assert "interrupted" in stderr
    assert "Traceback" not in stderr + stdout
    until_blocking(lambda: sim.counters.connected == 0, "every connection closed")
    assert sim.counters.total_executed() == 0  # nothing ran: the server was holding them


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
def test_ctrl_c_during_the_demo_exits_130_without_a_traceback() -> None:
    child = start_cli("demo")
    pipe = child.stdout
    assert pipe is not None
    first: list[str] = []  # once the demo has started: its 429 waits take seconds
    stdout, stderr = interrupt(child, lambda: first.append(pipe.readline()))
    assert first[0].startswith("thinknx demo: 240 flats")
    assert child.returncode == INTERRUPTED, (stdout, stderr)
    assert stderr.splitlines()[-1] == "error: interrupted"
    assert "Traceback" not in stdout + stderr and "Exception" not in stderr
