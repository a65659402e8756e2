"""The throughput chart (``docs/img/throughput.png``): drawn from a run's JSON, or read back
from its printed tables when only those are at hand."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from . import _common as common

__all__ = ["data_from_tables", "plot"]

_CELL = re.compile(r"([\d,.]+)(?: \(([\d,.]+)-([\d,.]+)\))?")


def _stat(cell: str) -> dict[str, float]:
    """A ``median (min-max)`` cell of :func:`tables` back as numbers."""
    match = _CELL.fullmatch(cell.strip())
    if match is None:
        raise ValueError(f"not a median (min-max) cell: {cell!r}")
    median, low, high = (float(v.replace(",", "")) if v else None for v in match.groups())
    assert median is not None
    return {"median": median, "min": low or median, "max": high or median, "runs": 2}


def data_from_tables(text: str) -> dict[str, Any]:
    """What :func:`plot` needs, read back from the printed tables (``results/throughput.md``)
    when the JSON of the run is not at hand: req/s per variant and concurrency, the ceiling."""
    results: dict[str, dict[str, Any]] = {}
    ceiling: dict[str, float] | None = None
    for block in text.split("### ")[1:]:
        title, _, body = block.partition("\n")
        rows = [
            [cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in body.splitlines()[3:]
            if line.startswith("|")
        ]
        if (found := re.fullmatch(r"One site, (\d+) in flight", title.strip())) is not None:
            for name, rps, *_ in rows:
                results.setdefault(name, {})[found.group(1)] = {"rps": _stat(rps)}
        elif title.startswith("Server ceiling"):
            ceiling = _stat(rows[0][1])
    if not results or ceiling is None:
        raise ValueError("no 'One site, N in flight' tables or no server ceiling in the text")
    return {"results": results, "server_ceiling_rps": ceiling}


def plot(data: dict[str, Any], path: Path) -> None:
    """req/s by concurrency for every variant (log-log), with min-max error bars.

    Every line stays visible: each variant has its own colour and marker and is shifted a
    little sideways (lines that agree would otherwise hide one another), and the legend sits
    below the axes, over no line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(data["results"].items())
    levels = sorted(int(n) for n in variants[0][1])
    figure, axes = plt.subplots(figsize=(8, 6.5))
    markers = "osD^vP*Xh"
    colours = [f"C{i}" for i in range(10)]  # the default cycle, one colour per variant
    for number, (name, by_n) in enumerate(variants):
        shift = 1.07 ** (number - (len(variants) - 1) / 2)  # same ratio on the log axis
        xs = [n * shift for n in levels]
        medians = [by_n[str(n)]["rps"]["median"] for n in levels]
        low = [m - by_n[str(n)]["rps"]["min"] for m, n in zip(medians, levels, strict=True)]
        high = [by_n[str(n)]["rps"]["max"] - m for m, n in zip(medians, levels, strict=True)]
        axes.errorbar(
            xs,
            medians,
            yerr=[low, high],
            label=name,
            linestyle="--" if "bare" in name else "-",
            marker=markers[number % len(markers)],
            color=colours[number % len(colours)],
            markersize=6,
            capsize=3,
            alpha=0.9,
        )
    ceiling = data["server_ceiling_rps"]["median"]
    axes.axhline(ceiling, color="grey", linewidth=0.8, linestyle=":")
    axes.text(levels[0] * 0.75, ceiling, " server ceiling", va="bottom", color="grey")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlim(levels[0] * 0.7, levels[-1] * 1.5)
    axes.set_xticks(levels, [str(n) for n in levels])
    axes.set_xlabel("requests in flight")
    axes.set_ylabel("requests/s (median of rounds, bars: min-max)")
    machine = data.get("machine") or common.machine()
    axes.set_title(
        f"One site over HTTP on 127.0.0.1: {machine['nproc']} cores, Python {machine['python']}"
    )
    axes.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    axes.grid(True, which="both", linewidth=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
