"""Reply models: small frozen classes, structured from JSON by one strict cattrs converter.

Tolerant on form, strict on meaning. A number may arrive as a JSON number or as a string that
holds exactly a JSON number (``"1"``, ``"20.5"``); it is read as that number would be, and never
rounded into a field: ``5.7`` or ``"5.7"`` in an integer field is refused. Unknown extra fields
are ignored (servers may add some). A missing or unreadable required field is a
:class:`~thinknx_async.errors.ProtocolError`; an unreadable optional field is ``None``, and the
whole body stays on the result as ``raw``. ``docs/errors.md`` has the table.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import NoneType, UnionType
from typing import Any, TypeVar, Union, get_args, get_origin

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, override

from ._numbers import Number, exact_int, json_type, parse_number
from .errors import ProtocolError

__all__ = ["CommandResult", "KnxResult", "ServerStatus", "parse_uptime", "reply_error", "structure"]

_T = TypeVar("_T")

# The reply's JSON object, kept on every result; not part of its equality, hash or repr.
_raw_field: Any = functools.partial(attrs.field, factory=dict, eq=False, repr=False)


@attrs.frozen(slots=True)
class CommandResult:
    """The reply to a device command or status read."""

    namespace: str
    """The reply's ``namespace``: the controller that answered (``powerlevel``...)."""
    guid: str
    """The GUID of the device the reply is about (the library checks it is the one asked for)."""
    comm_obj: int
    """The KNX communication object behind the device, as the server numbers it."""
    status: Number | None = None
    """The device's state: present in status reads, and in commands sent with ``feedback=True``
    (the server then waited for the device before answering). ``None`` when the reply has none,
    or one that is not a number: the command still ran."""
    raw: Mapping[str, Any] = _raw_field()
    """The reply's JSON object as received, with every field, known or not (read it, do not
    change it); no part of equality, hashing or ``repr``."""


@attrs.frozen(slots=True)
class KnxResult:
    """The reply to a raw KNX telegram: the group address and the value the server sent."""

    namespace: str
    """The reply's ``namespace``: the controller that answered (``system/sendKNXbit``...)."""
    group: str
    """The group address the telegram went to, as the reply writes it (``"1/2/3"``)."""
    value: Number
    """The value the server put on the bus."""
    raw: Mapping[str, Any] = _raw_field()
    """The reply's JSON object as received, with every field, known or not (read it, do not
    change it); no part of equality, hashing or ``repr``."""


@attrs.frozen(slots=True)
class ServerStatus:
    """The server's main facts (``system/serverStatus``), with the spec's field names.

    Uptimes are parsed from English or Italian unit words; the strings as the server wrote
    them are kept beside the parsed values.
    """

    namespace: str
    """The reply's ``namespace``: the controller that answered."""
    version: str
    """The server's software version, as it writes it."""
    process_uptime: timedelta | None
    """How long the Thinknx server process has run, parsed from ``process_uptime_text``
    (``None`` when the text has a form the library does not know)."""
    server_uptime: timedelta | None
    """How long the machine has run since it booted, parsed from ``server_uptime_text``
    (``None`` when the text has a form the library does not know)."""
    config_time: datetime | None
    """The time of the server's configuration, as a naive ``datetime`` in the server's local
    time (``None`` when ``config_time_text`` has a form the library does not know)."""
    connected_clients: int
    """Clients connected to the server now (never negative)."""
    pbx_users: tuple[str, ...]
    """The PBX users the server lists, split from its comma-separated field (empty when it
    lists none, or the field is missing)."""
    process_uptime_text: str
    """``process_uptime`` as the server wrote it (``"2 days 3 hours 4 min"``)."""
    server_uptime_text: str
    """``server_uptime`` as the server wrote it (``"2 giorni 3 ore 4 min"``)."""
    config_time_text: str
    """``config_time`` as the server wrote it (``"12:30:00 2024-05-01"``)."""
    raw: Mapping[str, Any] = _raw_field()
    """The reply's JSON object as received, with every field, known or not (read it, do not
    change it); no part of equality, hashing or ``repr``."""


_UNIT_SECONDS = {
    "d": 86400, "day": 86400, "days": 86400, "giorno": 86400, "giorni": 86400, "gg": 86400,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600, "ora": 3600, "ore": 3600,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60, "minuto": 60, "minuti": 60,
    "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1, "secondo": 1, "secondi": 1,
}  # fmt: skip
_UPTIME_PART = re.compile(r"(\d+)\s*([^\W\d_]+)\.?,?")


def parse_uptime(text: str) -> timedelta | None:
    """``"2 days 3 hours 4 min"`` or ``"2 giorni 3 ore 4 min"`` -> ``timedelta``; else ``None``."""
    rest = text.strip()
    if not rest:
        return None
    total = 0
    for match in _UPTIME_PART.finditer(rest):
        unit = _UNIT_SECONDS.get(match.group(2).lower())
        if unit is None:
            return None
        total += int(match.group(1)) * unit
    if _UPTIME_PART.sub("", rest).strip(" ,"):
        return None  # words or numbers the pattern did not account for
    return timedelta(seconds=total)


def _parse_config_time(text: str) -> datetime | None:
    for form in ("%H:%M:%S %Y-%m-%d", "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text.strip(), form)
        except ValueError:
            continue
    return None


def _structure_number(value: Any, _: Any) -> Number:
    if type(value) is int:
        return value  # the common case, first
    return parse_number(value)


def _structure_int(value: Any, _: Any) -> int:
    if type(value) is int:
        return value  # the common case, first
    number = parse_number(value)
    whole = exact_int(number)
    if whole is None:
        raise ValueError(f"expected an integer, got {number!r}")
    return whole


def _structure_str(value: Any, _: Any) -> str:
    if type(value) is not str:
        raise TypeError(f"expected a string, got {json_type(value)}")
    return value


def _is_optional(kind: Any) -> bool:
    return get_origin(kind) in (Union, UnionType) and NoneType in get_args(kind)


def _optional_hook(kind: Any, converter: cattrs.Converter) -> Any:
    """``X | None``: ``None`` when the value is missing, null or unreadable as an ``X``."""
    inner_type = functools.reduce(operator.or_, (a for a in get_args(kind) if a is not NoneType))
    inner = converter.get_structure_hook(inner_type)

    def structure_optional(value: Any, _: Any) -> Any:
        if value is None:
            return None
        try:
            return inner(value, inner_type)
        except (TypeError, ValueError, cattrs.BaseValidationError):
            return None  # an optional field never fails a reply; ``raw`` keeps what came

    return structure_optional


def _make_converter(*, detailed: bool) -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False, detailed_validation=detailed)
    # cattrs alone would take True for 1 and cut 5.7 to 5: these hooks read numbers exactly.
    converter.register_structure_hook(str, _structure_str)
    converter.register_structure_hook(int, _structure_int)
    converter.register_structure_hook(Number, _structure_number)
    converter.register_structure_hook_factory(_is_optional, _optional_hook)
    for cls in (CommandResult, KnxResult):
        hook = make_dict_structure_fn(
            cls, converter, _cattrs_detailed_validation=detailed, raw=override(omit=True)
        )
        converter.register_structure_hook(cls, hook)
    return converter


# The fast converter serves every reply; the detailed one only words the message of a bad one.
_converter = _make_converter(detailed=False)
_detailed_converter = _make_converter(detailed=True)
_hooks: dict[type[Any], Any] = {}  # the converter's hook per class, looked up once


def _reason(exc: BaseException, _: Any) -> str:
    """What was wrong with one field: the hooks above word their own errors."""
    if isinstance(exc, KeyError):
        return "required field missing"
    return str(exc) or type(exc).__name__


def _describe(data: Any, cls: type[Any]) -> str:
    try:
        _detailed_converter.structure(data, cls)
    except cattrs.BaseValidationError as exc:
        return "; ".join(cattrs.transform_error(exc, path="reply", format_exception=_reason))
    return "invalid reply"  # pragma: no cover - both converters apply the same hooks


def reply_error(message: str) -> ProtocolError:
    """The error for a reply that arrived but breaks the contract.

    The request was sent (so ``attempts`` is at least 1): a caller must not take it for a
    command that never ran.
    """
    error = ProtocolError(message)
    error.attempts = 1
    return error


def structure(data: Any, cls: type[_T], *, what: str) -> _T:
    """Build ``cls`` from a decoded JSON object, or raise :class:`ProtocolError`.

    The object itself is kept on the result as ``raw``.
    """
    if type(data) is not dict and not isinstance(data, Mapping):
        raise reply_error(f"{what}: expected a JSON object, got {type(data).__name__}")
    hook = _hooks.get(cls)
    if hook is None:
        hook = _hooks[cls] = _converter.get_structure_hook(cls)
    try:
        result: _T = hook(data, cls)
    except (KeyError, TypeError, ValueError, cattrs.BaseValidationError) as exc:
        raise reply_error(f"{what}: {_describe(data, cls)}") from exc
    # ``raw`` is left out of the generated hook (no key of the body may fill it) and set here,
    # as attrs itself sets the fields of a frozen instance.
    object.__setattr__(result, "raw", data)
    return result


def structure_server_status(data: Any) -> ServerStatus:
    """Build a :class:`ServerStatus` from the ``system/serverStatus`` body."""
    what = "system/serverStatus reply"
    if not isinstance(data, Mapping):
        raise reply_error(f"{what}: expected a JSON object, got {type(data).__name__}")

    def text(field: str) -> str:
        value = data.get(field)
        if not isinstance(value, str):
            raise reply_error(f"{what}: field {field!r} must be a string, got {value!r:.40}")
        return value

    try:
        clients = _structure_int(data.get("connected_clients"), int)
    except (TypeError, ValueError) as exc:
        raise reply_error(f"{what}: field 'connected_clients': {exc}") from exc
    if clients < 0:
        raise reply_error(f"{what}: field 'connected_clients' is negative ({clients})")
    users = data.get("pbx_users", "")
    if isinstance(users, str):
        pbx = tuple(u.strip() for u in users.split(",") if u.strip())
    elif isinstance(users, list) and all(isinstance(u, str | int) for u in users):
        pbx = tuple(str(u) for u in users)
    else:
        raise reply_error(f"{what}: field 'pbx_users' must be a comma-separated string")
    process, server, config = text("process_uptime"), text("server_uptime"), text("config_time")
    return ServerStatus(
        namespace=text("namespace"),
        version=text("version"),
        process_uptime=parse_uptime(process),
        server_uptime=parse_uptime(server),
        config_time=_parse_config_time(config),
        connected_clients=clients,
        pbx_users=pbx,
        process_uptime_text=process,
        server_uptime_text=server,
        config_time_text=config,
        raw=data,
    )
