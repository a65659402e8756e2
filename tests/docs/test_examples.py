"""Every code example of the documentation runs, against the simulator over real sockets.

The examples live in ``docs/examples/*.py`` and the pages include them; a ```` ```python ````
block written in a page (or the README) is run too when the line before it is
``<!-- runnable -->``. Each runs as its own ``python`` process, as a reader would run it, with
the connection settings in the environment variables the examples read:

- ``THINKNX_HOST``, ``THINKNX_PORT``, ``THINKNX_USER``, ``THINKNX_PASSWORD``: the house of
  ``docs/examples/house.toml`` in local form, over plain HTTP;
- ``THINKNX_KEY``, ``THINKNX_RELAY_URL``, ``THINKNX_CA_FILE``: the same house through a relay
  over HTTPS, with a generated CA (also in ``SSL_CERT_FILE``, which ``verify=True`` trusts).

The Thinknx cloud is the HTTPS relay too. An example whose file ends with a ``# Output:``
comment block must print exactly that.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from thinknx_async.simulator import Project, Simulator, SimulatorConfig, SimulatorThread

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
PROJECT = EXAMPLES / "house.toml"
PAGES = [*sorted(DOCS.glob("**/*.md")), ROOT / "README.md"]

FENCE = re.compile(
    r"^(?P<indent> *)```(?P<lang>[\w+-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```", re.M | re.S
)
RUNNABLE = "<!-- runnable -->"
INCLUDE = re.compile(r'--8<--\s+"([^"]+)"')
OUTPUT = "# Output:"

# Runs an example as __main__, with the Thinknx cloud replaced by the simulator's relay.
LAUNCHER = """\
import os, runpy, sys
from thinknx_async import Session
Session.__init__.__kwdefaults__["cloud_url"] = os.environ["DOCS_TEST_CLOUD_URL"]
Session.__init__.__kwdefaults__["allow_insecure"] = True
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@dataclass(frozen=True)
class Block:
    """A fenced code block of a page."""

    page: Path
    line: int
    lang: str
    body: str
    runnable: bool

    @property
    def label(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1].strip()
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(page, line, match["lang"], match["body"], before == RUNNABLE))
    return found


def runnable_blocks() -> list[Block]:
    return [b for page in PAGES for b in blocks(page) if b.runnable]


def expected_output(source: str) -> str | None:
    """The text of a trailing ``# Output:`` comment block, if the source ends with one."""
    lines = source.rstrip().splitlines()
    if OUTPUT not in lines:
        return None
    tail = lines[lines.index(OUTPUT) + 1 :]
    assert all(line.startswith("#") for line in tail), "the output block must end the file"
    return "".join(line.removeprefix("#").removeprefix(" ") + "\n" for line in tail)


@dataclass
class Servers:
    plain: tuple[Simulator, SimulatorThread]
    tls: tuple[Simulator, SimulatorThread]
    env: dict[str, str]

    def reset(self) -> None:
        for sim, _ in (self.plain, self.tls):
            sim.reset()


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    """The documentation's house, locally over HTTP and through a relay over HTTPS."""
    project = Project.load(PROJECT)
    plain = Simulator(project, SimulatorConfig(local_ports=1))
    tls = Simulator(project, SimulatorConfig(local_ports=0, tls=True))
    with SimulatorThread(plain) as plain_server, SimulatorThread(tls) as tls_server:
        site = project.sites[0]
        local = httpx.URL(plain_server.local_urls[site.name])
        assert tls_server.ca_file is not None and local.host and local.port
        env = {k: v for k, v in os.environ.items() if not k.startswith("THINKNX_")}
        env.update(
            THINKNX_HOST=local.host,
            THINKNX_PORT=str(local.port),
            THINKNX_USER=site.username,
            THINKNX_PASSWORD=site.password,
            THINKNX_KEY=site.key,
            THINKNX_RELAY_URL=tls_server.relay_url,
            THINKNX_CA_FILE=tls_server.ca_file,
            SSL_CERT_FILE=tls_server.ca_file,
            DOCS_TEST_CLOUD_URL=tls_server.relay_url,
            PYTHONPATH=str(ROOT),
        )
        env.pop("SSL_CERT_DIR", None)
        yield Servers((plain, plain_server), (tls, tls_server), env)


def run(path: Path, servers: Servers) -> subprocess.CompletedProcess[str]:
    servers.reset()
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", LAUNCHER, str(path)],
        env=servers.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.py")), ids=lambda p: p.name)
def test_example_runs(path: Path, servers: Servers) -> None:
    result = run(path, servers)
    expected = expected_output(path.read_text(encoding="utf-8"))
    if expected is not None:
        assert result.stdout == expected
    secret = servers.env["THINKNX_KEY"]
    assert secret not in result.stdout + result.stderr
    if path.name == "secrets_masking.py":
        assert result.stdout.count("/***/api/V1/") == 2
        assert result.stderr  # it logs at DEBUG: the key must be masked there too


@pytest.mark.parametrize("block", runnable_blocks(), ids=lambda b: b.label)
def test_page_block_runs(block: Block, servers: Servers, tmp_path: Path) -> None:
    assert block.lang in ("python", "py"), f"{block.label}: only python blocks can run"
    script = tmp_path / "block.py"
    script.write_text(block.body, encoding="utf-8")
    result = run(script, servers)
    expected = expected_output(block.body)
    if expected is not None:
        assert result.stdout == expected


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_block_is_executed(page: Path) -> None:
    """A python block is either included from docs/examples or marked runnable."""
    for block in blocks(page):
        if block.lang not in ("python", "py") or block.runnable:
            continue
        included = INCLUDE.findall(block.body)
        assert included and not INCLUDE.sub("", block.body).strip(), (
            f"{block.label}: a python block must include a file of docs/examples "
            f'(--8<-- "name.py") or follow a line "{RUNNABLE}"'
        )
        for name in included:
            assert (EXAMPLES / name).is_file(), f"{block.label}: no docs/examples/{name}"


def test_every_example_is_shown() -> None:
    """No example file is orphaned: each one is included by a page."""
    included = {name for page in PAGES for name in INCLUDE.findall(page.read_text("utf-8"))}
    for path in EXAMPLES.glob("*.py"):
        assert path.name in included, f"docs/examples/{path.name} is included by no page"
