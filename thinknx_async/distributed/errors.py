"""The errors a distributed fan-out adds: a site whose worker died before it reported."""

from __future__ import annotations

from ..errors import ThinknxError

__all__ = ["MayHaveBeenSentError", "RemoteError", "WorkerLostError"]


class WorkerLostError(ThinknxError):
    """The worker that held this site died (or its chunk failed) before the site's outcome came
    back, and the site was not run again.

    ``may_have_been_sent`` is ``False``: the operation never started, so nothing was sent.
    """

    may_have_been_sent: bool = False


class MayHaveBeenSentError(WorkerLostError):
    """The worker died after the operation had started: the command may have been sent.

    The operation was not idempotent, so it is not sent again (the distributed twin of the
    retry policy's rule for a command that may have run). Check the site before repeating it.
    """

    may_have_been_sent = True


class RemoteError(ThinknxError):
    """An operation's exception (or its value) that could not travel back from the worker.

    ``type_name`` is the class name of the original exception; the message is its text.
    """

    def __init__(self, message: str, type_name: str) -> None:
        super().__init__(message)
        self.type_name = type_name
