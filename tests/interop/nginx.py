"""nginx as an Integration Kit relay: TLS, the key in the path, optional ``limit_req``.

``nginx_relay`` writes a configuration under a fresh directory, starts Debian's nginx on free
127.0.0.1 ports and stops it on exit. It serves ``https://127.0.0.1:PORT/KEY/api/V1/...``:

* a :class:`LocalRoute` maps one key to a server's *local* form: nginx rewrites
  ``/KEY/api/V1/X?Q`` to ``/api/V1/X?auth=basic&Q`` and adds the server's Basic credentials,
  so the key is all a client needs (what an on-premise relay does);
* ``relay_origin`` passes every other key unchanged to an upstream already speaking the relay
  form (a simulator's relay port); without it nginx answers an unknown key itself with 403.

A plain-HTTP port answers everything with ``301`` to the same path over HTTPS. With a
:class:`Limit`, nginx's ``limit_req`` guards the API per key (or for the whole relay) and
answers ``429`` with ``Retry-After``. Usable from tests and benchmarks alike::

    with nginx_relay([LocalRoute(key, origin, user, password)], limit=Limit("5r/s")) as relay:
        site = session.on_premise(relay.https_url, key)
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from thinknx_async.simulator.runner import TlsFiles

from ._process import ServerProcess, find_binary, start_with_free_ports

__all__ = ["Limit", "LocalRoute", "NginxRelay", "local_routes", "nginx_relay"]

_RATE = re.compile(r"[1-9][0-9]*r/[sm]")
_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ORIGIN = re.compile(r"http://127\.0\.0\.1:[0-9]{1,5}")


@dataclass(frozen=True, slots=True)
class Limit:
    """The figures of one ``limit_req`` rule (see nginx's ngx_http_limit_req_module)."""

    rate: str
    """nginx's own notation: ``"10r/s"`` or ``"30r/m"`` (whole requests only)."""
    burst: int = 0
    """Requests beyond the rate that are still let through."""
    nodelay: bool = True
    """Let the burst through at once (``False``: nginx delays them to the rate instead)."""
    retry_after: int | None = 1
    """Seconds in ``Retry-After`` on every 429 (``None``: no such header)."""
    per: Literal["key", "relay"] = "key"
    """One bucket per Integration Kit key, or one for the whole relay."""

    def __post_init__(self) -> None:
        if not _RATE.fullmatch(self.rate):
            raise ValueError(f"rate must read like '10r/s' or '30r/m', got {self.rate!r}")
        if self.burst < 0 or (self.retry_after is not None and self.retry_after < 0):
            raise ValueError("burst and retry_after cannot be negative")


@dataclass(frozen=True, slots=True)
class LocalRoute:
    """One key served by a server's local form at ``origin`` with Basic credentials."""

    key: str
    origin: str
    """``http://127.0.0.1:PORT`` of the server."""
    username: str
    password: str

    def __post_init__(self) -> None:
        if not _KEY.fullmatch(self.key):
            raise ValueError("a key is letters, digits, '-' and '_'")
        if not _ORIGIN.fullmatch(self.origin):
            raise ValueError(f"origin must be http://127.0.0.1:PORT, got {self.origin!r}")

    @property
    def authorization(self) -> str:
        """The ``Authorization`` value nginx adds for this server."""
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return f"Basic {token}"


def local_routes(manifest: dict[str, Any]) -> list[LocalRoute]:
    """A route for every site of a simulator manifest that answers in local form."""
    return [
        LocalRoute(site["key"], site["local_url"], site["username"], site["password"])
        for site in manifest["sites"]
        if site.get("local_url")
    ]


@dataclass(frozen=True, slots=True)
class NginxRelay:
    """A running relay: where to reach it and how to trust it."""

    https_url: str
    """``https://127.0.0.1:PORT``: the relay's root, for ``session.on_premise``."""
    http_url: str
    """``http://127.0.0.1:PORT``: answers every request with a 301 to ``https_url``."""
    ca_file: str
    """The generated CA that signed the relay's certificate."""
    process: ServerProcess

    def ssl_context(self) -> ssl.SSLContext:
        """A client context trusting the relay's CA."""
        return ssl.create_default_context(cafile=self.ca_file)

    def error_log(self) -> str:
        """nginx's output, error log and access log, for a failure report."""
        return self.process.error_log()

    def access_log(self, at_least: int = 0) -> list[str]:
        """``STATUS METHOD URI`` (the key masked) per request, once there are ``at_least``."""
        return self.process.log_lines("access.log", at_least)


def _user_directive() -> str:
    # As root the workers would switch to "nobody", who cannot read a private temp directory.
    return "user root;" if os.geteuid() == 0 else ""


def _limit_lines(limit: Limit | None) -> tuple[str, str]:
    """(http-level lines, location-level lines) of the rate limit."""
    if limit is None:
        return "", ""
    key = "$thinknx_key" if limit.per == "key" else "$server_port"
    http = f"limit_req_zone {key} zone=thinknx:1m rate={limit.rate};\n"
    burst = f" burst={limit.burst}" if limit.burst else ""  # nginx refuses "burst=0"
    nodelay = " nodelay" if limit.nodelay else ""
    location = f"limit_req zone=thinknx{burst}{nodelay};\nlimit_req_status 429;\n"
    if limit.retry_after is not None:
        # add_header skips error statuses unless "always"; an empty value adds nothing.
        http += f'map $status $thinknx_retry_after {{ 429 "{limit.retry_after}"; default ""; }}\n'
        location += "add_header Retry-After $thinknx_retry_after always;\n"
    return http, location


def render_config(
    directory: Path,
    https_port: int,
    http_port: int,
    routes: Sequence[LocalRoute],
    relay_origin: str | None,
    limit: Limit | None,
) -> str:
    """The whole nginx.conf (every path inside ``directory``)."""
    d = directory
    limit_http, limit_location = _limit_lines(limit)
    origins = {route.origin for route in routes}
    if relay_origin is not None:
        origins.add(relay_origin)
    upstreams = sorted(origins)
    names = {origin: f"origin{i}" for i, origin in enumerate(upstreams)}
    blocks = [
        f"upstream {names[o]} {{ server {o.removeprefix('http://')}; keepalive 16; }}"
        for o in upstreams
    ]
    proxy = (
        "proxy_http_version 1.1;\n"
        '        proxy_set_header Connection "";\n'
        "        proxy_buffering off;\n"
    )
    locations = []
    for route in routes:
        locations.append(
            f"""    location /{route.key}/api/V1/ {{
        {limit_location}rewrite ^/{route.key}(/api/V1/.*)$ $1?auth=basic break;
        proxy_set_header Authorization "{route.authorization}";
        {proxy}        proxy_pass http://{names[route.origin]};
    }}"""
        )
    if relay_origin is not None:
        fallback = f"""    location / {{
        {limit_location}proxy_set_header Authorization "";
        {proxy}        proxy_pass http://{names[relay_origin]};
    }}"""
    else:
        fallback = """    location / {
        return 403 '{"error":"wrong authentication information"}';
    }"""
    temp = "\n".join(
        f"{kind}_temp_path {d}/tmp/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{_user_directive()}
daemon off;
master_process on;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log info;
events {{ worker_connections 1024; }}
http {{
    log_format thinknx '$status $request_method $thinknx_logged_uri';
    access_log {d}/access.log thinknx;
    server_tokens off;
    default_type application/json;
{temp}
    map $request_uri $thinknx_key {{ "~^/(?<key>[A-Za-z0-9_-]+)/api/V1/" $key; default ""; }}
    map $request_uri $thinknx_logged_uri {{
        "~^/[A-Za-z0-9_-]+(?<rest>/api/V1/.*)$" "/***$rest"; default $request_uri;
    }}
    {limit_http}
    {chr(10).join(blocks)}
    server {{
        listen 127.0.0.1:{http_port};
        return 301 https://127.0.0.1:{https_port}$request_uri;
    }}
    server {{
        listen 127.0.0.1:{https_port} ssl;
        ssl_certificate {d}/server.pem;
        ssl_certificate_key {d}/server.pem;
        keepalive_requests 10000;
{chr(10).join(locations)}
{fallback}
    }}
}}
"""


@contextmanager
def nginx_relay(
    routes: Sequence[LocalRoute] = (),
    *,
    relay_origin: str | None = None,
    limit: Limit | None = None,
    directory: str | Path | None = None,
) -> Iterator[NginxRelay]:
    """Run nginx as a TLS relay for ``routes`` (and ``relay_origin``) until the block ends.

    Raises ServerUnavailable when nginx is not installed, ServerStartError (with nginx's log)
    when it does not start. The configuration, certificates and logs live in ``directory``
    (a fresh temporary directory, removed afterwards, when not given).
    """
    binary = find_binary(["nginx"], "nginx")
    if relay_origin is not None and not _ORIGIN.fullmatch(relay_origin):
        raise ValueError(f"relay_origin must be http://127.0.0.1:PORT, got {relay_origin!r}")
    with tempfile.TemporaryDirectory(prefix="thinknx-nginx-") as scratch:
        d = Path(directory) if directory is not None else Path(scratch)
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (d / "tmp" / kind).mkdir(parents=True, exist_ok=True)
        tls = TlsFiles(d)
        tls.cert.private_key_and_cert_chain_pem.write_to_path(str(d / "server.pem"))
        conf = d / "nginx.conf"

        def launch(ports: list[int]) -> ServerProcess:
            https_port, http_port = ports
            conf.write_text(render_config(d, https_port, http_port, routes, relay_origin, limit))
            return ServerProcess(
                "nginx",
                [binary, "-p", str(d), "-c", str(conf)],
                ports=ports,
                directory=d,
                pid_file="nginx.pid",
            )

        process = start_with_free_ports(2, launch)
        try:
            https_port, http_port = process.ports
            yield NginxRelay(
                https_url=f"https://127.0.0.1:{https_port}",
                http_url=f"http://127.0.0.1:{http_port}",
                ca_file=str(tls.ca_file),
                process=process,
            )
        finally:
            process.stop()
