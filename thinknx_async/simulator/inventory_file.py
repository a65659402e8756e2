"""An inventory file of the sites a running simulator serves (``--write-inventory FILE``).

The format is the client's (``docs/inventory.md``); it is written here as text, so that the
simulator stays independent of the library it stands in front of.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from .project import KINDS, Project

__all__ = ["check_writable", "inventory_toml", "write_inventory"]


def _quoted(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text)


def inventory_toml(
    project: Project, relay_url: str, local_urls: Mapping[str, str], ca_file: str | None
) -> str:
    """Every site through the relay (tag ``relay``), and each site that has a local port once
    more as ``NAME-local`` (tag ``local``); aliases ``KIND_N`` (``light_1``, ``scene_2``...)
    name the same position on every site, each its own GUID."""
    kinds = [kind for kind in KINDS if any(site.devices_by_kind()[kind] for site in project.sites)]
    counts = {
        kind: max(len(site.devices_by_kind()[kind]) for site in project.sites) for kind in kinds
    }
    lines = ["# Written by the Thinknx simulator: the sites it serves, ready for `thinknx`."]
    if ca_file:
        lines.append(f"# HTTPS: pass --ca-file {ca_file}")
    lines += ["version = 1", "", "[aliases]"]
    lines += [f"{kind}_{n} = {_quoted(kind)}" for kind in kinds for n in range(1, counts[kind] + 1)]
    insecure = "true" if relay_url.startswith("http://") else "false"
    lines += ["", "[defaults]", 'mode = "relay"', f"url = {_quoted(relay_url)}"]
    lines.append(f"allow_insecure = {insecure}")
    for site in project.sites:
        devices = site.devices_by_kind()
        aliases = [
            f"{kind}_{n} = {_quoted(guid)}"
            for kind in kinds
            for n, guid in enumerate(devices[kind], start=1)
        ]
        lines += ["", f"[sites.{_quoted(site.name)}]", f"key = {_quoted(site.key)}"]
        lines += ['tags = ["simulated", "relay"]', "", f"[sites.{_quoted(site.name)}.aliases]"]
        lines += aliases
        url = local_urls.get(site.name)
        if url is None:
            continue
        scheme, _, authority = url.partition("://")
        host, _, port = authority.rpartition(":")
        name = _quoted(f"{site.name}-local")
        lines += ["", f"[sites.{name}]", 'mode = "local"', f"scheme = {_quoted(scheme)}"]
        lines += [f"host = {_quoted(host.strip('[]'))}", f"port = {int(port)}"]
        lines += [f"username = {_quoted(site.username)}", f"password = {_quoted(site.password)}"]
        lines += ['tags = ["simulated", "local"]', "", f"[sites.{name}.aliases]", *aliases]
    return "\n".join(lines) + "\n"


def check_writable(path: str | Path) -> Path:
    """``path`` if a file can be written there, else :class:`OSError` saying why (before the
    simulator starts serving)."""
    file = Path(path)
    if file.is_dir():
        raise OSError(f"--write-inventory {file}: is a directory, not a file")
    if not file.parent.is_dir():
        raise OSError(f"--write-inventory {file}: the directory {file.parent} does not exist")
    return file


def write_inventory(path: str | Path, text: str) -> Path:
    """Write ``text`` so that a reader never sees a half-written file; the path."""
    file = check_writable(path)
    tmp = file.with_name(file.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, file)
    return file
