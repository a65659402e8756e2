"""The simulator as a separate process (e.g. pinned to its own core for benchmarks)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class SimulatorProcess:
    """Run ``python -m thinknx_async.simulator ARGS`` and wait for its manifest.

    ``cpus`` pins the process with ``taskset`` (Linux), e.g. ``"1"``.
    """

    def __init__(
        self,
        args: Sequence[str] = (),
        cpus: str | None = None,
        startup_timeout: float = 15.0,
        python: str = sys.executable,
    ) -> None:
        self.args = list(args)
        self.cpus = cpus
        self.startup_timeout = startup_timeout
        self.python = python
        self.process: subprocess.Popen[bytes] | None = None
        self._manifest: dict[str, Any] = {}
        self._dir: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> SimulatorProcess:
        """Launch and return once the manifest is written (the server is listening)."""
        self._dir = tempfile.TemporaryDirectory(prefix="thinknx-sim-")
        manifest = Path(self._dir.name) / "manifest.json"
        command = [self.python, "-m", "thinknx_async.simulator", *self.args]
        command += ["--manifest", str(manifest)]
        if self.cpus is not None:
            command = ["taskset", "-c", self.cpus, *command]
        # The child must import this very package, installed or not.
        root = str(Path(__file__).resolve().parents[2])
        path = os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": path}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command, stdout=subprocess.DEVNULL, env=env
        )
        deadline = time.monotonic() + self.startup_timeout
        while not manifest.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("simulator process failed to start")
            time.sleep(0.01)
        self._manifest = json.loads(manifest.read_text())
        return self

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait (then kill) and return the exit status."""
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait()
            self.process = None
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None
        return code

    def manifest(self) -> dict[str, Any]:
        """The manifest the process wrote."""
        return self._manifest

    @property
    def relay_url(self) -> str:
        """Base URL of the relay port."""
        return str(self._manifest["relay_url"])

    @property
    def local_urls(self) -> dict[str, str]:
        """Local-form base URL per site that has one."""
        return {s["name"]: s["local_url"] for s in self._manifest["sites"] if s["local_url"]}
