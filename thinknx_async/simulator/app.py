"""The ASGI application: Integration Kit API plus the ``/_sim/`` control endpoint."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .faults import Faults
from .handler import ApiHandler
from .personality import Personality
from .responses import Receive, Scope, Send
from .simulator import Simulator

CONTROL_PREFIX = "/_sim/"


def _json(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, separators=(",", ":")).encode()
    return Response(body, status, media_type="application/json")


class _Settings(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=_Settings)


async def _replace(
    request: Request, parse: Callable[[dict[str, Any]], S], apply: Callable[[S], None]
) -> Response:
    """Parse a JSON object into settings, apply them and answer them (400 when invalid)."""
    try:
        data = await request.json()
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        settings = parse(data)
    except (ValueError, TypeError) as exc:
        return _json({"error": str(exc)}, 400)
    apply(settings)
    return _json(settings.to_dict())


def control_routes(sim: Simulator) -> list[Route]:
    """Routes of the control endpoint (JSON in, JSON out)."""

    async def counters(request: Request) -> Response:
        return _json(sim.counters.snapshot())

    async def manifest(request: Request) -> Response:
        return _json(sim.manifest())

    async def get_faults(request: Request) -> Response:
        return _json(sim.faults.to_dict())

    async def put_faults(request: Request) -> Response:
        """PUT replaces every field (missing ones take defaults); PATCH changes only those given."""
        base = sim.faults if request.method == "PATCH" else Faults()
        return await _replace(request, lambda data: Faults.from_dict(data, base), sim.set_faults)

    async def get_personality(request: Request) -> Response:
        return _json(sim.personality.to_dict())

    async def put_personality(request: Request) -> Response:
        """PUT replaces every field (missing ones take defaults); PATCH changes only those given."""
        base = sim.personality if request.method == "PATCH" else Personality()
        return await _replace(
            request, lambda data: Personality.from_dict(data, base), sim.set_personality
        )

    async def reset(request: Request) -> Response:
        """Body (optional): ``{"counters": true, "state": true, "faults": false,
        "personality": false}``."""
        body = await request.body()
        try:
            options = json.loads(body) if body.strip() else {}
        except ValueError:
            return _json({"error": "invalid JSON"}, 400)
        sim.reset(
            state=bool(options.get("state", True)), counters=bool(options.get("counters", True))
        )
        if options.get("faults", False):
            sim.set_faults(Faults())
        if options.get("personality", False):
            sim.set_personality(Personality())
        return _json({"ok": True})

    async def device(request: Request) -> Response:
        try:
            return _json(sim.device_state(request.path_params["guid"]))
        except KeyError:
            return _json({"error": "device not found"}, 404)

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    return [
        Route("/_sim/health", health),
        Route("/_sim/counters", counters),
        Route("/_sim/manifest", manifest),
        Route("/_sim/faults", get_faults, methods=["GET"]),
        Route("/_sim/faults", put_faults, methods=["PUT", "PATCH"]),
        Route("/_sim/personality", get_personality, methods=["GET"]),
        Route("/_sim/personality", put_personality, methods=["PUT", "PATCH"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/state/{guid}", device),
    ]


class SimulatorApp(Starlette):
    """Starlette app whose Integration Kit requests bypass routing (the benchmark hot path)."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__(routes=control_routes(sim))
        self.sim = sim
        self.api = ApiHandler(sim)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            server = scope.get("server")
            local = server is not None and server[1] in self.sim.by_port
            # The control endpoint lives on the relay port only.
            if local or not scope["path"].startswith(CONTROL_PREFIX):
                await self.api(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def create_app(sim: Simulator) -> SimulatorApp:
    """The ASGI app serving ``sim`` (also usable in-process through ``httpx.ASGITransport``)."""
    return SimulatorApp(sim)
