"""An inventory's ``[controllers.VERB]`` tables: controllers declared from a server's page."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ._inventory_parse import _Context
from .controllers import DEVICE_KINDS, Controller, declare
from .errors import ValidationError
from .knx import BYTE, DECIMAL, PERCENT, SETPOINT, SWITCH, Rule, choice

__all__ = ["RULES", "parse_controllers"]

#: The rules an inventory names by word; an array of integers is a choice among them.
RULES: Final[Mapping[str, Rule[Any]]] = {
    rule.name: rule for rule in (SWITCH, PERCENT, BYTE, SETPOINT, DECIMAL)
}
_FIELDS: Final = frozenset(
    {"name", "kind", "param", "rule", "idempotent", "feedback", "read", "help"}
)


def _rule(ctx: _Context, value: object, field: str) -> Rule[Any]:
    if isinstance(value, list) and value and all(type(v) is int for v in value):
        try:
            return choice(*value)
        except ValidationError as exc:
            raise ctx.error(exc.message, field) from None
    if isinstance(value, str) and value in RULES:
        return RULES[value]
    words = ", ".join(RULES)
    raise ctx.error(f"expected one of {words}, or an array of integers; got {value!r}", field)


def parse_controllers(data: Mapping[str, Any], path: Path | None) -> tuple[Controller[Any], ...]:
    """The controllers an inventory declares, each checked: ``[controllers.VERB]`` with
    ``kind`` and ``rule`` (``name`` defaults to VERB, ``param`` to ``cmd``)."""
    ctx = _Context(path)
    out = []
    for verb, raw in ctx.table(data.get("controllers", {}), "controllers").items():
        field = f"controllers.{verb}"
        table = ctx.table(raw, field)
        for name in table:
            if name not in _FIELDS:
                raise ctx.error(f"unknown field (expected {', '.join(sorted(_FIELDS))})",
                                f"{field}.{name}")  # fmt: skip
        for name in ("kind", "rule"):
            if name not in table:
                raise ctx.error("missing", f"{field}.{name}")
        kind = ctx.choice(table["kind"], f"{field}.kind", DEVICE_KINDS)
        flags = {
            name: ctx.boolean(table[name], f"{field}.{name}")
            for name in ("idempotent", "feedback", "read")
            if name in table
        }
        try:
            out.append(
                declare(
                    ctx.string(table.get("name", verb), f"{field}.name"),
                    kind,
                    _rule(ctx, table["rule"], f"{field}.rule"),
                    param=ctx.string(table.get("param", "cmd"), f"{field}.param"),
                    verb=verb,
                    help=ctx.string(table["help"], f"{field}.help") if "help" in table else "",
                    **flags,
                )
            )
        except ValidationError as exc:
            raise ctx.error(exc.message, field) from None
    return tuple(out)
