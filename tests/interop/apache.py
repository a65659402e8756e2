"""Apache httpd in front of a server's API: the local form with Digest or Basic authentication.

``apache_local`` writes a configuration under a fresh directory, starts Debian's ``apache2``
(``httpd`` elsewhere) on two free 127.0.0.1 ports and stops it on exit:

* the Digest port answers ``/api/V1/...`` behind ``mod_auth_digest`` (qop=auth, MD5, nonces
  that go stale after ``nonce_lifetime`` seconds, nonce counts checked on request);
* the Basic port answers the same behind ``mod_auth_basic``.

Apache checks the credentials itself (against files written here, passwords as UTF-8) and
proxies what it lets through to ``origin``'s relay form, ``/KEY/api/V1/...``, which asks for
no further authentication.
"""

from __future__ import annotations

import base64
import hashlib
import os
import pwd
import re
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ._process import ServerProcess, ServerUnavailable, find_binary, start_with_free_ports

__all__ = ["ApacheLocal", "apache_local"]

MODULE_DIRS = ("/usr/lib/apache2/modules", "/usr/lib64/httpd/modules", "/usr/lib/httpd/modules")
MODULES = {
    "mpm_event": "mod_mpm_event.so",
    "authn_core": "mod_authn_core.so",
    "authn_file": "mod_authn_file.so",
    "authz_core": "mod_authz_core.so",
    "authz_user": "mod_authz_user.so",
    "auth_basic": "mod_auth_basic.so",
    "auth_digest": "mod_auth_digest.so",
    "proxy": "mod_proxy.so",
    "proxy_http": "mod_proxy_http.so",
}
_ORIGIN = re.compile(r"http://127\.0\.0\.1:[0-9]{1,5}")
_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class ApacheLocal:
    """A running Apache: the two local-form ports and its logs."""

    digest_port: int
    basic_port: int
    realm: str
    process: ServerProcess

    def error_log(self) -> str:
        """Apache's output, error log and access log, for a failure report."""
        return self.process.error_log()

    def access_log(self, at_least: int = 0) -> list[str]:
        """``STATUS METHOD PATH "WWW-Authenticate sent"`` per request, once ``at_least``."""
        return self.process.log_lines("access.log", at_least)


def _module_dir() -> Path:
    for candidate in MODULE_DIRS:
        if (Path(candidate) / MODULES["auth_digest"]).exists():
            return Path(candidate)
    raise ServerUnavailable(f"Apache's modules (mod_auth_digest) not found in {MODULE_DIRS}")


def _privileges() -> str:
    """Started as root, Apache's workers must switch to an unprivileged user (it refuses root);
    as anybody else they stay who they are and these lines are not needed."""
    if os.geteuid() != 0:
        return ""
    for name in ("www-data", "apache", "daemon", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return f"User #{entry.pw_uid}\nGroup #{entry.pw_gid}\n"
    raise ServerUnavailable("no unprivileged user for Apache's workers")


def _write_users(directory: Path, realm: str, users: Mapping[str, str]) -> None:
    """htdigest and htpasswd ({SHA}) files, hashing each password's UTF-8 bytes."""
    digest_lines, basic_lines = [], []
    for user, password in users.items():
        ha1 = hashlib.md5(f"{user}:{realm}:{password}".encode()).hexdigest()
        digest_lines.append(f"{user}:{realm}:{ha1}\n")
        sha = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
        basic_lines.append(f"{user}:{{SHA}}{sha}\n")
    (directory / "digest.users").write_text("".join(digest_lines))
    (directory / "basic.users").write_text("".join(basic_lines))


def render_config(
    directory: Path,
    modules: Path,
    ports: tuple[int, int],
    origin: str,
    key: str,
    realm: str,
    nonce_lifetime: int,
    nc_check: bool,
) -> str:
    """The whole httpd.conf (every path inside ``directory``)."""
    d = directory
    digest_port, basic_port = ports
    loads = "\n".join(f"LoadModule {name}_module {modules}/{f}" for name, f in MODULES.items())
    proxy = f'ProxyPass "/api/V1/" "{origin}/{key}/api/V1/"'
    return f"""ServerRoot "{d}"
ServerName 127.0.0.1
PidFile "{d}/httpd.pid"
DefaultRuntimeDir "{d}"
Mutex file:{d} default
ErrorLog "{d}/error.log"
LogLevel warn auth_digest:info
{loads}
{_privileges()}StartServers 1
ServerLimit 1
ThreadLimit 32
ThreadsPerChild 32
MaxRequestWorkers 32
MinSpareThreads 1
MaxSpareThreads 32
LogFormat "%>s %m %U \\"%{{WWW-Authenticate}}o\\"" thinknx
CustomLog "{d}/access.log" thinknx
Listen 127.0.0.1:{digest_port}
Listen 127.0.0.1:{basic_port}
<VirtualHost 127.0.0.1:{digest_port}>
    <Location "/api/V1/">
        AuthType Digest
        AuthName "{realm}"
        AuthDigestProvider file
        AuthUserFile "{d}/digest.users"
        AuthDigestDomain /api/V1/
        AuthDigestNonceLifetime {nonce_lifetime}
        AuthDigestNcCheck {"On" if nc_check else "Off"}
        Require valid-user
    </Location>
    {proxy}
</VirtualHost>
<VirtualHost 127.0.0.1:{basic_port}>
    <Location "/api/V1/">
        AuthType Basic
        AuthName "{realm}"
        AuthBasicProvider file
        AuthUserFile "{d}/basic.users"
        Require valid-user
    </Location>
    {proxy}
</VirtualHost>
"""


@contextmanager
def apache_local(
    origin: str,
    key: str,
    users: Mapping[str, str],
    *,
    realm: str = "Thinknx",
    nonce_lifetime: int = 300,
    nc_check: bool = False,
) -> Iterator[ApacheLocal]:
    """Run Apache as the local form of the server behind ``origin``'s ``key`` until the block
    ends; ``users`` maps each user name to its password. ``nc_check`` turns on
    ``AuthDigestNcCheck`` (refuse a nonce count not above the highest seen for its nonce).

    Raises ServerUnavailable when Apache or its modules are missing, ServerStartError (with
    Apache's log) when it does not start.
    """
    binary = find_binary(["apache2", "httpd"], "apache2")
    modules = _module_dir()
    if not _ORIGIN.fullmatch(origin) or not _KEY.fullmatch(key):
        raise ValueError("origin must be http://127.0.0.1:PORT and key URL-safe")
    with tempfile.TemporaryDirectory(prefix="thinknx-apache-") as scratch:
        d = Path(scratch)
        d.chmod(0o755)  # the workers, maybe another user, read the password files on each request
        _write_users(d, realm, users)
        conf = d / "httpd.conf"

        def launch(ports: list[int]) -> ServerProcess:
            pair = (ports[0], ports[1])
            conf.write_text(
                render_config(d, modules, pair, origin, key, realm, nonce_lifetime, nc_check)
            )
            return ServerProcess(
                "apache",
                [binary, "-d", str(d), "-f", str(conf), "-DFOREGROUND"],
                ports=ports,
                directory=d,
                pid_file="httpd.pid",
            )

        process = start_with_free_ports(2, launch)
        try:
            yield ApacheLocal(process.ports[0], process.ports[1], realm, process)
        finally:
            process.stop()
