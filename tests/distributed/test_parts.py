"""The pieces that need no cluster: sharding, and what crosses the wire."""

from __future__ import annotations

import threading
from collections import Counter

import pytest

from thinknx_async import Inventory, RateLimitedError, ServerError, Session, Site
from thinknx_async.distributed import DaskFleet, RemoteError
from thinknx_async.distributed._shard import host_of, shard
from thinknx_async.distributed._wire import entry_fields, label_site, pack, rebuild_entry, unpack
from thinknx_async.errors import SessionError, ValidationError

from ._ops import status

WORKERS = ["tcp://a:1", "tcp://b:1", "tcp://c:1"]


def _inventory(hosts: dict[str, int], local: int = 0) -> Inventory:
    sites: dict[str, dict[str, object]] = {}
    for host, count in hosts.items():
        for i in range(count):
            sites[f"{host}-{i}"] = {"mode": "relay", "url": f"https://{host}:8443", "key": f"k{i}"}
    for i in range(local):
        sites[f"house-{i}"] = {"mode": "local", "host": f"10.0.0.{i + 1}", "username": "u",
                               "password": "p"}  # fmt: skip
    return Inventory.from_dict({"sites": sites})


def test_a_host_with_a_shared_limit_goes_whole_to_one_worker() -> None:
    inventory = _inventory({"r1": 450, "r2": 120, "r3": 30}, local=60)
    chunks = shard(inventory.sites, WORKERS, chunk_size=100, shared_limit=True)
    indices = [i for c in chunks for i in c.indices]
    assert sorted(indices) == list(range(len(inventory)))  # every site exactly once
    assert all(1 <= len(c.indices) <= 100 for c in chunks)
    workers_of: dict[str, set[str]] = {}
    for chunk in chunks:
        for i in chunk.indices:
            workers_of.setdefault(host_of(inventory.sites[i]), set()).add(chunk.worker)
    for host in ("r1", "r2", "r3"):
        assert len(workers_of[host]) == 1
    assert len(workers_of["r1"] | workers_of["r2"] | workers_of["r3"]) == 3  # spread out
    assert [c.number for c in chunks] == list(range(len(chunks)))


def test_without_a_shared_limit_sites_are_dealt_out_evenly() -> None:
    inventory = _inventory({"r1": 600})
    chunks = shard(inventory.sites, WORKERS, chunk_size=50, shared_limit=False)
    load = Counter[str]()
    for chunk in chunks:
        load[chunk.worker] += len(chunk.indices)
    assert load == dict.fromkeys(WORKERS, 200)
    assert all(len(c.indices) == 50 for c in chunks)


def test_outcomes_cross_the_wire_with_their_typed_errors() -> None:
    error = RateLimitedError("429 from the relay", body={"error": "slow down"}, retry_after=2.5)
    index, value, back, attempts, elapsed, limited = unpack(pack(7, None, error, 3, 0.25, 2))
    assert (index, value, attempts, elapsed, limited) == (7, None, 3, 0.25, 2)
    assert isinstance(back, RateLimitedError)
    assert (back.message, back.status_code, back.retry_after, back.body) == (
        "429 from the relay", 429, 2.5, {"error": "slow down"})  # fmt: skip
    assert unpack(pack(1, {"on": True}, None, 1, 0.1, 0))[1:3] == ({"on": True}, None)
    assert isinstance(unpack(pack(1, None, ServerError("x", status_code=503), 1, 0, 0))[2],
                      ServerError)  # fmt: skip


def test_what_cannot_pickle_comes_back_as_a_remote_error() -> None:
    class Local(Exception):  # not importable: it cannot be pickled by reference
        pass

    _, _, error, *_ = unpack(pack(0, None, Local("boom"), 1, 0.0, 0))
    assert isinstance(error, RemoteError) and error.type_name == "Local"
    assert "boom" in str(error)
    _, value, error, *_ = unpack(pack(0, threading.Lock(), None, 1, 0.0, 0))
    assert value is None and isinstance(error, RemoteError)
    assert "cannot be pickled" in str(error)


@pytest.mark.asyncio
async def test_entries_travel_as_fields_and_label_sites_show_no_key() -> None:
    inventory = Inventory.from_dict(
        {"sites": {"rome": {"mode": "cloud", "key": "SecretKey123",
                            "aliases": {"lobby": {"guid": "1IzPszHWAEuvzxtXBMkzWQ",
                                                  "kind": "light"}}}}}
    )  # fmt: skip
    entry = inventory.sites[0]
    rebuilt = rebuild_entry(entry_fields(entry))
    assert rebuilt.name == "rome" and rebuilt.alias("lobby").guid == "1IzPszHWAEuvzxtXBMkzWQ"
    assert "SecretKey123" not in repr(rebuilt)
    session = Session(rate_limit=None)
    await session.aclose()
    site = label_site(entry, session)
    assert site.name == "rome" and site.kind == "cloud"
    assert site.url == "https://data.thinknx.eu/***/api/V1/"
    with pytest.raises(SessionError):
        await site.server_status()


def test_bad_arguments_are_refused_before_any_cluster() -> None:
    with pytest.raises(ValidationError):
        DaskFleet("local:2", chunk_size=0)
    with pytest.raises(SessionError):
        _ = DaskFleet("local:2").client


def test_what_cannot_travel_is_refused_before_any_cluster() -> None:
    with pytest.raises(ValidationError, match="http_client"):
        DaskFleet("local:2", session_options={"http_client": object()})
    with pytest.raises(ValidationError, match="session_options"):
        DaskFleet("local:2", session_options={"colour": "blue"})
    with pytest.raises(ValidationError, match="timeout"):
        DaskFleet("local:2", session_options={"timeout": -1})
    fleet = DaskFleet("local:2")
    lock = threading.Lock()

    async def closes_over_a_lock(site: Site) -> None:
        with lock:
            await site.server_status()

    with pytest.raises(ValidationError, match="must pickle"):
        fleet.fan_out([], closes_over_a_lock)
    with pytest.raises(ValidationError, match="concurrency"):
        fleet.fan_out([], status, concurrency=0)
    with pytest.raises(ValidationError, match="SiteEntry"):
        fleet.fan_out(["rome"], status)  # type: ignore[list-item]
