"""The simulator's record of house changes as the oracle of what a watch must report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from thinknx_async.simulator import HouseChange, Project


def initial_values(project: Project) -> dict[str, Any]:
    """Each light's on/off and each thermostat's temperature as the project starts them."""
    out: dict[str, Any] = {}
    for site in project.sites:
        for device in site.devices:
            out[device.guid] = device.level > 0 if device.kind == "light" else device.temperature
    return out


def check_reported(
    guid: str, values: Sequence[Any], start_value: Any, log: Sequence[HouseChange], cutoff: float
) -> int:
    """Check one device's reported values against the house's record; the changes checked.

    The first value is what the first read found; every later one must be the house's next
    change of that device, none skipped, none twice; and every change made by ``cutoff`` must
    be among them. Returns how many changes (beyond the first state) were reported.
    """
    oracle = [start_value] + [c.new for c in log if c.guid == guid]
    assert values and values[0] in oracle, (guid, values, oracle)
    start = oracle.index(values[0])
    assert list(values) == oracle[start : start + len(values)], (guid, values, oracle)
    due = sum(1 for c in log if c.guid == guid and c.at <= cutoff)
    assert start + len(values) - 1 >= due, (guid, values, oracle, due)
    return len(values) - 1
