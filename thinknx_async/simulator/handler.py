"""The API request path: addressing, faults, auth, rate limits, execution, reply.

Order per request: count it; down / 429-storm faults; relay rate limit; site lookup (403);
params (400 for a POST without a form body); local auth (401/403); site rate limit (429);
latency and before-execution faults; execution; ``fb`` wait; after-execution faults; reply.
The personality in force shapes the replies (``personality.py``).
"""

from __future__ import annotations

import time

import anyio

from .api import SERVER_STATUS, Executor, Reply
from .auth import AuthResult, basic_challenge, check_basic, check_query
from .controllers import DEVICE_CONTROLLERS, KNX_CONTROLLERS
from .counters import UNKNOWN_SITE
from .params import parse_form
from .ratelimit import retry_after_header
from .responses import (
    DEVICE_NOT_FOUND,
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    PARAMS_ERRORS,
    RATE_LIMITED,
    WRONG_AUTH,
    Headers,
    Receive,
    Scope,
    Send,
    drop,
    send_json,
    send_proxy_page,
    send_slowly,
    with_headers,
)
from .simulator import Simulator, SiteRuntime

_API_PREFIXES = ("api/V1/", "api/v1/")
_FORM = b"application/x-www-form-urlencoded"
FILLER = b'{"error":"connection dropped"}'
"""Body announced (and half sent) by a simulated dropped connection."""


def _controller(rest: str) -> str | None:
    """``api/V1/power`` -> ``power``; anything else -> None."""
    if rest[:7] in _API_PREFIXES and len(rest) > 7:
        return rest[7:]
    return None


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class ApiHandler:
    """ASGI callable for every Integration Kit request (relay and local forms)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.executor = Executor(sim)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        sim = self.sim
        counters = sim.counters
        server = scope.get("server")
        site = sim.by_port.get(server[1]) if server else None
        local = site is not None
        path: str = scope["path"]
        if local:
            controller = _controller(path[1:])
        else:
            key, _, rest = path[1:].partition("/")
            site = sim.by_key.get(key)
            controller = _controller(rest)
        client = scope.get("client")
        counters.record_request(
            site.name if site else UNKNOWN_SITE, controller or "", tuple(client) if client else None
        )

        personality = sim.personality
        if personality.sets_connection:
            # uvicorn closes every HTTP/1.0 request's connection: never promise keep-alive there.
            asked = _header(scope, b"connection") if scope["http_version"] != "1.0" else None
            send = with_headers(send, personality.connection_headers(asked))
        method = scope["method"]
        # Read a form body first: down mode later listens on ``receive`` for a disconnect.
        body = await _read_body(receive) if method == "POST" else b""

        faults = sim.fault_state
        fault_here = faults.active and faults.applies(site.key if site else None)
        if fault_here:
            if faults.faults.down and not await self._hold(receive, send):
                return None
            wait = faults.storm_wait(time.monotonic())
            if wait > 0:
                return await self._too_many(send, wait)
        if not local and sim.relay_bucket is not None:
            wait = sim.relay_bucket.acquire()
            if wait > 0:
                return await self._too_many(send, wait)
        if site is None:
            return await send_json(send, counters, personality.auth_failure_status, WRONG_AUTH)

        params = parse_form(scope["query_string"])
        if method == "POST":
            content_type = _header(scope, b"content-type") or b""
            if content_type.split(b";", 1)[0].strip().lower() != _FORM:
                return await send_json(send, counters, 400, PARAMS_ERRORS)
            params.update(parse_form(body))
        elif method != "GET":
            return await send_json(
                send, counters, 405, METHOD_NOT_ALLOWED, [(b"allow", b"GET, POST")]
            )

        if local:
            denied = self._authenticate(scope, site, params)
            if denied is not None:
                status, headers = denied
                err = b'{"error":"authentication required"}' if status == 401 else WRONG_AUTH
                if status == 403 and personality.auth_failure_status == 401:
                    status, headers = 401, self._challenges(params.get("auth"))
                return await send_json(send, counters, status, err, headers)
        if site.bucket is not None:
            wait = site.bucket.acquire()
            if wait > 0:
                return await self._too_many(send, wait)
        if controller is None:
            return await send_json(send, counters, 404, DEVICE_NOT_FOUND)

        plan = faults.plan() if fault_here else None
        if plan is not None:
            if plan.stall:
                await self._hold(receive, send, stalled=True)
                return None
            if plan.delay:
                await anyio.sleep(plan.delay)
            if plan.gateway:
                return await send_proxy_page(send, counters, plan.gateway)
            if plan.error_before:
                return await send_json(send, counters, 500, INTERNAL_ERROR)
            if plan.drop_before:
                return await drop(send, counters, 200, FILLER)

        status, reply = await self._execute(site, controller, params)
        if personality.rewrites_bodies:
            reply = personality.body(reply)

        if plan is not None:
            if plan.error_after:
                return await send_json(send, counters, 500, INTERNAL_ERROR)
            if plan.drop_after:
                return await drop(send, counters, status, reply)
            if plan.slow:
                return await send_slowly(send, counters, status, reply, plan.slow)
        return await send_json(send, counters, status, reply)

    async def _execute(self, site: SiteRuntime, controller: str, params: dict[str, str]) -> Reply:
        spec = DEVICE_CONTROLLERS.get(controller) or self.sim.extra_controllers.get(controller)
        if spec is not None:
            now = time.monotonic()
            status, body, wants_status = self.executor.device_command(site, spec, params, now)
            if wants_status:
                delay = self.sim.config.feedback_delay
                if delay > 0:
                    await anyio.sleep(delay)
                body = self.executor.feedback_body(site, spec, params["guid"])
            return status, body
        if controller in KNX_CONTROLLERS:
            return self.executor.knx_command(site, controller, params)
        if controller == SERVER_STATUS:
            return self.executor.server_status(site)
        return 404, DEVICE_NOT_FOUND

    def _authenticate(
        self, scope: Scope, site: SiteRuntime, params: dict[str, str]
    ) -> tuple[int, Headers] | None:
        """None when allowed; else (401 or 403, headers)."""
        mode = params.get("auth")
        user, password = site.site.username, site.site.password
        header = _header(scope, b"authorization")
        if mode == "basic":
            result = check_basic(header, user, password)
            if result is AuthResult.MISSING and ("user" in params or "pass" in params):
                if scope.get("scheme") == "https":
                    return 403, []
                result = check_query(params.get("user"), params.get("pass"), user, password)
            if result is AuthResult.MISSING:
                return 401, self._challenges(mode)
        elif mode == "digest":
            path = scope.get("raw_path") or scope["path"].encode()
            query = scope["query_string"]
            uri = (path + b"?" + query if query else path).decode("latin-1")
            result, stale = self.sim.digest.check(header, scope["method"], uri, user, password)
            if result is AuthResult.MISSING:
                return 401, self._challenges(mode, stale)
        else:
            return 403, []
        return None if result is AuthResult.OK else (403, [])

    def _challenges(self, mode: str | None, stale: bool = False) -> Headers:
        """The ``WWW-Authenticate`` headers of a 401 for this ``auth`` mode (Basic by default)."""
        if mode == "digest":
            return [(b"www-authenticate", c) for c in self.sim.digest.challenges(stale)]
        return [(b"www-authenticate", basic_challenge(self.sim.config.realm))]

    async def _too_many(self, send: Send, wait: float) -> None:
        headers = retry_after_header(wait, self.sim.config.retry_after)
        await send_json(send, self.sim.counters, 429, RATE_LIMITED, headers)

    async def _hold(self, receive: Receive, send: Send, *, stalled: bool = False) -> bool:
        """Down mode: answer nothing until the client leaves, down mode ends, or the bound.

        True when down mode ended and the request should go on; False when it is over.
        A ``stalled`` request is held whether or not down mode is on.
        """
        faults = self.sim.fault_state
        disconnected = False
        with anyio.move_on_after(faults.faults.down_max_hold):
            async with anyio.create_task_group() as group:

                async def watch_disconnect() -> None:
                    nonlocal disconnected
                    while (await receive())["type"] != "http.disconnect":
                        pass
                    disconnected = True
                    group.cancel_scope.cancel()

                group.start_soon(watch_disconnect)
                # Polled: down mode and closing are switched from other threads.
                while (stalled or faults.faults.down) and not self.sim.closing.is_set():  # noqa: ASYNC110
                    await anyio.sleep(0.02)
                group.cancel_scope.cancel()
        if disconnected:
            self.sim.counters.record_response(0)
            return False
        if stalled or faults.faults.down or self.sim.closing.is_set():
            await drop(send, self.sim.counters, 503, FILLER)
        return True
