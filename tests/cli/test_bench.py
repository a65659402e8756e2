"""``thinknx bench`` as a newcomer runs it: installed transports, progress, help in words."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from thinknx_async.cli import OK, USAGE

from .conftest import cli_env, run_cli

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
