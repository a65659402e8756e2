"""``thinknx demo`` prints what docs/cli.md shows (timings and 429 counts aside)."""

from __future__ import annotations

import re

from thinknx_async.cli import OK

from .conftest import ROOT, run_cli

_VARYING_ROWS = ("429s seen", "retries")


def normalize(text: str) -> list[str]:
    """The transcript's stable content: no ports, timings, 429 or retry counts; lines of one
    fan-out's outcomes in a fixed order (they arrive in completion order)."""
    lines: list[str] = []
    run: list[str] = []
    for raw in text.splitlines():
        line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", raw.rstrip())
        line = re.sub(r"\d+\.\d+ s\b", "T s", line)
        if line.strip().startswith(_VARYING_ROWS):
            line = re.sub(r"\d+$", "N", line)
        if line.startswith("│"):
            cells = line.split("│")
            cells[5:7] = [re.sub(r"\d+", "N", cell) for cell in cells[5:7]]
            line = "│".join(cells)
        if line.startswith("✓"):
            run.append(line)
            continue
        lines.extend(sorted(run))
        run = []
        lines.append(line)
    return [*lines, *sorted(run)]


def documented_transcript() -> str:
    """The ``$ thinknx demo`` console block of docs/cli.md, without its prompt line."""
    doc = (ROOT / "docs" / "cli.md").read_text()
    match = re.search(r"```console\n\$ thinknx demo\n(.*?)```", doc, re.S)
    assert match is not None, "docs/cli.md lost its demo transcript"
    return match.group(1)


def test_normalize_keeps_what_matters() -> None:
    assert normalize("x 127.0.0.1:4000 1.25 s\n 429s seen  3\n✓ b\n✓ a\nz") == [
        "x 127.0.0.1:PORT T s",
        " 429s seen  N",
        "✓ a",
        "✓ b",
        "z",
    ]
    assert normalize("│ status │ 240 │ 239 │ 1 │ 64 │ 64 │ 1.7 s │")[0].endswith(
        "│ 1 │ N │ N │ T s │"
    )


def test_demo_prints_the_documented_transcript() -> None:
    result = run_cli("demo", timeout=55)
    assert result.returncode == OK, result.stderr
    assert result.stderr == ""
    assert normalize(result.stdout) == normalize(documented_transcript())
