"""The exception tree.

Every failure the library reports is a :class:`ThinknxError`. Errors raised by httpx, tenacity or
the JSON decoder never escape unwrapped: they are chained as ``__cause__``.
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
    """Base class of every error the library raises.

    ``attempts`` is how many times the request was sent before the error was raised
    (0 when it was refused before sending).
    """

    attempts: int = 0

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ValidationError(ThinknxError, ValueError):
    """A value broke a rule of the API; raised before anything is sent."""


class SessionError(ThinknxError, RuntimeError):
    """The session is closed, not yet usable, or used from a foreign event loop."""


class TransportError(ThinknxError):
    """The request did not complete at the HTTP level (network, TLS, timeout)."""

    never_sent: bool = False
    """True when the request certainly never reached the server (so it cannot have run)."""


class ConnectError(TransportError):
    """No connection could be opened (refused, unreachable, DNS, TLS handshake)."""

    never_sent = True


class CertificateError(ConnectError):
    """The server's TLS certificate was rejected (untrusted, expired, for another host...).

    Never retried: it cannot heal by itself. ``reason`` is OpenSSL's reason, such as
    ``"certificate has expired"``.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class TimeoutError(TransportError, builtins.TimeoutError):
    """A connect, write, read or pool timeout expired."""


class ProtocolError(ThinknxError):
    """The server's reply broke the API contract (not JSON, missing fields, wrong types...)."""


class RedirectError(ProtocolError):
    """The server redirected somewhere the library will not follow (another host, or downgrade).

    ``location`` is the target, with any Integration Kit key replaced by ``***``.
    """

    def __init__(self, message: str, location: str) -> None:
        super().__init__(message)
        self.location = location


class ApiError(ThinknxError):
    """The server answered with an error status or an ``error`` body.

    ``status_code`` is the HTTP status; ``body`` the decoded JSON body (or ``None``).
    """

    def __init__(self, message: str, *, status_code: int, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


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

    ``retry_after`` is the wait the server asked for, in seconds, or ``None``.
    """

    def __init__(
        self, message: str, *, status_code: int = 429, body: Any = None, retry_after: float | None
    ) -> None:
        super().__init__(message, status_code=status_code, body=body)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx: the server failed."""
