"""Keeping Integration Kit keys and passwords out of every message, log record and cause.

Secrets are masked by where they stand, never by what they are: a text is searched for the
places a key or a password can only be, and just those places become ``***``. Everything else
(a server's own words, a host name, a controller name) stays byte for byte, and nothing depends
on which sites are open, so one site's secrets never change another site's messages.

- a key: the path segment right before ``/api/V1/`` (``https://host/KEY/api/V1/...``);
- a password: in userinfo (``scheme://user:PASSWORD@``) and in a ``pass=`` parameter;
- an ``Authorization`` header value, whole, wherever a header list is printed;
- a Basic credential (``Basic`` and base64 of ``user:password``), wherever it stands.

A filter on the loggers of httpx, httpcore, aiohttp and the library applies the same rules to
every record they emit (its message and its formatted traceback).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dis
import inspect
import logging
import re
from types import FrameType, TracebackType

__all__ = ["MASK", "MaskedError", "masked_chain", "redact"]

MASK = "***"

_KEY = re.compile(r"(?P<pre>(?:^|[^/])/)[^/?#\s'\"<>]+(?=/api/V1/)", re.IGNORECASE)
_USERINFO = re.compile(
    r"(?P<pre>\b[a-z][a-z0-9+.-]*://[^/?#@\s:'\"<>]*:)[^/?#@\s'\"<>]*(?=@)", re.IGNORECASE
)
_PASS = re.compile(r"(?P<pre>(?<![\w%.-])pass=)[^&#\s'\"<>]+", re.IGNORECASE)
# A header list's repr (``'authorization': '...'``, ``(b'authorization', b'...')``): the quoted
# value, whole. A Digest answer is masked too: its response is a hash of the password.
_AUTH_ITEM = re.compile(
    r"(?P<pre>['\"]authorization['\"]\s*[:,]\s*b?)(?P<q>['\"])(?:(?!(?P=q)).)*(?P=q)", re.I
)
# A header line (``Authorization: Basic ...``): the rest of the line.
_AUTH_LINE = re.compile(r"(?P<pre>\bauthorization:\s*(?:basic|digest|bearer)\s)[^\r\n]*", re.I)
_BASIC = re.compile(r"(?P<pre>\bBasic\s+)(?P<token>[A-Za-z0-9+/]{2,}={0,2})(?![\w+/=])")

_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "aiohttp.client",
    "aiohttp.internal",
    "thinknx_async",
)


def _masked_item(match: re.Match[str]) -> str:
    quote = match.group("q")
    return f"{match.group('pre')}{quote}{MASK}{quote}"


def _masked_basic(match: re.Match[str]) -> str:
    """``Basic ***`` when the token really is base64 of ``user:password``; else untouched."""
    token = match.group("token")
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True)
        decoded.decode("utf-8")
    except (binascii.Error, ValueError):  # not base64 of text: an ordinary word
        return match.group(0)
    return f"{match.group('pre')}{MASK}" if b":" in decoded else match.group(0)


def redact(text: str) -> str:
    """``text`` with every key, password and credential masked where it stands."""
    lowered = text.lower()
    if "/api/" in lowered:
        text = _KEY.sub(rf"\g<pre>{MASK}", text)
    if "@" in text:
        text = _USERINFO.sub(rf"\g<pre>{MASK}", text)
    if "pass=" in lowered:
        text = _PASS.sub(rf"\g<pre>{MASK}", text)
    if "authorization" in lowered:
        text = _AUTH_ITEM.sub(_masked_item, text)
        text = _AUTH_LINE.sub(rf"\g<pre>{MASK}", text)
    if "basic" in lowered:
        text = _BASIC.sub(_masked_basic, text)
    return text


class MaskedError(Exception):
    """Stands in an exception chain for an error whose text held a secret.

    Its text is the original's type and text with the secrets masked, its traceback the
    original's; ``original_type`` is the class it stands for.
    """

    def __init__(self, original: BaseException) -> None:
        kind = type(original)
        self.original_type: type[BaseException] = kind
        super().__init__(f"{kind.__module__}.{kind.__qualname__}: {redact(str(original))}")


def _clean(error: BaseException) -> bool:
    try:
        text, shown = str(error), repr(error)
    except Exception:  # a broken __str__ shows nothing worth keeping
        return False
    return redact(text) == text and redact(shown) == shown


_RESUMABLE = inspect.CO_GENERATOR | inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_YIELD = dis.opmap["YIELD_VALUE"]


def _over(frame: FrameType) -> bool:
    """Whether ``frame`` has nothing left to run with its locals: a plain function's frame that
    the error left (clearing a running one only fails), or a generator's or coroutine's not
    stopped at a ``yield``. A suspended one (say, one that caught the error, handed it to
    another task and went on) must keep its frame: clearing it would close it."""
    if not frame.f_code.co_flags & _RESUMABLE:
        return True
    code, at = frame.f_code.co_code, frame.f_lasti
    return 0 <= at < len(code) and code[at] != _YIELD


def _clear_locals(tb: TracebackType | None) -> None:
    """Forget the locals of the frames ``tb`` passed through (they hold raw URLs and headers);
    the frame that caught the error may still run, so it is left alone."""
    tb = tb.tb_next if tb is not None else None
    while tb is not None:
        if _over(tb.tb_frame):
            with contextlib.suppress(RuntimeError):  # still running
                tb.tb_frame.clear()
        tb = tb.tb_next


def masked_chain(error: BaseException, _depth: int = 0) -> BaseException:
    """``error`` fit to be a cause: no secret in any text along its causes and contexts.

    A link whose text holds a secret is replaced by a :class:`MaskedError`; a clean link is
    kept as it is (so ``isinstance`` checks on causes keep working). The frames the chain
    passed through lose their locals.
    """
    _clear_locals(error.__traceback__)
    link = error if _clean(error) else MaskedError(error).with_traceback(error.__traceback__)
    if _depth < 16:
        suppress = error.__suppress_context__
        if error.__cause__ is not None:
            link.__cause__ = masked_chain(error.__cause__, _depth + 1)
        if error.__context__ is not None and error.__context__ is not error.__cause__:
            link.__context__ = masked_chain(error.__context__, _depth + 1)
        elif error.__context__ is not None:
            link.__context__ = link.__cause__
        link.__suppress_context__ = suppress
    else:  # a chain this long is cut, not searched
        link.__cause__ = link.__context__ = None
    return link


class _LogFilter(logging.Filter):
    """Masks the message and the traceback of every record; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # the handler reports a record it cannot format
            return True
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return True


_filter = _LogFilter()
for _name in _LOGGERS:
    logging.getLogger(_name).addFilter(_filter)
