"""Ctrl-C in the middle of a fan-out: exit status 130, no traceback, no connection left open."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from thinknx_async.cli import INTERRUPTED
from thinknx_async.simulator import Faults, Simulator

from .._wait import until_blocking
from .conftest import ROOT


def _default_sigint() -> None:
    """In the child: Ctrl-C's default action, even when this run ignores SIGINT (as a job
    started in the background by a shell does, and its children inherit)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a child process is POSIX")
@pytest.mark.parametrize("transport", ["httpx", "aiohttp"])
def test_ctrl_c_mid_fan_out_exits_130_cleanly(
    inventory: Path, sim: Simulator, transport: str
) -> None:
    sim.set_faults(Faults(down=True, down_max_hold=120.0))  # held until the client leaves
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "100", "NO_COLOR": "1"}
    command = [sys.executable, "-m", "thinknx_async.cli", "light", "on", "lobby", "--all"]
    command += ["-i", str(inventory), "--transport", transport, "--timeout", "60"]
    child = subprocess.Popen(
        command,
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sigint,
    )
    try:
        until_blocking(lambda: sim.counters.requests() == 4, "every site's request in the server")
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
        sim.set_faults(Faults())
    assert child.returncode == INTERRUPTED, (stdout, stderr)
    assert "interrupted" in stderr
    assert "Traceback" not in stderr + stdout
    until_blocking(lambda: sim.counters.connected == 0, "every connection closed")
    assert sim.counters.total_executed() == 0  # nothing ran: the server was holding them
