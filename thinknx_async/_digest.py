"""Digest authentication over the session's pool, by httpx's own Digest flow.

The flow asks for the request, reads the reply (a 401 challenge with a nonce) and asks for the
same request again with its answer; only the ``Authorization`` header it adds is sent besides
the request's own headers.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx

from ._pool import Pool, Reply, Tokens

__all__ = ["send_with_digest"]


async def send_with_digest(
    pool: Pool,
    auth: httpx.Auth,
    method: str,
    url: str,
    headers: Mapping[str, str] | None,
    body: bytes | None,
    tokens: Tokens | None = None,
) -> Reply:
    """Send through ``pool``, answering the server's challenge: the last reply (``tokens`` go
    with every request of the exchange, as one attempt's)."""
    flow = auth.async_auth_flow(httpx.Request(method, url, headers=headers, content=body))
    request = await flow.__anext__()
    while True:
        answer = request.headers.get("authorization")
        # First, where Basic's header goes too: right after the session's own headers.
        sent = headers if answer is None else {"authorization": answer, **(headers or {})}
        reply = await pool.fetch(method, url, sent, body, tokens)
        status, reply_headers, content = reply
        response = httpx.Response(status, headers=reply_headers, content=content)
        response.request = request
        try:
            request = await flow.asend(response)
        except StopAsyncIteration:
            return reply
