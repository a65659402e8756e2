"""The throughput chart of docs/benchmarks.md can be redrawn from the committed tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks._throughput_plot import data_from_tables, plot

ROOT = Path(__file__).resolve().parents[2]
TABLES = ROOT / "benchmarks" / "results" / "throughput.md"

SAMPLE = """\
### One site, 1 in flight

| client | req/s               | p50 ms |
|--------|---------------------|--------|
| a      | 2,238 (2,182-2,270) | 0.42   |
| b      | 900                 | 1.00   |

### One site, 10 in flight

| client | req/s  | p50 ms |
|--------|--------|--------|
| a      | 12,177 | 0.80   |
| b      | 1,000 (990-1,010) | 9.0 |

### Server ceiling (bare asyncio socket client on uvloop, 100 in flight)

| simulator             | req/s                  |
|-----------------------|------------------------|
| one process, one core | 38,702 (38,203-39,200) |
"""


def test_the_tables_read_back_as_numbers() -> None:
    data = data_from_tables(SAMPLE)
    assert data["results"]["a"]["1"]["rps"] == {
        "median": 2238.0, "min": 2182.0, "max": 2270.0, "runs": 2,
    }  # fmt: skip
    assert data["results"]["b"]["1"]["rps"]["min"] == 900.0  # one figure: min = max = median
    assert data["results"]["b"]["10"]["rps"]["max"] == 1010.0
    assert data["server_ceiling_rps"]["median"] == 38702.0


def test_text_without_the_tables_is_refused() -> None:
    with pytest.raises(ValueError, match="no 'One site, N in flight' tables"):
        data_from_tables("### Something else\n\n| a |\n|---|\n| 1 |\n")


def test_the_committed_tables_redraw_the_chart(tmp_path: Path) -> None:
    data = data_from_tables(TABLES.read_text("utf-8"))
    assert len(data["results"]) >= 5
    assert all(set(by_n) == {"1", "10", "100"} for by_n in data["results"].values())
    chart = tmp_path / "throughput.png"
    plot(data, chart)
    assert chart.read_bytes().startswith(b"\x89PNG")
