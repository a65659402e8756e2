"""Exit statuses of the ``thinknx`` command, for scripts to rely on."""

from __future__ import annotations

from typing import Final

__all__ = ["FAILED", "INTERRUPTED", "OK", "USAGE"]

OK: Final = 0
"""Every site succeeded."""
FAILED: Final = 1
"""At least one site failed (each failure is reported with its error type)."""
USAGE: Final = 2
"""The command line, the inventory or the selection is wrong; nothing was sent."""
INTERRUPTED: Final = 130
"""Interrupted (Ctrl-C): operations still running were cancelled."""
