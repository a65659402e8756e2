"""The ``thinknx`` command's argument types: each value checked as it is parsed, refused with
a message that says what the argument takes (never an exception's repr)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import ValidationError
from ..knx import GroupAddress, check_byte, format_dpt9

__all__ = [
    "bit",
    "byte",
    "checked",
    "decimal",
    "dpt9",
    "group",
    "param",
    "per_second",
    "percent",
    "positive",
    "positive_number",
    "seconds",
]


def checked(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """``convert`` as an argparse type: its own message, never an exception's repr."""

    def parse(text: str) -> Any:
        try:
            return convert(text)
        except (ValidationError, ValueError) as exc:
            raise argparse.ArgumentTypeError(str(exc) or f"invalid value {text!r}") from None

    parse.__name__ = convert.__name__
    return parse


def _integer(text: str, expected: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"expected {expected}, got {text!r}") from None


def _percent(text: str) -> int:
    value = _integer(text, "an integer 0..100")
    if not 0 <= value <= 100:
        raise ValueError(f"expected an integer 0..100, got {text}")
    return value


def _bit(text: str) -> int:
    if text not in ("0", "1"):
        raise ValueError(f"expected 0 or 1, got {text!r}")
    return int(text)


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"expected a decimal number such as 21.5, got {text!r}") from None
    if not value.is_finite():
        raise ValueError(f"expected a finite decimal number, got {text!r}")
    return value


def _dpt9(text: str) -> Decimal:
    value = _decimal(text)
    format_dpt9(value)
    return value


def _param(text: str) -> tuple[str, str | None]:
    key, sep, value = text.partition("=")
    if not key:
        raise ValueError(f"expected key=value or a bare flag, got {text!r}")
    return key, value if sep else None


percent, bit, dpt9 = checked(_percent), checked(_bit), checked(_dpt9)
decimal, group = checked(_decimal), checked(GroupAddress.parse)
byte = checked(lambda text: check_byte(_integer(text, "an integer 0..255")))
param = checked(_param)


def positive(text: str) -> int:
    """An argparse type: an integer of at least 1."""
    value = checked(lambda t: _integer(t, "an integer of at least 1"))(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer of at least 1, got {text}")
    return int(value)


def positive_number(example: str) -> Callable[[str], float]:
    """An argparse type: a positive, finite number (``example`` shows one in the message)."""

    def number(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {example}, got {text!r}") from None
        if not 0 < value < float("inf"):
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
        return value

    number.__name__ = "number"
    return number


seconds, per_second = (
    positive_number("seconds such as 2.5"),
    positive_number("requests/s such as 5"),
)
