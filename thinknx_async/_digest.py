"""Digest authentication over the session's pool, by httpx's Digest answers.

The flow asks for the request, reads the reply (a 401 challenge with a nonce) and asks for the
same request again with its answer; only the ``Authorization`` header it adds is sent besides
the request's own headers.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from ._transport import Outgoing, Pool, Reply, Tokens

__all__ = ["SiteDigestAuth", "send_with_digest"]

_ANSWERS = 2  # after a challenge: its answer, and one more for an answer that was overtaken


class SiteDigestAuth(httpx.DigestAuth):
    """httpx's Digest answers, shared by the concurrent requests of one site.

    Each answer carries the next nonce count. Two requests of a site in flight can reach the
    server in the other order, and a server that checks nonce counts (Apache's
    ``AuthDigestNcCheck On``) then refuses the lower one. httpx's own flow answers that 401 with
    the count reset to 1, which such a server refuses again: here the count starts over only
    for a new nonce, and a refused answer gets one more, so a right password is never taken for
    a wrong one. A wrong password costs one request more than with httpx (three in all).
    """

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self._last_challenge:
            request.headers["Authorization"] = self._build_auth_header(
                request, self._last_challenge
            )
        response = yield request
        for _ in range(_ANSWERS):
            header = _digest_challenge(response)
            if header is None:
                return
            challenge = self._parse_challenge(request, response, header)
            if self._last_challenge is None or challenge.nonce != self._last_challenge.nonce:
                self._nonce_count = 1
            self._last_challenge = challenge
            request.headers["Authorization"] = self._build_auth_header(request, challenge)
            response = yield request


def _digest_challenge(response: httpx.Response) -> str | None:
    """The ``WWW-Authenticate: Digest ...`` header of a 401, if it is one."""
    if response.status_code != 401:
        return None
    for header in response.headers.get_list("www-authenticate"):
        if header.lower().startswith("digest "):
            return header
    return None


async def send_with_digest(
    pool: Pool, auth: httpx.Auth, outgoing: Outgoing, tokens: Tokens | None = None
) -> Reply:
    """Send through ``pool``, answering the server's challenge: the last reply (``tokens`` go
    with every request of the exchange, as one attempt's)."""
    method, url, headers = outgoing.method, outgoing.url, outgoing.headers
    flow = auth.async_auth_flow(httpx.Request(method, url, headers=headers, content=outgoing.body))
    request = await flow.__anext__()
    while True:
        answer = request.headers.get("authorization")
        # First, where Basic's header goes too: right after the session's own headers.
        sent = (
            outgoing
            if answer is None
            else outgoing.with_headers({"authorization": answer, **(headers or {})})
        )
        reply = await pool.fetch(sent, tokens)
        status, reply_headers, content = reply
        response = httpx.Response(status, headers=reply_headers, content=content)
        response.request = request
        try:
            request = await flow.asend(response)
        except StopAsyncIteration:
            return reply
