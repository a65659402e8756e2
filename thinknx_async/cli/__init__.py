"""The ``thinknx`` command: one site or a whole inventory, from the shell.

Needs the ``cli`` extra (``pip install 'thinknx-async[cli]'``). Exit statuses are in
:mod:`thinknx_async.cli.exits`: 0 every site succeeded, 1 some site failed, 2 usage, inventory
or selection error (nothing sent), 130 interrupted.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from ..errors import ValidationError
from ..inventory import InventoryError
from .exits import FAILED, INTERRUPTED, OK, USAGE

__all__ = ["FAILED", "INTERRUPTED", "OK", "USAGE", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command with ``argv`` (default ``sys.argv[1:]``); return the exit status.

    Every verb alike: a refusal before sending is one line on stderr and status 2; Ctrl-C is
    ``interrupted`` on stderr and status 130, never a traceback."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return INTERRUPTED


def _main(argv: Sequence[str] | None) -> int:
    try:
        from .parser import build_parser
        from .render import Ui
        from .run import run_command
        from .targets import UsageError, declared_controllers
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        print(f"thinknx: {exc}; install the extra: pip install 'thinknx-async[cli]'",
              file=sys.stderr)  # fmt: skip
        return USAGE
    try:
        declared = declared_controllers(sys.argv[1:] if argv is None else argv)
        parser = build_parser(declared)
        parser.set_defaults(controllers=declared)
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error, already printed (2)
        return exc.code if isinstance(exc.code, int) else USAGE
    ui = Ui(json_lines=args.json, verbose=args.verbose, progress=not args.no_progress)
    try:
        if args.verb == "simulate":
            from ..simulator.cli import run as run_simulator

            return run_simulator(args)
        if args.verb == "bench":
            from .bench import run as run_bench

            return asyncio.run(run_bench(args, ui))
        if args.verb == "demo":
            from .demo import run_demo

            return run_demo(
                args, Ui(json_lines=False, verbose=False, progress=not args.no_progress)
            )
        if args.verb == "watch":
            from .watch import run_watch

            return asyncio.run(run_watch(args, ui))
        return asyncio.run(run_command(args, ui))
    except (UsageError, InventoryError, ValidationError) as exc:
        ui.error(str(exc))
        return USAGE
