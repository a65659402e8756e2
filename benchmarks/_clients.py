"""The clients the benchmarks compare, each as ``async with make(...) as call: await call()``.

Every client sends the same request (``power?guid=G&cmd=1`` through the relay form) and
decodes the JSON reply: the library through a device proxy (validation, throttling path,
typed reply), the bare clients by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any, cast
from urllib.parse import urlsplit

import aiohttp
import httpx

from thinknx_async import Session
from thinknx_async.cli.load import Call


class Target:
    """One device of one simulated site, reachable through the relay."""

    def __init__(self, relay_url: str, key: str, guid: str) -> None:
        self.relay_url = relay_url
        self.key = key
        self.guid = guid
        self.url = f"{relay_url}/{key}/api/V1/power?guid={guid}&cmd=1"

    @classmethod
    def from_manifest(cls, manifest: dict[str, Any], index: int = 0) -> Target:
        site = manifest["sites"][index]
        return cls(manifest["relay_url"], site["key"], site["devices"]["light"][0])


@contextlib.asynccontextmanager
async def library(target: Target, concurrency: int, transport: str) -> AsyncIterator[Call]:
    """The library, unthrottled (the point is the client's own cost), ``transport`` chosen."""
    session = Session(
        rate_limit=None,
        max_in_flight=concurrency,
        max_connections=max(100, concurrency),
        transport="aiohttp" if transport == "aiohttp" else "httpx",
    )
    async with session:
        light = session.on_premise(target.relay_url, target.key, allow_insecure=True).light(
            target.guid
        )
        yield light.turn_on


def _check(status: int, body: bytes) -> object:
    if status != 200:
        raise RuntimeError(f"HTTP {status}")
    return json.loads(body)


@contextlib.asynccontextmanager
async def httpx_default(target: Target, concurrency: int) -> AsyncIterator[Call]:
    """One ``httpx.AsyncClient`` with its default limits (100 connections, 20 kept alive)."""
    async with httpx.AsyncClient() as client:

        async def call() -> object:
            reply = await client.get(target.url)
            return _check(reply.status_code, reply.content)

        yield call


@contextlib.asynccontextmanager
async def httpx_sharded(
    target: Target, concurrency: int, clients: int = 0, per_client: int = 10
) -> AsyncIterator[Call]:
    """The best hand-tuned httpx found: several small clients, at most ``per_client`` requests
    in each at once (so none ever queues inside httpx), keep-alive limit = connection limit.

    ``clients=0`` makes just enough of them for ``concurrency``.
    """
    count = clients or max(1, -(-concurrency // per_client))
    limits = httpx.Limits(max_connections=per_client, max_keepalive_connections=per_client)
    async with contextlib.AsyncExitStack() as stack:
        pool: list[tuple[httpx.AsyncClient, asyncio.Semaphore]] = [
            (
                await stack.enter_async_context(httpx.AsyncClient(limits=limits)),
                asyncio.Semaphore(per_client),
            )
            for _ in range(count)
        ]
        turn = itertools.cycle(pool)

        async def call() -> object:
            client, slots = next(turn)
            async with slots:
                reply = await client.get(target.url)
            return _check(reply.status_code, reply.content)

        yield call


@contextlib.asynccontextmanager
async def httpx_limits(target: Target, concurrency: int, connections: int) -> AsyncIterator[Call]:
    """One client with ``Limits(connections, connections)``."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits) as client:

        async def call() -> object:
            reply = await client.get(target.url)
            return _check(reply.status_code, reply.content)

        yield call


@contextlib.asynccontextmanager
async def bare_aiohttp(target: Target, concurrency: int) -> AsyncIterator[Call]:
    """One ``aiohttp.ClientSession`` with its default connector (100 connections)."""
    async with aiohttp.ClientSession() as session:

        async def call() -> object:
            async with session.get(target.url) as reply:
                return _check(reply.status, await reply.read())

        yield call


class _RawConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time, minimal parsing."""

    def __init__(self, request: bytes) -> None:
        self._request = request
        self._buffer = b""
        self._waiter: asyncio.Future[bytes] | None = None
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self._buffer[:end].lower()
        start = head.find(b"content-length:")
        length = 0
        if start >= 0:
            stop = head.find(b"\r\n", start)
            length = int(head[start + 15 : stop if stop >= 0 else len(head)])
        total = end + 4 + length
        if len(self._buffer) >= total and self._waiter is not None:
            body, self._buffer = self._buffer[end + 4 : total], self._buffer[total:]
            self._waiter.set_result(body)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc or ConnectionError("closed"))

    async def call(self) -> object:
        assert self._transport is not None
        self._waiter = asyncio.get_running_loop().create_future()
        self._transport.write(self._request)
        return json.loads(await self._waiter)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()


@contextlib.asynccontextmanager
async def raw_socket(target: Target, concurrency: int) -> AsyncIterator[Call]:
    """A bare asyncio socket client: the cheapest possible client, to find the server's ceiling.

    One connection per concurrent caller (callers take connections from a free list).
    """
    parts = urlsplit(target.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = (
        f"GET {parts.path}?{parts.query} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        "Accept: application/json\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    free: list[_RawConnection] = []
    made: list[_RawConnection] = []
    try:

        async def call() -> object:
            if free:
                connection = free.pop()
            else:
                _, connection = await loop.create_connection(
                    lambda: _RawConnection(request), host, port
                )
                made.append(connection)
            result = await connection.call()
            free.append(connection)
            return result

        yield call
    finally:
        for connection in made:
            connection.close()
