"""Request parameter parsing and value rules, kept free of regex work on the hot path."""

from __future__ import annotations

import math
from urllib.parse import unquote_plus

DPT9_MIN = -671088.64
DPT9_MAX = 670760.96


class ParamsError(ValueError):
    """A parameter is missing or malformed: the server answers 400 ``params errors``."""


def parse_form(raw: bytes) -> dict[str, str]:
    """Parse ``a=1&b=2&fb`` keeping blank and bare names (``fb``, ``fb=``) as ``""``.

    The first occurrence of a name wins, as on most embedded HTTP servers.
    """
    out: dict[str, str] = {}
    if not raw:
        return out
    for part in raw.split(b"&"):
        if not part:
            continue
        name, sep, value = part.partition(b"=")
        key = (
            unquote_plus(name.decode("latin-1")) if b"%" in name or b"+" in name else name.decode()
        )
        if key in out:
            continue
        if not sep or not value:
            out[key] = ""
        elif b"%" in value or b"+" in value:
            out[key] = unquote_plus(value.decode("latin-1"), encoding="utf-8", errors="replace")
        else:
            out[key] = value.decode("latin-1")
    return out


def parse_int(text: str | None, low: int, high: int) -> int:
    """A plain decimal integer (ASCII digits only) within ``low..high``."""
    if text is None or not text.isascii() or not text.isdigit():
        raise ParamsError(text)
    value = int(text)
    if value < low or value > high:
        raise ParamsError(text)
    return value


def parse_decimal(text: str | None, low: float = DPT9_MIN, high: float = DPT9_MAX) -> float:
    """A finite decimal written ``-12.5``: no exponent, no comma, no sign but ``-``."""
    if not text or not text.isascii():
        raise ParamsError(text)
    body = text[1:] if text[0] == "-" else text
    whole, dot, frac = body.partition(".")
    if not whole.isdigit() or (dot and not frac.isdigit()):
        raise ParamsError(text)
    value = float(text)
    if not math.isfinite(value) or value < low or value > high:
        raise ParamsError(text)
    return value


def parse_group(text: str | None) -> str:
    """A KNX group address: ``main/middle/sub`` (31/7/255) or ``main/sub`` (31/2047)."""
    if not text:
        raise ParamsError(text)
    parts = text.split("/")
    if len(parts) == 3:
        limits: tuple[int, ...] = (31, 7, 255)
    elif len(parts) == 2:
        limits = (31, 2047)
    else:
        raise ParamsError(text)
    for part, limit in zip(parts, limits, strict=True):
        parse_int(part, 0, limit)
    return text


def format_number(value: float) -> bytes:
    """A JSON number: integral values without a fraction, others in shortest repr."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value)).encode()
    return repr(value).encode()
