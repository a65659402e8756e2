"""Fixtures: the project's simulator on real loopback sockets, and sites in every access mode."""

from __future__ import annotations

import ssl
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from thinknx_async import Session, Site
from thinknx_async.simulator import Project, Simulator, SimulatorConfig, SimulatorThread

MODES = ["digest", "basic", "query", "relay-http", "relay-https"]


@pytest.fixture(scope="module")
def plain_server() -> Iterator[tuple[Simulator, SimulatorThread]]:
    """Three sites over plain HTTP; the first has its own local port."""
    sim = Simulator(Project.generate(sites=3, seed=7), SimulatorConfig(local_ports=1))
    with SimulatorThread(sim) as server:
        yield sim, server


@pytest.fixture(scope="module")
def tls_server() -> Iterator[tuple[Simulator, SimulatorThread]]:
    """The same over HTTPS, with a generated CA."""
    sim = Simulator(Project.generate(sites=3, seed=7), SimulatorConfig(local_ports=1, tls=True))
    with SimulatorThread(sim) as server:
        yield sim, server


def first_site(server: SimulatorThread) -> dict[str, Any]:
    site: dict[str, Any] = server.manifest()["sites"][0]
    return site


def open_site(session: Session, server: SimulatorThread, mode: str) -> Site:
    """The first simulated site, reached in ``mode``."""
    entry = first_site(server)
    if mode.startswith("relay"):
        return session.on_premise(
            server.relay_url, entry["key"], allow_insecure=mode == "relay-http"
        )
    url = httpx.URL(entry["local_url"])
    assert url.host and url.port
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the query mode's clear-text warning is tested apart
        return session.local(
            url.host,
            port=url.port,
            username=entry["username"],
            password=entry["password"],
            auth=mode,  # type: ignore[arg-type]
        )


def ca_context(server: SimulatorThread) -> ssl.SSLContext:
    assert server.ca_file is not None
    return ssl.create_default_context(cafile=str(server.ca_file))
