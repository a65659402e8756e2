"""The ``thinknx`` argument parser: one subcommand per device kind, plus status, call, sites,
watch, simulate and demo."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..controllers import DEVICE_KINDS, Controller, by_kind
from ..knx import Rule
from .values import (
    bit,
    byte,
    checked,
    decimal,
    dpt9,
    group,
    param,
    per_second,
    percent,
    positive,
    seconds,
)

__all__ = ["build_parser"]

#: The command-line types of the built-in rules (any other rule parses its own values).
_VALUE_TYPES: dict[str, tuple[Callable[[str], Any], str]] = {
    "percent": (percent, "PERCENT"),
    "setpoint": (decimal, "CELSIUS"),
    "switch": (bit, "VALUE"),
    "byte": (byte, "VALUE"),
    "dpt9": (dpt9, "VALUE"),
}


def _value_type(rule: Rule[Any]) -> tuple[Callable[[str], Any], str]:
    return _VALUE_TYPES.get(rule.name) or (checked(rule.parse), "VALUE")


def _action_help(verb: str, controllers: Sequence[Controller[Any]]) -> str:
    """``switch on or off (power cmd=1)``, from the verb's controllers."""
    parts = []
    for c in controllers:
        value = c.actions[verb]
        parts.append(c.name if value is None else f"{c.name} {c.param}={value}")
    helps = " / ".join(dict.fromkeys(c.help for c in controllers))
    return f"{helps} ({', '.join(parts)})"


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
    add("--cluster", metavar="ADDRESS", help="run on a Dask cluster: tcp://HOST:8786 or local:N")
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


def _device_verbs(sub: Any, leaves: Leaves, extra: Iterable[Controller[Any]]) -> None:
    """``thinknx KIND VERB``: one verb per action of the controllers of each kind."""
    declared = tuple(extra)
    for kind in DEVICE_KINDS:
        verbs = by_kind(kind, declared)
        if not verbs:
            continue
        kind_parser = sub.add_parser(kind, help=f"{kind} commands", description=f"{kind} commands")
        actions_sub = kind_parser.add_subparsers(dest="action", metavar="ACTION", required=True)
        for verb, controllers in verbs.items():
            leaf = _leaf(actions_sub, verb, _action_help(verb, controllers), leaves)
            leaf.add_argument("target", metavar="ALIAS_OR_GUID", help="inventory alias or GUID")
            takes = [c for c in controllers if not c.read and c.actions[verb] is None]
            if takes:
                convert, metavar = _value_type(takes[0].rule)
                reads = any(c.read for c in controllers)
                leaf.add_argument("value", type=convert, nargs="?" if reads else None,
                                  metavar=metavar, help=takes[0].rule.text)  # fmt: skip
            if any(c.feedback for c in controllers):
                leaf.add_argument("--feedback", "--fb", action="store_true",
                                  help="wait for the device's new state (fb)")  # fmt: skip


def _other_verbs(sub: Any, leaves: Leaves) -> None:
    knx = sub.add_parser("knx", help="raw KNX telegrams", description="raw KNX telegrams")
    knx_sub = knx.add_subparsers(dest="action", metavar="ACTION", required=True)
    for verb, (controller,) in by_kind("knx").items():
        convert, _ = _value_type(controller.rule)
        leaf = _leaf(knx_sub, verb, f"{controller.help}: {controller.rule.text}", leaves)
        leaf.add_argument("group", type=group, metavar="GROUP", help="e.g. 1/0/1")
        leaf.add_argument("value", type=convert, metavar="VALUE", help=controller.rule.text)
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


def build_parser(controllers: Iterable[Controller[Any]] = ()) -> argparse.ArgumentParser:
    """The parser of the ``thinknx`` command; ``controllers`` (declared ones) add their verbs."""
    parser = argparse.ArgumentParser(
        prog="thinknx",
        description="Drive Thinknx servers through the Integration Kit API: one site, or many "
        "from an inventory, with progress and a summary. Exit status: 0 all succeeded, 1 some "
        "site failed, 2 usage or inventory error, 130 interrupted.",
    )
    _common(parser, suppress=False)
    sub = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    leaves: Leaves = []
    _device_verbs(sub, leaves, controllers)
    _other_verbs(sub, leaves)
    for leaf in leaves:
        _finish(leaf)
    return parser
