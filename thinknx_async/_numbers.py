"""Numbers in replies: a JSON number, or a string holding exactly one, read exactly.

The spec writes reply fields as placeholders and never says whether a number travels as a JSON
number or as text, so both forms are read, and read the same way.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["Number", "exact_int", "json_type", "parse_number"]

Number = int | float

# A JSON number (RFC 8259 section 6) and nothing else: no sign "+", no leading zeros, no spaces,
# no NaN or Infinity, ASCII digits only.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", re.ASCII)
# Up to 2**53 every whole number is exactly one double; past it a double stands for several
# (2**53 + 1 reads as 2**53), so it no longer names the integer the server wrote (I-JSON).
_EXACT_INT_LIMIT = 2**53


def parse_number(value: Any) -> Number:
    """A reply's number: a JSON number, or a string holding exactly one (``"1"``, ``"20.5"``).

    The string is read as the same number written without quotes would be (``"1"`` is ``1``,
    ``"1.0"`` is ``1.0``). Raises ``TypeError`` or ``ValueError`` for anything else: ``true``,
    ``null``, ``" 1"``, ``"+1"``, ``"0x1"``, ``""``, ``"NaN"``, and for numbers that are not
    finite (``NaN``, ``Infinity``, ``1e999``).
    """
    kind = type(value)
    if kind is int:
        return value  # type: ignore[no-any-return]
    if kind is float:
        number = float(value)
    elif kind is str and _JSON_NUMBER.fullmatch(value):
        if not any(c in value for c in ".eE"):
            try:
                return int(value)
            except ValueError:  # past Python's limit on digits
                raise ValueError(f"expected a number, got {len(value)} digits") from None
        number = float(value)
    elif kind is str:
        raise ValueError("expected a number, got a string that is not one")
    else:
        raise TypeError(f"expected a number, got {json_type(value)}")
    if not math.isfinite(number):
        raise ValueError(f"expected a finite number, got {value!r:.20}")
    return number


def exact_int(number: Number) -> int | None:
    """``number`` as an ``int`` when it is exactly a whole number (``3``, ``3.0``), else ``None``.

    JSON does not tell integers from other numbers, so ``3.0`` is ``3``; a fraction never
    rounds (``5.7`` is ``None``), nor does a float too large to name one integer (``1e20``).
    """
    if isinstance(number, float):
        return int(number) if number.is_integer() and abs(number) <= _EXACT_INT_LIMIT else None
    return number if type(number) is int else None


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages (never the value itself)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list | tuple):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, int | float):
        return "a number"
    return type(value).__name__
