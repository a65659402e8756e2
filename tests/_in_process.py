"""Sites reached in-process through the simulator's ASGI app: no sockets, no limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from thinknx_async import RetryPolicy, Session, Site
from thinknx_async.simulator import Project, Simulator, create_app


@asynccontextmanager
async def in_process_session(sim: Simulator) -> AsyncIterator[Session]:
    """A session talking to ``sim`` in-process, unthrottled, without retries."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(sim)))
    async with (
        client,
        Session(http_client=client, rate_limit=None, retry=RetryPolicy(max_attempts=1)) as session,
    ):
        yield session


def relay_sites(session: Session, project: Project) -> list[Site]:
    """Every simulated site, in project order, named as in the project."""
    return [
        session.on_premise("http://sim", s.key, allow_insecure=True, name=s.name)
        for s in project.sites
    ]
