"""The ``thinknx`` argument parser: one subcommand per device kind, plus status, call, sites,
watch, simulate and demo."""

from __future__ import annotations

import argparse
import os
from typing import Any

from .values import bit, byte, decimal, dpt9, group, param, per_second, percent, positive, seconds

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
    add("--host", metavar="HOST|URL", help="one local site at HOST, or at a URL such as "
        "http://user:pass@host:5051 (else with --username, --password)")  # fmt: skip
    add("--port", type=int, metavar="PORT", help="local port (default 5051, or the URL's)")
    add("--username", metavar="USER", default=env("THINKNX_USERNAME"),
        help="local user ($THINKNX_USERNAME)")  # fmt: skip
    add("--password", metavar="PASSWORD", default=env("THINKNX_PASSWORD"),
        help="local password ($THINKNX_PASSWORD)")  # fmt: skip
    add("--auth", choices=["digest", "basic", "query"], default="digest", help="local auth")
    add(
        "--insecure",
        action="store_true",
        default=False,
        help="allow a relay over plain http:// (the key travels in clear text)",
    )
    add("--ca-file", metavar="PEM", help="trust this CA for HTTPS")
    add("-c", "--concurrency", type=positive, default=64, metavar="N",
        help="sites in flight at once (default 64)")  # fmt: skip
    add("--rate", type=per_second, metavar="PER_S",
        help="client rate limit per site, requests/s (default 5)")  # fmt: skip
    add("--burst", type=positive, metavar="N", help="client burst per site (default 5)")
    add("--attempts", type=positive, default=4, metavar="N",
        help="attempts per request (default 4)")  # fmt: skip
    add("--timeout", type=seconds, default=10.0, metavar="SECONDS",
        help="seconds per request (default 10)")  # fmt: skip
    add(
        "--transport",
        choices=["httpx", "aiohttp"],
        default="httpx",
        help="HTTP transport; aiohttp is faster for big fan-outs (default httpx)",
    )
    add("--json", action="store_true", default=False, help="one JSON object per line")
    add("-v", "--verbose", action="store_true", default=False, help="a line for every site")
    add("--no-progress", action="store_true", default=False, help="no progress bar")  # fmt: skip


Leaves = list[argparse.ArgumentParser]


def _leaf(sub: Any, name: str, help: str, leaves: Leaves) -> argparse.ArgumentParser:
    """A verb's own parser; the target and output options are added by :func:`_finish`."""
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    leaves.append(parser)
    return parser


def _finish(leaf: argparse.ArgumentParser) -> None:
    """The verb's usage line names its own arguments only (a usage error shows what matters),
    then the target and output options join it, for ``-h`` and for parsing."""
    own = leaf.format_usage().removeprefix("usage: ").strip()
    leaf.usage = f"{own} [options]"
    leaf.epilog = "options: the target and output options of 'thinknx -h'"
    _common(leaf, suppress=True)


def _device_verbs(sub: Any, leaves: Leaves) -> None:
    for kind, actions in ACTIONS.items():
        kind_parser = sub.add_parser(kind, help=f"{kind} commands", description=f"{kind} commands")
        actions_sub = kind_parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        for action, (help, value, feedback) in actions.items():
            leaf = _leaf(actions_sub, action, help, leaves)
            leaf.add_argument("target", metavar="ALIAS_OR_GUID", help="inventory alias or GUID")
            if value == "celsius":
                leaf.add_argument("value", type=decimal, metavar="CELSIUS")
            elif value:
                nargs = "?" if value.endswith("?") else None
                leaf.add_argument("value", type=percent, nargs=nargs, metavar="PERCENT")
            if feedback:
                leaf.add_argument("--feedback", "--fb", action="store_true",
                                  help="wait for the device's new state (fb)")  # fmt: skip


def _other_verbs(sub: Any, leaves: Leaves) -> None:
    knx = sub.add_parser("knx", help="raw KNX telegrams", description="raw KNX telegrams")
    knx_sub = knx.add_subparsers(dest="action", metavar="ACTION", required=True)
    for action, convert, help in (
        ("send-bit", bit, "DPT 1: 0 or 1"),
        ("send-byte", byte, "DPT 5: 0..255"),
        ("send-float", dpt9, "DPT 9: a decimal such as 21.5"),
    ):
        leaf = _leaf(knx_sub, action, f"send a {help} telegram", leaves)
        leaf.add_argument("group", type=group, metavar="GROUP", help="e.g. 1/0/1")
        leaf.add_argument("value", type=convert, metavar="VALUE", help=help)
    _leaf(sub, "status", "read each server's status (system/serverStatus)", leaves)
    call = _leaf(sub, "call", "call any controller: thinknx call CONTROLLER key=value ...", leaves)
    call.add_argument("controller", metavar="CONTROLLER", help="e.g. powerlevel")
    call.add_argument("params", nargs="*", type=param, metavar="KEY=VALUE", default=[],
                      help="parameters in order; guid=ALIAS is resolved per site")  # fmt: skip
    call.add_argument("--feedback", "--fb", action="store_true", help="send the fb flag")
    call.add_argument("--idempotent", action="store_true", help="safe to send twice")
    _leaf(sub, "sites", "list the selected inventory sites (sends nothing)", leaves)
    from .watch import add_arguments as add_watch

    add_watch(_leaf(sub, "watch", "print the devices' state as it changes", leaves))
    simulate = sub.add_parser(
        "simulate",
        help="serve simulated Thinknx servers",
        description="serve simulated servers",
        usage="%(prog)s [options]",
    )
    from ..simulator.cli import add_arguments

    add_arguments(simulate)
    from .bench import add_parser as add_bench

    add_bench(sub)
    demo = sub.add_parser("demo", help="watch the library drive many simulated sites",
                          description="watch the library drive many simulated sites")  # fmt: skip
    demo.add_argument("--sites", type=positive, default=240, dest="demo_sites", metavar="N",
                      help="simulated flats (default 240, at least 13)")  # fmt: skip
    demo.add_argument("--concurrency", type=positive, default=64, dest="demo_concurrency",
                      metavar="N", help="sites in flight at once (default 64)")  # fmt: skip
    demo.add_argument("--no-progress", action="store_true", default=False, help="no progress bar")


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
    leaves: Leaves = []
    _device_verbs(sub, leaves)
    _other_verbs(sub, leaves)
    for leaf in leaves:
        _finish(leaf)
    return parser
