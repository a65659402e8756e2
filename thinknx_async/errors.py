"""The exception tree.

Every failure the library reports is a :class:`ThinknxError`. Errors raised by httpx, aiohttp,
tenacity or the JSON decoder never escape unwrapped: they are chained as ``__cause__``, masked.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "ApiError",
    "AuthenticationError",
    "BadRequestError",
    "CertificateError",
    "ConnectError",
    "DeviceNotFoundError",
    "ExecutionError",
    "ProtocolError",
    "RateLimitedError",
    "RedirectError",
    "ServerError",
    "SessionError",
    "ThinknxError",
    "TimeoutError",
    "TransportError",
    "ValidationError",
]


class ThinknxError(Exception):
    """Base class of every error the library raises."""

    attempts: int = 0
    """How many times the request was sent before the error was raised, every retry included
    (0 when it was refused before sending, so it certainly did not run)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        """The error's text, as ``str(error)`` gives it (never a key or a password)."""


class ValidationError(ThinknxError, ValueError):
    """A value broke a rule of the API; raised before anything is sent."""


class SessionError(ThinknxError, RuntimeError):
    """The session is closed, not yet usable, or used from a foreign event loop."""


class TransportError(ThinknxError):
    """The request did not complete at the HTTP level (network, TLS, timeout)."""

    never_sent: bool = False
    """True when the request certainly never reached the server (so it cannot have run): always
    for a :class:`ConnectError`, and for a timeout waiting to connect or for a pooled
    connection."""


class ConnectError(TransportError):
    """No connection could be opened (refused, unreachable, DNS, TLS handshake)."""

    never_sent = True


class CertificateError(ConnectError):
    """The server's TLS certificate was rejected (untrusted, expired, for another host...).

    Never retried: it cannot heal by itself.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
        """OpenSSL's reason for the rejection, such as ``"certificate has expired"``."""


class TimeoutError(TransportError, builtins.TimeoutError):
    """A connect, write, read or pool timeout expired."""


class ProtocolError(ThinknxError):
    """The server's reply broke the API contract (not JSON, missing fields, wrong types...)."""


class RedirectError(ProtocolError):
    """The server redirected somewhere the library will not follow (another host, or downgrade)."""

    def __init__(self, message: str, location: str) -> None:
        super().__init__(message)
        self.location = location
        """The refused target, with any Integration Kit key replaced by ``***``."""


class ApiError(ThinknxError):
    """The server answered with an error status or an ``error`` body."""

    def __init__(self, message: str, *, status_code: int, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        """The reply's HTTP status (a 2xx when only its body carried the ``error``)."""
        self.body = body
        """The reply's body decoded from JSON, as the server sent it (``None`` when it was
        empty or not JSON)."""


class BadRequestError(ApiError):
    """400 or ``{"error": "params errors"}``: the server refused the parameters."""


class AuthenticationError(ApiError):
    """401 or 403: wrong or missing credentials, or an unknown Integration Kit key."""


class DeviceNotFoundError(ApiError):
    """404 or ``{"error": "device not found"}``: unknown GUID, or no access to it."""


class ExecutionError(ApiError):
    """``{"error": "impossible to execute"}``: the device cannot do what was asked."""


class RateLimitedError(ApiError):
    """429: the server's rate limit was exceeded.

    Also raised, unsent, for a call to a site still held by an earlier 429 whose wait was over
    the policy's ``max_retry_after`` (``attempts`` is then 0).
    """

    def __init__(
        self, message: str, *, status_code: int = 429, body: Any = None, retry_after: float | None
    ) -> None:
        super().__init__(message, status_code=status_code, body=body)
        self.retry_after = retry_after
        """The wait the server asked for in its ``Retry-After``, in seconds (``None`` when the
        reply had none, or one the library could not read); for a call refused unsent, the
        seconds the site still refuses calls."""


class ServerError(ApiError):
    """5xx: the server failed."""
