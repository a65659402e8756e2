"""The ``thinknx`` argument parser: one subcommand per device kind, plus status, call, sites,
simulate and demo."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from ..errors import ValidationError
from ..knx import GroupAddress, check_byte, format_dpt9

__all__ = ["build_parser"]

#: Per device kind: action -> (help, takes a value, value help, has --feedback).
ACTIONS: dict[str, dict[str, tuple[str, str | None, bool]]] = {
    "light": {
        "on": ("switch on (power cmd=1)", None, True),
        "off": ("switch off (power cmd=0)", None, True),
        "status": ("read on/off (powerstatus)", None, False),
        "level": ("set the dimming level (powerlevel)", "percent", True),
    },
    "blind": {
        "up": ("move up (updown cmd=0)", None, False),
        "down": ("move down (updown cmd=1)", None, False),
        "stop": ("stop moving (stop cmd=1)", None, False),
        "height": (
            "set the height, or read it with no value (heightlevel[status])",
            "percent?",
            True,
        ),
        "angle": ("set the slat angle (blindangle)", "percent", True),
    },
    "thermostat": {
        "temperature": ("read the measured temperature (actualtemp)", None, False),
        "setpoint": ("set the target temperature (setpoint)", "celsius", True),
    },
    "hvac": {
        "on": ("switch on (hvacpower cmd=1)", None, True),
        "off": ("switch off (hvacpower cmd=0)", None, True),
    },
    "scene": {
        "launch": ("start the scene (scenelaunch cmd=1)", None, False),
        "stop": ("stop its remaining steps (scenelaunch cmd=0)", None, False),
    },
    "button": {"trigger": ("fire the button's actions (trigger)", None, False)},
}
READ_ACTIONS = frozenset({("light", "status"), ("thermostat", "temperature")})


def _checked(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return convert(text)
        except (ValidationError, ValueError, InvalidOperation) as exc:
            raise argparse.ArgumentTypeError(str(exc) or f"invalid value {text!r}") from None

    parse.__name__ = convert.__name__
    return parse


def _percent(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 100:
        raise ValueError(f"expected an integer 0..100, got {text}")
    return value


def _bit(text: str) -> int:
    if text not in ("0", "1"):
        raise ValueError(f"expected 0 or 1, got {text}")
    return int(text)


def _decimal(text: str) -> Decimal:
    value = Decimal(text)
    if not value.is_finite():
        raise ValueError(f"expected a finite decimal, got {text}")
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


percent, bit, dpt9 = _checked(_percent), _checked(_bit), _checked(_dpt9)
decimal, group = _checked(_decimal), _checked(GroupAddress.parse)
byte, param = _checked(lambda text: check_byte(int(text))), _checked(_param)


def _common(parser: argparse.ArgumentParser, suppress: bool) -> None:
    """Target and output options; on sub-commands their defaults are suppressed so that they
    may be written before or after the verb."""

    def add(*flags: str, default: Any = None, **kwargs: Any) -> None:
        parser.add_argument(*flags, default=argparse.SUPPRESS if suppress else default, **kwargs)

    env = os.environ.get
    add(
        "-i",
        "--inventory",
        metavar="FILE",
        default=env("THINKNX_INVENTORY"),
        help="inventory TOML file (default $THINKNX_INVENTORY, else ./thinknx.toml)",
    )
    add(
        "-s",
        "--site",
        action="append",
        metavar="NAME|GLOB",
        dest="sites",
        help="select inventory sites by name or glob (repeatable)",
    )
    add(
        "-t",
        "--tag",
        action="append",
        metavar="TAG",
        dest="tags",
        help="select inventory sites carrying TAG (repeatable)",
    )
    add(
        "-a",
        "--all",
        action="store_true",
        dest="all_sites",
        default=False,
        help="select every inventory site",
    )
    add(
        "--key",
        metavar="KEY",
        default=env("THINKNX_KEY"),
        help="one site without inventory: its Integration Kit key ($THINKNX_KEY); cloud unless"
        " --relay is given",
    )
    add("--relay", metavar="URL", help="one site through this relay (with --key)")
    add("--host", metavar="HOST", help="one local site at HOST (with --username, --password)")
    add("--port", type=int, default=5051, help="local port (default 5051)")
    add("--username", default=env("THINKNX_USERNAME"), help="local user ($THINKNX_USERNAME)")
    add("--password", default=env("THINKNX_PASSWORD"), help="local password ($THINKNX_PASSWORD)")
    add("--auth", choices=["digest", "basic", "query"], default="digest", help="local auth")
    add(
        "--insecure",
        action="store_true",
        default=False,
        help="allow a relay over plain http:// (the key travels in clear text)",
    )
    add("--ca-file", metavar="PEM", help="trust this CA for HTTPS")
    add("-c", "--concurrency", type=int, default=64, help="sites in flight at once (default 64)")
    add("--rate", type=float, help="client rate limit per site, requests/s (default 5)")
    add("--burst", type=int, help="client burst per site (default 5)")
    add("--attempts", type=int, default=4, help="attempts per request (default 4)")
    add("--timeout", type=float, default=10.0, help="seconds per request (default 10)")
    add(
        "--transport",
        choices=["httpx", "aiohttp"],
        default="httpx",
        help="HTTP transport; aiohttp is faster for big fan-outs (default httpx)",
    )
    add("--cluster", metavar="ADDRESS", help="run on a Dask cluster: tcp://HOST:8786 or local:N")
    add("--json", action="store_true", default=False, help="one JSON object per line")
    add("-v", "--verbose", action="store_true", default=False, help="a line for every site")
    add("--no-progress", action="store_true", default=False, help="no progress bar")  # fmt: skip


def _leaf(sub: Any, name: str, help: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    _common(parser, suppress=True)
    return parser


def _device_verbs(sub: Any) -> None:
    for kind, actions in ACTIONS.items():
        kind_parser = sub.add_parser(kind, help=f"{kind} commands", description=f"{kind} commands")
        actions_sub = kind_parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        for action, (help, value, feedback) in actions.items():
            leaf = _leaf(actions_sub, action, help)
            leaf.add_argument("target", metavar="ALIAS_OR_GUID", help="inventory alias or GUID")
            if value == "celsius":
                leaf.add_argument("value", type=decimal, metavar="CELSIUS")
            elif value:
                nargs = "?" if value.endswith("?") else None
                leaf.add_argument("value", type=percent, nargs=nargs, metavar="PERCENT")
            if feedback:
                leaf.add_argument("--feedback", "--fb", action="store_true",
                                  help="wait for the device's new state (fb)")  # fmt: skip


def _other_verbs(sub: Any) -> None:
    knx = sub.add_parser("knx", help="raw KNX telegrams", description="raw KNX telegrams")
    knx_sub = knx.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, convert, help in (
        ("send-bit", bit, "DPT 1: 0 or 1"),
        ("send-byte", byte, "DPT 5: 0..255"),
        ("send-float", dpt9, "DPT 9: a decimal such as 21.5"),
    ):
        leaf = _leaf(knx_sub, action, f"send a {help} telegram")
        leaf.add_argument("group", type=group, metavar="GROUP", help="e.g. 1/0/1")
        leaf.add_argument("value", type=convert, metavar="VALUE", help=help)
    _leaf(sub, "status", "read each server's status (system/serverStatus)")
    call = _leaf(sub, "call", "call any controller: thinknx call CONTROLLER key=value ...")
    call.add_argument("controller", metavar="CONTROLLER", help="e.g. powerlevel")
    call.add_argument("params", nargs="*", type=param, metavar="KEY=VALUE",
                      help="parameters in order; guid=ALIAS is resolved per site")  # fmt: skip
    call.add_argument("--feedback", "--fb", action="store_true", help="send the fb flag")
    call.add_argument("--idempotent", action="store_true", help="safe to send twice")
    _leaf(sub, "sites", "list the selected inventory sites (sends nothing)")
    simulate = sub.add_parser(
        "simulate", help="serve simulated Thinknx servers", description="serve simulated servers"
    )
    from ..simulator.cli import add_arguments

    add_arguments(simulate)
    from .bench import add_parser as add_bench

    add_bench(sub)
    demo = sub.add_parser("demo", help="watch the library drive many simulated sites")
    demo.add_argument("--sites", type=int, default=240, dest="demo_sites", help="default 240")
    demo.add_argument("--concurrency", type=int, default=64, dest="demo_concurrency")
    demo.add_argument("--no-progress", action="store_true", default=False)


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``thinknx`` command."""
    parser = argparse.ArgumentParser(
        prog="thinknx",
        description="Drive Thinknx servers through the Integration Kit API: one site, or many "
        "from an inventory, with progress and a summary. Exit status: 0 all succeeded, 1 some "
        "site failed, 2 usage or inventory error, 130 interrupted.",
    )
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    _device_verbs(sub)
    _other_verbs(sub)
    return parser
