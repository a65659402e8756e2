"""One Thinknx server, and the one path every request takes to it."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol, Unpack, cast

import anyio
import httpx

from ._addresses import Address, SiteKind
from ._digest import send_with_digest
from ._endpoints import Endpoint, ParamValue, check_controller, encode_params
from ._failures import transport_error
from ._polling import POLL
from ._replies import decode_reply
from ._secrets import masked_chain, redact
from ._stats import current as current_stats
from ._transport import Outgoing, TransportFailure
from ._turn import Turn
from .controllers import DeviceKind, builtin
from .devices import PROXIES, Analog, Blind, Button, Device, Hvac, Light, Scene, Thermostat
from .errors import (
    ProtocolError,
    RateLimitedError,
    RedirectError,
    SessionError,
    ThinknxError,
    ValidationError,
)
from .models import ServerStatus, structure_server_status
from .telegrams import Knx
from .throttle import RateLimit, TokenBucket

if TYPE_CHECKING:
    from ._transport import Pool
    from .retry import RetryPolicy
    from .watch import Watch, WatchOptions


class Owner(Protocol):
    """What a site needs of the session that made it (a :class:`~thinknx_async.Session` is
    one): written here so that a site never imports the session."""

    @property
    def closed(self) -> bool: ...
    @property
    def pool(self) -> Pool: ...
    @property
    def retry(self) -> RetryPolicy: ...
    @property
    def max_reply_size(self) -> int: ...
    @property
    def timeouts(self) -> Mapping[str, float | None]: ...
    def _check_usable(self) -> None: ...
    def _bucket(self, base_url: str, limit: RateLimit) -> TokenBucket: ...
    def watch(self, devices: Iterable[Device], **options: Unpack[WatchOptions]) -> Watch: ...


__all__ = ["Site", "SiteKind"]

Method = Literal["GET", "POST"]

_log = logging.getLogger("thinknx_async")
_FORM = "application/x-www-form-urlencoded"
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_SERVER_STATUS = builtin("system/serverStatus")


class Site:
    """One server, reached locally, through the Thinknx cloud, or through an on-premise relay.

    Made by :meth:`Session.local`, :meth:`Session.cloud` or :meth:`Session.on_premise`; cheap and
    hashable (by identity), so it can key a dict. Its device proxies (:meth:`light`,
    :meth:`blind`...) send through :meth:`call`'s path: this site's token bucket and in-flight
    cap, the session's retry policy, and the session's one connection pool.
    """

    __slots__ = (
        "__weakref__",
        "_auth",
        "_auth_suffix",
        "_base",
        "_bucket",
        "_headers",
        "_in_flight",
        "_max_in_flight",
        "_method",
        "_prefixes",
        "_rate_limit",
        "_refused_until",
        "_relay_bucket",
        "_session",
        "_shown",
        "kind",
        "name",
    )

    def __init__(
        self,
        session: Owner,
        kind: SiteKind,
        address: Address,
        *,
        name: str | None,
        rate_limit: RateLimit | None,
        relay_bucket: TokenBucket | None,
        max_in_flight: int,
        method: Method,
    ) -> None:
        self._session = session
        self.kind: SiteKind = kind
        """``"local"``, ``"cloud"`` or ``"relay"``."""
        self._base = address.base
        self._shown = redact(address.base)
        self._auth = address.auth
        self._auth_suffix = address.auth_suffix
        self._headers = address.headers
        self._rate_limit = rate_limit
        self._bucket: TokenBucket | None = None  # made on first use: handles stay small
        self._relay_bucket = relay_bucket
        self._max_in_flight = max_in_flight
        self._in_flight: anyio.Semaphore | None = None
        self._method: Method = method
        self._prefixes: dict[str, str] = {}
        self._refused_until = 0.0  # after a 429 asking for more than max_retry_after
        self.name = name if name is not None else self.url
        """A label for messages and reports; the masked base URL when none was given."""

    @property
    def url(self) -> str:
        """The base URL, with the Integration Kit key (if any) shown as ``***``."""
        return self._shown

    @property
    def rate_limit(self) -> RateLimit | None:
        """The configured limit of this site (``None``: not throttled)."""
        return self._rate_limit

    @property
    def bucket(self) -> TokenBucket | None:
        """The site's token bucket (its rate in force, its queue), once it has sent."""
        return self._bucket

    @property
    def in_flight(self) -> int:
        """Requests of this site being sent now (at most ``max_in_flight``)."""
        return 0 if self._in_flight is None else self._max_in_flight - self._in_flight.value

    def __repr__(self) -> str:
        return (
            f"<Site {self.kind} {self.name!r}>" if self.name != self.url else f"<Site {self.url}>"
        )

    # Device proxies ------------------------------------------------------------------------

    def light(self, guid: str) -> Light:
        """A light, switch or dimmer."""
        return Light(self, guid)

    def blind(self, guid: str) -> Blind:
        """A shutter, curtain or slatted blind."""
        return Blind(self, guid)

    def thermostat(self, guid: str) -> Thermostat:
        """A thermostat."""
        return Thermostat(self, guid)

    def hvac(self, guid: str) -> Hvac:
        """An HVAC unit or fan."""
        return Hvac(self, guid)

    def scene(self, guid: str) -> Scene:
        """A scene."""
        return Scene(self, guid)

    def button(self, guid: str) -> Button:
        """A generic button."""
        return Button(self, guid)

    def analog(self, guid: str) -> Analog:
        """An analog value (driven by a declared controller: the spec gives it no URL)."""
        return Analog(self, guid)

    def device(self, kind: DeviceKind | str, guid: str) -> Device:
        """The proxy of a device of ``kind`` (``"light"``, ``"blind"``...)."""
        proxy = PROXIES.get(cast(DeviceKind, kind))
        if proxy is None:
            raise ValidationError(f"device kind must be one of {', '.join(PROXIES)}: {kind!r:.40}")
        return proxy(self, guid)

    @property
    def knx(self) -> Knx:
        """Raw KNX telegrams to group addresses, with no UI object."""
        return Knx(self)

    def watch(self, devices: Iterable[Device], **options: Unpack[WatchOptions]) -> Watch:
        """Keep ``devices`` of this site fresh and stream their changes (see :class:`Watch`)::

        async with site.watch([site.light(GUID)], every=5.0) as changes:
            async for change in changes: ...
        """
        devices = tuple(devices)
        for device in devices:
            if getattr(device, "site", None) is not self:
                raise ValidationError(f"{device!r} is not a device of {self!r}")
        return self._session.watch(devices, **options)

    # Requests -------------------------------------------------------------------------------

    async def server_status(self) -> ServerStatus:
        """The server's main facts (``system/serverStatus``)."""
        return structure_server_status(await self.request(_SERVER_STATUS.endpoint, ""))

    async def call(
        self,
        controller: str,
        params: Mapping[str, ParamValue] | None = None,
        *,
        feedback: bool = False,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """Call any controller by name: the escape hatch for controllers without a typed method.

        ``params`` are sent in order; a value of ``None`` is sent as a bare flag, numbers as
        plain decimals, ``True``/``False`` as ``1``/``0``. Mark ``idempotent=True`` only when
        sending the command twice is harmless: that lets failed attempts that may have run be
        retried. Returns the reply's JSON object. Still throttled and retried.
        """
        endpoint = Endpoint(check_controller(controller), idempotent=idempotent)
        return await self.request(endpoint, encode_params(params), feedback=feedback)

    async def request(
        self, endpoint: Endpoint, query: str, *, feedback: bool = False
    ) -> dict[str, Any]:
        """Send ``query`` (already validated and encoded) to ``endpoint``: the one request path.

        Throttled, retried under the session's policy, mapped to a JSON object or typed error.
        """
        self._session._check_usable()
        started = time.monotonic()
        if self._refused_until > started:
            raise self._refusal(endpoint, self._refused_until - started)
        try:
            return await self._attempt(endpoint, query, feedback)
        except ThinknxError as error:
            policy = self._session.retry
            if POLL.get() is not None:  # a poll is never retried: the poller backs off
                error.attempts = 1
                raise
            idempotent = endpoint.idempotent
            if policy.max_attempts > 1 and policy.should_retry(error, idempotent=idempotent):
                return await policy.retry(
                    partial(self._attempt, endpoint, query, feedback),
                    error,
                    idempotent=idempotent,
                    started=started,
                    what=f"{self.name}: {endpoint.controller}",
                )
            error.attempts = 1
            raise

    def _refusal(self, endpoint: Endpoint, remaining: float) -> RateLimitedError:
        """The error of a call refused, unsent, while a long Retry-After holds the site."""
        limit = self._session.retry.max_retry_after
        return RateLimitedError(
            f"{self.name}: {endpoint.controller}: not sent: the server asked this site to wait "
            f"longer than max_retry_after ({limit:g} s); calls are refused for {remaining:.1f} s "
            "more",
            status_code=429,
            retry_after=remaining,
        )

    def _note_retry_after(self, retry_after: float | None) -> float | None:
        """The pause a 429 imposes here: at most ``max_retry_after``; beyond it, a refusal.

        A server asking for more (``Retry-After: 99999999``, a date years ahead) gets its 429
        raised at once; the site then refuses calls, without sending and without blocking, for
        ``max_retry_after`` seconds, and tries again after that.
        """
        limit = self._session.retry.max_retry_after
        if retry_after is None or retry_after <= limit:
            return retry_after
        self._refused_until = time.monotonic() + limit
        return limit

    def _prefix(self, controller: str) -> str:
        prefix = self._prefixes.get(controller)
        if prefix is None:
            prefix = self._prefixes[controller] = f"{self._base}{controller}"
        return prefix

    def _buckets(self) -> tuple[TokenBucket | None, TokenBucket | None]:
        """This site's bucket (made on first use) and its relay's."""
        bucket = self._bucket
        if bucket is None and self._rate_limit is not None:
            bucket = self._bucket = self._session._bucket(self._base, self._rate_limit)
        return bucket, self._relay_bucket

    def _spare_token(self) -> tuple[float, float] | None:
        """Tokens for a poll, only if this site's and the relay's are free now with nobody
        queued (commands never wait behind polls): when each was granted (0.0 for a bucket the
        site has not), or ``None``."""
        bucket, relay = self._buckets()
        if (bucket is not None and not bucket.ready()) or (relay is not None and not relay.ready()):
            return None
        granted = (0.0 if bucket is None else bucket.try_acquire()) or 0.0
        relay_granted = (0.0 if relay is None else relay.try_acquire()) or 0.0
        return granted, relay_granted

    def _refund_spare(self) -> None:
        """Give back the tokens :meth:`_spare_token` took for a poll that is not sent."""
        bucket, relay = self._buckets()
        for taken in (bucket, relay):
            if taken is not None:
                taken.give_back()

    def _turn(self) -> Turn | None:
        """This attempt's tokens, taken at the wire (``None`` when nothing throttles the site);
        a poll's, already taken from the spare ones."""
        bucket, relay = self._buckets()
        if bucket is None and relay is None:
            return None
        turn = Turn(bucket, relay, self._session)
        poll = POLL.get()
        if poll is not None and poll.granted is not None:
            turn.paid(*poll.granted)
            poll.granted = None
        return turn

    async def _attempt(
        self, endpoint: Endpoint, query: str, feedback: bool, *, redirected: bool = False
    ) -> dict[str, Any]:
        what = f"{self.name}: {endpoint.controller}"
        in_flight = self._in_flight
        if in_flight is None:
            in_flight = self._in_flight = anyio.Semaphore(self._max_in_flight, fast_acquire=True)
        try:  # no event-loop round trip when a slot is free (see ConnectionPool.fetch)
            in_flight.acquire_nowait()
        except anyio.WouldBlock:
            await in_flight.acquire()
        try:
            # Tokens last, right before sending; the pool gives them back while it opens a
            # connection (a token held over a TLS handshake lets requests arrive bunched up).
            turn = self._turn()
            if turn is not None:
                await turn.take()
            session = self._session
            if session.closed:  # closed while this call waited for its turn
                raise SessionError(f"{what}: the session was closed before sending")
            stats = current_stats()
            if stats is not None:
                stats.attempts += 1
            wire = self._wire(endpoint.controller, query, feedback)
            failure: ThinknxError | None = None
            try:
                if self._auth is None:
                    reply = await session.pool.fetch(wire, turn)
                else:
                    reply = await send_with_digest(session.pool, self._auth, wire, turn)
            except TransportFailure as exc:
                timeouts, limit = session.timeouts, session.max_reply_size
                failure = transport_error(exc, what, timeouts, limit)
                # The cause is the backend's own exception (the contract's is only a carrier),
                # masked, with the frames it passed through cleared.
                chain = masked_chain(exc)
                failure.__cause__ = chain.__cause__ or chain
            if failure is not None:  # raised here, not in a handler: no raw error as context
                raise failure
        finally:
            in_flight.release()
        status, reply_headers, content = reply
        if status in _REDIRECTS and not redirected:
            self._follow_redirect(reply_headers.get("location"), what)
            return await self._attempt(endpoint, query, feedback, redirected=True)
        try:
            body = decode_reply(status, reply_headers, content, what)
        except RateLimitedError as error:
            pause = self._note_retry_after(error.retry_after)
            if turn is not None:
                turn.record_rate_limited(self, pause)
            if stats is not None:
                stats.rate_limited += 1
            raise
        if turn is not None:
            turn.record_success()
        return body

    def _wire(self, controller: str, query: str, feedback: bool) -> Outgoing:
        """Method, URL (pre-built prefix + query), headers (beyond the session's) and body."""
        params = query
        if feedback:
            params = f"{params}&fb" if params else "fb"
        if self._auth_suffix:
            params = f"{params}&{self._auth_suffix}" if params else self._auth_suffix
        if self._method == "POST":
            headers = {**self._headers, "content-type": _FORM}
            return Outgoing("POST", self._prefix(controller), headers, params.encode())
        url = self._prefix(controller)
        if params:
            url = f"{url}?{params}"
        return Outgoing("GET", url, self._headers or None, None)

    def _follow_redirect(self, location: str | None, what: str) -> None:
        """Accept one http -> https redirect to the same host, and keep it for later calls."""
        if not location:
            raise ProtocolError(f"{what}: redirect without a Location header")
        old = httpx.URL(self._base)
        try:
            new = old.join(location)
        except httpx.InvalidURL as exc:
            raise ProtocolError(f"{what}: redirect to an invalid URL") from exc
        shown = redact(str(new))
        if new.host != old.host:
            raise RedirectError(f"{what}: refused redirect to another host: {shown}", shown)
        if not (old.scheme == "http" and new.scheme == "https"):
            raise RedirectError(f"{what}: refused redirect (only http -> https): {shown}", shown)
        port = "" if new.port is None else f":{new.port}"
        self._base = f"https://{old.raw_host.decode('ascii')}{port}{old.path}"
        self._prefixes.clear()
        self._shown = redact(self._base)
        _log.info("%s: now using %s after a redirect", self.name, self.url)
