"""KNX value rules: group addresses, the DPT 1, 5 and 9 values the API can send, and the
:class:`Rule` objects that bind each rule to the controllers taking it.

Value types validate on construction, so a value that exists is a value the API accepts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final, Generic, TypeVar

import attrs

from ._numbers import Number, exact_int
from .errors import ValidationError

__all__ = [
    "BYTE",
    "CONFIRM",
    "DECIMAL",
    "DPT9",
    "DPT9_MAX",
    "DPT9_MIN",
    "PERCENT",
    "SETPOINT",
    "SETPOINT_MAX",
    "SETPOINT_MIN",
    "SWITCH",
    "GroupAddress",
    "Rule",
    "choice",
    "format_decimal",
]

T = TypeVar("T")

DPT9_MIN: Final = -671088.64
DPT9_MAX: Final = 670760.96
# The range checked exactly: the floats above are a hair off the decimal bounds (670760.96 as a
# float is 670760.9599999999627...), so comparing against them would refuse the maximum itself.
_DPT9_MIN_EXACT: Final = Decimal("-671088.64")
_DPT9_MAX_EXACT: Final = Decimal("670760.96")
# DPT 9.001 (temperature, °C): the 2-byte float range, bounded below by absolute zero as the
# KNX standard bounds it. A setpoint outside it cannot be a temperature any device holds.
SETPOINT_MIN: Final = -273
SETPOINT_MAX: Final = 670760


@attrs.frozen(slots=True)
class GroupAddress:
    """A KNX group address: 3-level ``main/middle/sub`` or 2-level ``main/sub``.

    3-level: main 0..31, middle 0..7, sub 0..255. 2-level: main 0..31, sub 0..2047.
    Build one with :meth:`parse` from its text form; ``str()`` gives that form back.
    """

    main: int
    middle: int | None
    sub: int

    def __attrs_post_init__(self) -> None:
        for part in (self.main, self.middle, self.sub):
            if part is not None and (type(part) is not int):
                raise ValidationError(f"group address parts must be integers, got {part!r}")
        if not 0 <= self.main <= 31:
            raise ValidationError(f"group address main group {self.main} is outside 0..31")
        if self.middle is None:
            if not 0 <= self.sub <= 2047:
                raise ValidationError(f"2-level group address sub {self.sub} is outside 0..2047")
        else:
            if not 0 <= self.middle <= 7:
                raise ValidationError(f"group address middle group {self.middle} is outside 0..7")
            if not 0 <= self.sub <= 255:
                raise ValidationError(f"group address sub {self.sub} is outside 0..255")

    @classmethod
    def parse(cls, text: str | GroupAddress) -> GroupAddress:
        """Parse ``"1/0/1"`` or ``"1/2047"``; a :class:`GroupAddress` is returned as is."""
        if isinstance(text, GroupAddress):
            return text
        if not isinstance(text, str):
            raise ValidationError(f"group address must be a string, got {type(text).__name__}")
        parts = text.split("/")
        # isdecimal() and isascii() together keep out signs, spaces and non-ASCII digits.
        if len(parts) not in (2, 3) or not all(p.isascii() and p.isdecimal() for p in parts):
            raise ValidationError(f"malformed group address {text!r}: expected main/middle/sub")
        if any(len(p) > 4 for p in parts):
            raise ValidationError(f"malformed group address {text!r}: part too long")
        numbers = [int(p) for p in parts]
        if len(numbers) == 2:
            return cls(numbers[0], None, numbers[1])
        return cls(numbers[0], numbers[1], numbers[2])

    @property
    def is_broadcast(self) -> bool:
        """Whether this is ``0/0/0`` (or ``0/0``): KNX's broadcast, heard by every device."""
        return self.main == 0 and not self.middle and self.sub == 0

    def __str__(self) -> str:
        if self.middle is None:
            return f"{self.main}/{self.sub}"
        return f"{self.main}/{self.middle}/{self.sub}"


def format_decimal(value: float | int | Decimal, *, what: str = "value") -> str:
    """Write a finite number as the API wants it: ``.`` as separator, never exponent notation.

    ``20.5`` -> ``"20.5"``, ``1e-05`` -> ``"0.00001"``, ``-0.0`` -> ``"0"``.
    """
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValidationError(f"{what} must be a number, got {type(value).__name__}")
    if isinstance(value, int):
        try:
            return str(value)
        except ValueError:  # over Python's int-to-text digit limit
            raise ValidationError(f"{what} is too large to send") from None
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValidationError(f"{what} must be finite, got {value!r}")
        value = Decimal(repr(value))  # repr is the shortest text that round-trips
    if not value.is_finite():
        raise ValidationError(f"{what} must be finite, got {value}")
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def check_bit(value: int | bool, *, what: str = "value") -> int:
    """A DPT 1 value: exactly 0 or 1 (``True``/``False`` accepted)."""
    if isinstance(value, bool):
        return int(value)
    if type(value) is not int or value not in (0, 1):
        raise ValidationError(f"{what} must be 0 or 1, got {value!r}")
    return value


def check_byte(value: int) -> int:
    """A DPT 5 value: an integer 0..255."""
    if type(value) is not int or not 0 <= value <= 255:
        raise ValidationError(f"DPT 5 value must be an integer 0..255, got {value!r}")
    return value


def check_percent(value: int, *, what: str) -> int:
    """A percentage the API takes: an integer 0..100."""
    if type(value) is not int or not 0 <= value <= 100:
        raise ValidationError(f"{what} must be an integer 0..100, got {value!r}")
    return value


def format_dpt9(value: float | int | Decimal) -> str:
    """A DPT 9 value within the KNX 2-byte float range, formatted for the wire."""
    text = format_decimal(value, what="DPT 9 value")
    if not _DPT9_MIN_EXACT <= Decimal(text) <= _DPT9_MAX_EXACT:
        raise ValidationError(f"DPT 9 value {_short(text)} is outside {DPT9_MIN}..{DPT9_MAX}")
    return text


def format_setpoint(value: float | int | Decimal) -> str:
    """A temperature setpoint in °C within DPT 9.001's range (-273..670760), for the wire."""
    text = format_decimal(value, what="setpoint")
    if not SETPOINT_MIN <= Decimal(text) <= SETPOINT_MAX:
        raise ValidationError(
            f"setpoint {_short(text)} is outside {SETPOINT_MIN}..{SETPOINT_MAX} °C"
        )
    return text


def _short(text: str) -> str:
    """A number's text for a message, cut when it is absurdly long (1e300 has 301 digits)."""
    return text if len(text) <= 24 else f"{Decimal(text):.3e}"


def check_group(group: str | GroupAddress, *, allow_broadcast: bool) -> GroupAddress:
    """A telegram's destination: ``0/0/0`` (broadcast) only when explicitly allowed."""
    address = GroupAddress.parse(group)
    if address.is_broadcast and not allow_broadcast:
        raise ValidationError(
            f"group address {address} is KNX's broadcast address, heard by every device on the "
            "bus: pass allow_broadcast=True to send to it"
        )
    return address


def check_confirm(value: int | bool, *, what: str = "value") -> int:
    """A confirmation the API requires: exactly 1 (``stop``, ``trigger``)."""
    if check_bit(value, what=what) != 1:
        raise ValidationError(f"{what} must be 1 (it confirms the command), got {value!r}")
    return 1


@attrs.frozen(slots=True)
class Rule(Generic[T]):
    """A value rule: how a controller's value is checked and written, how its state reads back.

    ``low``/``high`` bound an integer rule (``decimal`` rules are written as decimals instead);
    ``text`` says the rule in words, for messages, help and the docs. ``encode(value, what)``
    returns the wire text or raises :class:`~thinknx_async.ValidationError`; ``decode(status)``
    is the typed state a reply's ``status`` stands for, or ``None`` when it breaks the rule.
    """

    name: str
    text: str
    encode: Callable[[Any, str], str] = attrs.field(repr=False)
    decode: Callable[[Number], T | None] = attrs.field(repr=False)
    low: int | None = None
    high: int | None = None
    decimal: bool = False

    def parse(self, text: str) -> Any:
        """A value written on a command line (``"20.5"``, ``"40"``), checked by this rule."""
        try:
            value: Any = Decimal(text) if self.decimal else int(text)
        except (ArithmeticError, ValueError):
            raise ValidationError(f"expected {self.text}, got {text[:40]!r}") from None
        self.encode(value, "value")
        return value


def _whole(low: int, high: int) -> Callable[[Number], int | None]:
    def decode(status: Number) -> int | None:
        whole = exact_int(status)
        return whole if whole is not None and low <= whole <= high else None

    return decode


def _switch(status: Number) -> bool | None:
    whole = _whole(0, 1)(status)
    return None if whole is None else whole == 1


def _number(status: Number) -> float:
    return float(status)


SWITCH: Final[Rule[bool]] = Rule(
    "switch", "0 or 1", lambda v, what: str(check_bit(v, what=what)), _switch, 0, 1
)
CONFIRM: Final[Rule[bool]] = Rule(
    "confirm", "1 (a confirmation)", lambda v, what: str(check_confirm(v, what=what)), _switch, 1, 1
)
PERCENT: Final[Rule[int]] = Rule(
    "percent", "an integer 0..100", lambda v, w: str(check_percent(v, what=w)), _whole(0, 100),
    0, 100,
)  # fmt: skip
BYTE: Final[Rule[int]] = Rule(
    "byte", "an integer 0..255", lambda v, w: str(check_byte(v)), _whole(0, 255), 0, 255
)
SETPOINT: Final[Rule[float]] = Rule(
    "setpoint", f"a decimal °C within {SETPOINT_MIN}..{SETPOINT_MAX}, such as 20.5",
    lambda v, w: format_setpoint(v), _number, decimal=True,
)  # fmt: skip
DPT9: Final[Rule[float]] = Rule(
    "dpt9", f"a decimal within {DPT9_MIN}..{DPT9_MAX}", lambda v, w: format_dpt9(v), _number,
    decimal=True,
)  # fmt: skip
DECIMAL: Final[Rule[float]] = Rule(
    "decimal", "a finite decimal such as 21.5", lambda v, w: format_decimal(v, what=w), _number,
    decimal=True,
)  # fmt: skip


def choice(*values: int, name: str = "choice") -> Rule[int]:
    """A rule taking one of a few integers: an operating mode, a fan speed step."""
    allowed = tuple(sorted({int(v) for v in values}))
    if not allowed or any(type(v) is not int or v < 0 for v in values):
        raise ValidationError("a choice rule needs one or more integers of at least 0")
    shown = ", ".join(map(str, allowed))

    def encode(value: Any, what: str) -> str:
        if type(value) is not int or value not in allowed:
            raise ValidationError(f"{what} must be one of {shown}, got {value!r}")
        return str(value)

    def decode(status: Number) -> int | None:
        whole = exact_int(status)
        return whole if whole in allowed else None

    return Rule(name, f"one of {shown}", encode, decode, allowed[0], allowed[-1])
