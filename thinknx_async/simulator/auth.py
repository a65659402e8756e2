"""Local-access authentication: HTTP Basic, RFC 7616 Digest, and query credentials.

Digest nonces are stateless (an HMAC-signed timestamp), so any number of clients can reuse
a challenge; the nonce count is accepted as sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from enum import Enum
from urllib.request import parse_http_list

_HASHES: dict[str, Callable[[bytes], hashlib._Hash]] = {
    "MD5": hashlib.md5,
    "MD5-SESS": hashlib.md5,
    "SHA-256": hashlib.sha256,
    "SHA-256-SESS": hashlib.sha256,
}


class AuthResult(Enum):
    """Outcome of checking a request's credentials."""

    OK = "ok"
    MISSING = "missing"
    """No usable credentials: answer 401 with a challenge."""
    WRONG = "wrong"
    """Credentials present but wrong (or refused): answer 403."""


def check_basic(header: bytes | None, username: str, password: str) -> AuthResult:
    """Check an ``Authorization: Basic`` header value."""
    if not header or header[:6].lower() != b"basic ":
        return AuthResult.MISSING
    try:
        user, sep, pwd = base64.b64decode(header[6:].strip(), validate=True).partition(b":")
    except (binascii.Error, ValueError):
        return AuthResult.WRONG
    ok = sep and _same(user, username.encode()) and _same(pwd, password.encode())
    return AuthResult.OK if ok else AuthResult.WRONG


def check_query(user: str | None, pwd: str | None, username: str, password: str) -> AuthResult:
    """Check ``user=..&pass=..`` credentials from the query or form body."""
    if user is None and pwd is None:
        return AuthResult.MISSING
    ok = _same((user or "").encode(), username.encode()) and _same(
        (pwd or "").encode(), password.encode()
    )
    return AuthResult.OK if ok else AuthResult.WRONG


def basic_challenge(realm: str) -> bytes:
    """``WWW-Authenticate`` value for Basic."""
    return f'Basic realm="{realm}", charset="UTF-8"'.encode()


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


class DigestAuthority:
    """Issues and verifies Digest challenges for one realm."""

    def __init__(
        self,
        realm: str,
        algorithms: tuple[str, ...] = ("SHA-256", "MD5"),
        nonce_lifetime: float = 300.0,
        secret: bytes | None = None,
    ) -> None:
        for algorithm in algorithms:
            if algorithm.upper() not in _HASHES:
                raise ValueError(f"unsupported digest algorithm {algorithm!r}")
        self.realm = realm
        self.algorithms = algorithms
        self.nonce_lifetime = nonce_lifetime
        self._secret = secret or secrets.token_bytes(32)
        self.opaque = hashlib.sha256(self._secret + realm.encode()).hexdigest()[:32]

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]

    def new_nonce(self, now: float | None = None) -> str:
        """A nonce carrying its issue time and a signature over it."""
        stamp = f"{(time.time() if now is None else now):.3f}"
        return f"{stamp}-{self._sign(stamp)}"

    def _nonce_fresh(self, nonce: str) -> bool:
        stamp, _, signature = nonce.partition("-")
        if not hmac.compare_digest(signature, self._sign(stamp)):
            return False
        try:
            age = time.time() - float(stamp)
        except ValueError:
            return False
        return -5.0 <= age <= self.nonce_lifetime

    def challenges(self, stale: bool = False) -> list[bytes]:
        """One ``WWW-Authenticate`` value per algorithm, preferred first."""
        nonce = self.new_nonce()
        extra = ", stale=true" if stale else ""
        return [
            (
                f'Digest realm="{self.realm}", qop="auth", algorithm={algorithm}, '
                f'nonce="{nonce}", opaque="{self.opaque}"{extra}'
            ).encode()
            for algorithm in self.algorithms
        ]

    def check(
        self, header: bytes | None, method: str, uri: str, username: str, password: str
    ) -> tuple[AuthResult, bool]:
        """Verify an ``Authorization: Digest`` value; also says whether the nonce was stale."""
        if not header or header[:7].lower() != b"digest ":
            return AuthResult.MISSING, False
        fields: dict[str, str] = {}
        for item in parse_http_list(header[7:].decode("latin-1")):
            name, _, value = item.strip().partition("=")
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            fields[name.lower()] = value
        algorithm = fields.get("algorithm", "MD5").upper()
        hash_func = _HASHES.get(algorithm)
        nonce = fields.get("nonce", "")
        if hash_func is None or fields.get("realm") != self.realm or "response" not in fields:
            return AuthResult.WRONG, False
        if fields.get("uri") != uri or not _same(
            fields.get("username", "").encode(), username.encode()
        ):
            return AuthResult.WRONG, False
        if not self._nonce_fresh(nonce):
            return AuthResult.MISSING, True

        def h(data: str) -> str:
            return hash_func(data.encode()).hexdigest()

        ha1 = h(f"{username}:{self.realm}:{password}")
        if algorithm.endswith("-SESS"):
            ha1 = h(f"{ha1}:{nonce}:{fields.get('cnonce', '')}")
        ha2 = h(f"{method}:{uri}")
        qop = fields.get("qop")
        if qop == "auth":
            expected = h(
                f"{ha1}:{nonce}:{fields.get('nc', '')}:{fields.get('cnonce', '')}:auth:{ha2}"
            )
        elif qop is None:
            expected = h(f"{ha1}:{nonce}:{ha2}")
        else:
            return AuthResult.WRONG, False
        ok = hmac.compare_digest(expected, fields["response"].lower())
        return (AuthResult.OK if ok else AuthResult.WRONG), False
