"""When a failed request is sent again, and how long to wait first.

The rule that keeps commands from being doubled: a request the server cannot have executed
(a 429, a connection that never opened) may always be retried; anything else (a 5xx, a read
timeout, a connection dropped mid-reply) only when the command is idempotent.

The first attempt never touches tenacity (it costs tens of microseconds per call even when
nothing fails); tenacity takes over only once an attempt has failed.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

import anyio
import attrs
import tenacity

from .errors import (
    CertificateError,
    RateLimitedError,
    ServerError,
    ThinknxError,
    TransportError,
    ValidationError,
)

__all__ = ["RetryPolicy", "is_retryable", "parse_retry_after"]

_T = TypeVar("_T")
_log = logging.getLogger("thinknx_async")


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date.

    A date in the past gives ``0.0``; a missing or unreadable value gives ``None``.
    """
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP dates are GMT
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def is_retryable(error: BaseException, *, idempotent: bool) -> bool:
    """Whether ``error`` may be retried for a command of that kind (not counting limits).

    | error                                            | idempotent | not idempotent |
    |--------------------------------------------------|------------|----------------|
    | 429 ``RateLimitedError``                         | retry      | retry          |
    | connection never opened (``ConnectError``...)    | retry      | retry          |
    | 5xx, read timeout, connection dropped mid-reply  | retry      | never          |
    | TLS certificate rejected (``CertificateError``)  | never      | never          |
    | anything else (400, 403, 404, bad reply...)      | never      | never          |
    """
    if isinstance(error, RateLimitedError):
        return True
    if isinstance(error, CertificateError):
        return False
    if isinstance(error, TransportError):
        return error.never_sent or idempotent
    return isinstance(error, ServerError) and idempotent


def _check_policy(policy: RetryPolicy) -> None:
    if type(policy.max_attempts) is not int or policy.max_attempts < 1:
        raise ValidationError(f"max_attempts must be an integer >= 1, got {policy.max_attempts!r}")
    for name in ("backoff", "max_backoff", "max_retry_after"):
        value = getattr(policy, name)
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ValidationError(f"{name} must be a finite number >= 0, got {value!r}")
    if policy.deadline is not None and not policy.deadline > 0:
        raise ValidationError(f"deadline must be > 0 or None, got {policy.deadline!r}")


@attrs.frozen(slots=True)
class RetryPolicy:
    """How failed requests are retried.

    Waits are full-jitter exponential: before attempt ``n + 1``, a random wait in
    ``[0, min(max_backoff, backoff * 2 ** (n - 1))]`` seconds. What is retried at all is fixed
    by :func:`is_retryable`.
    """

    max_attempts: int = 4
    """Attempts in all, the first included (1 turns retries off)."""
    backoff: float = 0.25
    """Seconds: the bound of the first wait, doubled for each attempt after it."""
    max_backoff: float = 8.0
    """Seconds: the most any one wait may be drawn from."""
    deadline: float | None = 60.0
    """Seconds from the first attempt after which no retry starts (``None``: no limit)."""
    max_retry_after: float = 30.0
    """Seconds: the longest ``Retry-After`` slept through. A 429 asking for a longer wait is
    raised at once as :class:`~thinknx_async.RateLimitedError` (its ``retry_after`` says how
    long) instead of sleeping through it."""

    def __attrs_post_init__(self) -> None:
        _check_policy(self)

    def should_retry(self, error: BaseException, *, idempotent: bool) -> bool:
        """Whether ``error`` may be retried under this policy (a 429 within ``max_retry_after``)."""
        if (
            isinstance(error, RateLimitedError)
            and (error.retry_after or 0.0) > self.max_retry_after
        ):
            return False
        return is_retryable(error, idempotent=idempotent)

    def wait_before(self, attempt: int, error: BaseException | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based) ended in ``error``."""
        if isinstance(error, RateLimitedError) and error.retry_after is not None:
            return error.retry_after
        return random.uniform(0.0, min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1)))

    async def retry(
        self,
        attempt: Callable[[], Awaitable[_T]],
        first_error: ThinknxError,
        *,
        idempotent: bool,
        started: float,
        what: str,
    ) -> _T:
        """Retry ``attempt`` after it failed once with ``first_error``; return its result.

        Raises the last typed error, its ``attempts`` set to how many attempts were made.
        """
        attempts = 0

        async def again() -> _T:
            nonlocal attempts
            attempts += 1
            if attempts == 1:
                raise first_error  # the failure already seen, replayed so tenacity counts it
            return await attempt()

        stop: tenacity.stop.stop_base = tenacity.stop_after_attempt(self.max_attempts)
        if self.deadline is not None:
            remaining = self.deadline - (time.monotonic() - started)
            stop = stop | tenacity.stop_before_delay(max(0.0, remaining))

        def log_retry(state: tenacity.RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            sleep = state.next_action.sleep if state.next_action else 0.0
            _log.debug(
                "%s: attempt %d failed (%r); retrying in %.3fs", what, attempts, error, sleep
            )

        retrying = tenacity.AsyncRetrying(
            stop=stop,
            wait=lambda state: self.wait_before(
                state.attempt_number, state.outcome.exception() if state.outcome else None
            ),
            retry=tenacity.retry_if_exception(
                lambda e: self.should_retry(e, idempotent=idempotent)
            ),
            sleep=anyio.sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            return await retrying(again)
        except ThinknxError as error:
            error.attempts = attempts
            raise
