"""The session: one connection pool, the defaults, and the sites made from them."""

from __future__ import annotations

import asyncio
import enum
import ssl
import warnings
from collections.abc import Iterable
from typing import Final, Literal, Self, Unpack

import httpx

from ._addresses import Address, SiteKind, local_address, relay_address, relay_root
from ._transport import ClientPool, Pool, PoolStats, RequestDefaults, open_pool
from .devices import Device
from .errors import SessionError, ValidationError
from .fanout import DEFAULT_CONCURRENCY, FanOut, Operation, OutcomeHook, Report, ResultT, Sites
from .fanout import gather as _gather
from .retry import RetryPolicy
from .site import Method, Site
from .throttle import RateLimit, TokenBucket
from .watch import Watch, WatchOptions

__all__ = [
    "CLOUD_URL",
    "DEFAULT_RATE_LIMIT",
    "USE_SESSION_DEFAULT",
    "InsecureCredentialsWarning",
    "InsecureTLSWarning",
    "Session",
    "UseSessionDefault",
]

CLOUD_URL: Final = "https://data.thinknx.eu"
"""The Thinknx cloud: a :meth:`Session.cloud` site is ``CLOUD_URL/KEY/api/V1/``."""
DEFAULT_RATE_LIMIT: Final = RateLimit(rate=5.0, burst=5)
"""The per-site default: the spec names no figure, and a Thinknx server is a small box."""
_DEFAULT_IN_FLIGHT: Final[dict[SiteKind, int]] = {"local": 2, "cloud": 4, "relay": 4}


class UseSessionDefault(enum.Enum):
    """The type of :data:`USE_SESSION_DEFAULT`."""

    USE_SESSION_DEFAULT = "USE_SESSION_DEFAULT"

    def __repr__(self) -> str:
        return self.value


USE_SESSION_DEFAULT: Final = UseSessionDefault.USE_SESSION_DEFAULT
"""An argument left to the session's setting (where ``None`` means "off")."""


class InsecureCredentialsWarning(UserWarning):
    """Credentials will travel in clear text (the ``auth="query"`` mode over plain HTTP)."""


class InsecureTLSWarning(UserWarning):
    """TLS certificates are not verified (``Session(verify=False)``)."""


# Every header a client would add on its own is named, so none is: replies are never compressed.
_HEADERS = {
    "accept": "application/json",
    "accept-encoding": "identity",
    "user-agent": "thinknx-async/0.1",
}


def _running_loop() -> object:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        pass
    try:
        import trio

        return trio.lowlevel.current_trio_token()
    except (ImportError, RuntimeError):
        raise SessionError("a Session must be used from async code") from None


def _positive_int(name: str, value: int) -> int:
    if type(value) is not int or value < 1:
        raise ValidationError(f"{name} must be an integer >= 1, got {value!r}")
    return value


class Session:
    """Owns the connection pool every request goes through, and makes :class:`Site` handles.

    Use it as ``async with Session(...) as session:``; it closes its connections on exit (an
    ``http_client`` you pass in is used as is and never closed). Arguments:

    - ``rate_limit``: each site's default :class:`RateLimit` (``None``: not throttled).
    - ``relay_rate_limit``: one more bucket shared by every site behind the same relay or cloud
      host, for a relay that limits a caller as a whole.
    - ``retry``: the :class:`RetryPolicy`.
    - ``timeout``: seconds for each of connect, write, read and pool wait.
    - ``call_timeout``: seconds one attempt may take in all, from opening a connection to the
      last byte of the reply, however slowly the server sends (default: the connect and read
      timeouts together, ``2 * timeout``; ``math.inf``: no such bound). With aiohttp the read
      timeout already bounds the whole exchange, so the smaller of the two applies.
      An attempt cut short is a :class:`~thinknx_async.TimeoutError` and its connection is
      closed; the retry policy's ``deadline`` counts the time of every attempt.
    - ``max_connections``: requests in flight at once over all sites; they are the pool's
      connections, spread over small pools of ``pool_size`` per origin.
    - ``pool_size``: connections per small pool (the httpx transport only). One is fastest:
      httpx's pool bookkeeping grows with its size, and pools are cheap.
    - ``http_client``: an ``httpx.AsyncClient`` of your own; ``timeout`` is then read from it,
      and ``max_connections``, ``pool_size``, ``verify`` and ``transport`` do not apply.
    - ``max_in_flight``: each site's cap on requests in flight (default 2 for local servers,
      4 through the cloud or a relay).
    - ``verify``: TLS verification: ``True``, ``False``, a CA file path or an ``ssl.SSLContext``.
    - ``method``: ``"GET"`` or ``"POST"`` (form body) for every site, unless a site says otherwise.
    - ``max_reply_size``: a reply larger than this many bytes is a ``ProtocolError``.
    - ``cloud_url``: the root of the Thinknx cloud for :meth:`cloud` (default :data:`CLOUD_URL`),
      checked like a relay's root: ``https://`` (``http://`` only with ``allow_insecure=True``),
      no credentials, query or fragment.
    - ``allow_insecure``: accept a plain-``http://`` ``cloud_url`` (a test server).
    - ``transport``: ``"httpx"`` (default; asyncio and trio) or ``"aiohttp"`` (faster; asyncio
      only; needs the ``aiohttp`` extra). With aiohttp the read timeout bounds the whole
      exchange, from sending the request to the last byte of the reply, instead of each wait
      for data; the connect timeout bounds opening a connection.
    """

    def __init__(
        self,
        *,
        rate_limit: RateLimit | None = DEFAULT_RATE_LIMIT,
        retry: RetryPolicy | None = None,
        timeout: float = 10.0,
        max_connections: int = 100,
        pool_size: int = 1,
        http_client: httpx.AsyncClient | None = None,
        verify: bool | str | ssl.SSLContext = True,
        method: Method = "GET",
        relay_rate_limit: RateLimit | None = None,
        max_in_flight: int | None = None,
        cloud_url: str = CLOUD_URL,
        max_reply_size: int = 1 << 20,
        transport: Literal["httpx", "aiohttp"] = "httpx",
        allow_insecure: bool = False,
        call_timeout: float | None = None,
    ) -> None:
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise ValidationError("rate_limit must be a RateLimit or None")
        if not (isinstance(timeout, int | float) and timeout > 0):
            raise ValidationError(f"timeout must be a number > 0, got {timeout!r}")
        self.rate_limit = rate_limit
        self.relay_rate_limit = relay_rate_limit
        self.retry = retry if retry is not None else RetryPolicy()
        self.method = self._check_method(method)
        self.max_in_flight = (
            None if max_in_flight is None else _positive_int("max_in_flight", max_in_flight)
        )
        self.max_reply_size = _positive_int("max_reply_size", max_reply_size)
        self._cloud_url = relay_root(cloud_url, allow_insecure=allow_insecure, what="cloud_url")
        self._relay_buckets: dict[str, TokenBucket] = {}
        # One bucket per server and limit for the session's life: what it learned of the
        # server's rate (RateLimit.auto(), or after 429s) holds for every handle to it.
        self._buckets: dict[tuple[str, RateLimit], TokenBucket] = {}
        self._loop: object | None = None
        self._closed = False
        if transport not in ("httpx", "aiohttp"):
            raise ValidationError(f"transport must be 'httpx' or 'aiohttp', got {transport!r}")
        self._asyncio_only = transport == "aiohttp" and http_client is None
        self.timeouts: dict[str, float | None] = (
            httpx.Timeout(timeout) if http_client is None else http_client.timeout
        ).as_dict()
        """Seconds for each phase of a request: connect, write, read, pool."""
        if call_timeout is None:  # room for a connection and a reply, each in its own time
            phases = [self.timeouts.get("connect"), self.timeouts.get("read")]
            call_timeout = None if None in phases else sum(p for p in phases if p is not None)
        elif not (isinstance(call_timeout, int | float) and call_timeout > 0):
            raise ValidationError(f"call_timeout must be a number > 0, got {call_timeout!r}")
        self.call_timeout: float | None = call_timeout
        """Seconds one attempt may take in all (``None`` or ``inf``: no whole-call bound)."""
        defaults = RequestDefaults(_HEADERS, self.timeouts, self.max_reply_size, call_timeout)
        self.pool: Pool
        """The connection pool every request of this session goes through."""
        if http_client is None:
            _positive_int("max_connections", max_connections)
            if verify is False:
                warnings.warn(
                    "verify=False: TLS certificates are not checked, so anyone on the path can "
                    "pose as the server and read the key or the password",
                    InsecureTLSWarning,
                    stacklevel=2,
                )
            self.pool = open_pool(transport, defaults, verify, max_connections, pool_size)
        else:
            self.pool = ClientPool(http_client, defaults)

    @staticmethod
    def _check_method(method: str) -> Method:
        if method == "GET":
            return "GET"
        if method == "POST":
            return "POST"
        raise ValidationError(f"method must be 'GET' or 'POST', got {method!r}")

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<Session {state}>"

    # Lifecycle --------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        self._check_usable()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pool (never a client passed in). Idempotent.

        Call it from the event loop that used the session: its connections belong to that
        loop. From another loop the session is still marked closed,
        then :class:`SessionError` says the connections could not be closed from there.
        """
        if self._closed:
            return
        self._closed = True
        if self._loop is not None and _running_loop() is not self._loop:
            raise SessionError(
                "a session must be closed from the event loop that used it: its connections "
                "belong to that loop and were not closed"
            )
        await self.pool.aclose()

    @property
    def closed(self) -> bool:
        """Whether :meth:`aclose` has run."""
        return self._closed

    def pool_stats(self) -> PoolStats | None:
        """The pool's counts (``None`` with an ``http_client`` passed in)."""
        return self.pool.stats()

    def _check_usable(self) -> None:
        if self._closed:
            raise SessionError("the session is closed")
        loop = _running_loop()
        if loop is self._loop:
            return
        if self._asyncio_only and not isinstance(loop, asyncio.AbstractEventLoop):
            raise SessionError("the aiohttp transport runs on asyncio only")
        if self._loop is not None:
            raise SessionError(
                "the session is bound to the event loop that first used it; "
                "make one Session per event loop"
            )
        self._loop = loop

    # Sites ------------------------------------------------------------------------------------

    def _bucket(self, base_url: str, limit: RateLimit) -> TokenBucket:
        """The token bucket of one server under ``limit``: made once, kept for the session, so
        a second fan-out to the same site starts at the rate the first one learned."""
        bucket = self._buckets.get(key := (base_url, limit))
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(limit)
        return bucket

    def _site(
        self,
        kind: SiteKind,
        address: Address,
        *,
        name: str | None,
        rate_limit: RateLimit | UseSessionDefault | None,
        max_in_flight: int | None,
        method: Method | None,
    ) -> Site:
        if self._closed:
            raise SessionError("the session is closed")
        if name is not None and not isinstance(name, str):
            raise ValidationError("name must be a string")
        limit = self.rate_limit if rate_limit is USE_SESSION_DEFAULT else rate_limit
        if limit is not None and not isinstance(limit, RateLimit):
            raise ValidationError("rate_limit must be a RateLimit or None")
        in_flight = _positive_int(
            "max_in_flight", max_in_flight or self.max_in_flight or _DEFAULT_IN_FLIGHT[kind]
        )
        method = self.method if method is None else self._check_method(method)
        relay_bucket = None
        if self.relay_rate_limit is not None and kind != "local":
            host = httpx.URL(address.base).host
            relay_bucket = self._relay_buckets.get(host)
            if relay_bucket is None:
                relay_bucket = self._relay_buckets[host] = TokenBucket(self.relay_rate_limit)
        return Site(
            self,
            kind,
            address,
            name=name,
            rate_limit=limit,
            relay_bucket=relay_bucket,
            max_in_flight=in_flight,
            method=method,
        )

    def local(
        self,
        host: str,
        *,
        username: str | None = None,
        password: str | None = None,
        auth: Literal["digest", "basic", "query"] = "digest",
        port: int | None = None,
        scheme: Literal["http", "https"] | None = None,
        name: str | None = None,
        rate_limit: RateLimit | UseSessionDefault | None = USE_SESSION_DEFAULT,
        max_in_flight: int | None = None,
        method: Method | None = None,
    ) -> Site:
        """A server on the local network: ``http://HOST:5051/api/V1/``.

        ``host`` is a host name or IP address, or a URL such as a simulator's manifest or a
        server page hands out: ``http://192.168.1.10:5051``, or the spec's own form with the
        credentials in it, ``http://service:pw@192.168.1.10:5051``. A URL's port, scheme and
        credentials need not be repeated as arguments (given both ways, they must agree); the
        port is otherwise 5051 and the scheme ``http``. Credentials are masked in every
        message and log like any other.

        ``auth`` picks how credentials travel: ``"digest"`` (HTTP Digest, the default: the
        password never crosses the network), ``"basic"`` (an Authorization header), or
        ``"query"`` (``user=`` and ``pass=`` in the query string; plain HTTP only, as the server
        demands, so it sends the password in clear text and warns).
        """
        address = local_address(host, port, scheme, username, password, auth)
        site = self._site(
            "local",
            address,
            name=name,
            rate_limit=rate_limit,
            max_in_flight=max_in_flight,
            method=method,
        )
        if auth == "query":
            warnings.warn(
                "auth='query' sends the password in clear text in every request; "
                "prefer auth='digest'",
                InsecureCredentialsWarning,
                stacklevel=2,
            )
        return site

    def cloud(
        self,
        key: str,
        *,
        name: str | None = None,
        rate_limit: RateLimit | UseSessionDefault | None = USE_SESSION_DEFAULT,
        max_in_flight: int | None = None,
        method: Method | None = None,
    ) -> Site:
        """A server through the Thinknx cloud: ``https://data.thinknx.eu/KEY/api/V1/``."""
        return self._site(
            "cloud",
            relay_address(self._cloud_url, key),
            name=name,
            rate_limit=rate_limit,
            max_in_flight=max_in_flight,
            method=method,
        )

    def on_premise(
        self,
        url: str,
        key: str,
        *,
        allow_insecure: bool = False,
        name: str | None = None,
        rate_limit: RateLimit | UseSessionDefault | None = USE_SESSION_DEFAULT,
        max_in_flight: int | None = None,
        method: Method | None = None,
    ) -> Site:
        """A server through your own relay (the cloud service installed on-premise).

        The key grants access with no other authentication, so plain ``http://`` is refused
        unless ``allow_insecure=True``.
        """
        return self._site(
            "relay",
            relay_address(relay_root(url, allow_insecure=allow_insecure), key),
            name=name,
            rate_limit=rate_limit,
            max_in_flight=max_in_flight,
            method=method,
        )

    # Fan-out ----------------------------------------------------------------------------------

    def fan_out(
        self,
        sites: Sites,
        operation: Operation[ResultT],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> FanOut[ResultT]:
        """Run ``operation(site)`` for every site; outcomes stream in as they complete.

        At most ``concurrency`` operations run at once (each site's own rate limit applies
        too); every site gets exactly one :class:`~thinknx_async.Outcome`, and one site's
        failure never stops the others. Enter it, then iterate::

            async with session.fan_out(sites, lambda s: s.scene(GUID).launch()) as outcomes:
                async for outcome in outcomes:
                    ...

        Leaving the block early (``break``, an exception, cancellation) cancels the operations
        still running and waits for them.
        """
        self._check_usable()
        return FanOut(sites, operation, concurrency=concurrency)

    def watch(self, devices: Iterable[Device], **options: Unpack[WatchOptions]) -> Watch:
        """Keep ``devices`` of any of this session's sites fresh, and stream their changes.

        Each site is polled within ``share`` of its own rate (and the relay's), most overdue
        device first, never ahead of a command; the options are :class:`Watch`'s::

            async with session.watch(devices, every=30.0) as changes:
                async for change in changes:
                    ...
        """
        self._check_usable()
        devices = tuple(devices)
        for device in devices:
            if getattr(getattr(device, "site", None), "_session", None) is not self:
                raise ValidationError(f"{device!r} is not a device of this session")
        return Watch(devices, **options)

    async def gather(
        self,
        sites: Sites,
        operation: Operation[ResultT],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        on_outcome: OutcomeHook | None = None,
    ) -> Report[ResultT]:
        """Run ``operation`` over every site (as :meth:`fan_out`) and return the whole report.

        The :class:`~thinknx_async.Report` lists outcomes in input order, with ``succeeded``,
        ``failed`` and ``summary()``. ``on_outcome`` sees each outcome as it arrives.
        """
        self._check_usable()
        return await _gather(sites, operation, concurrency=concurrency, on_outcome=on_outcome)
