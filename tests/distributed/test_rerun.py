"""A chunk that runs again reads its claim first: the rule, without killing anything."""

from __future__ import annotations

from typing import Any

import pytest
from distributed import LocalCluster, Queue, Variable

from thinknx_async import RetryPolicy
from thinknx_async.distributed import DaskFleet, MayHaveBeenSentError
from thinknx_async.distributed._wire import entry_fields, unpack
from thinknx_async.distributed._worker import ChunkTask, run_chunk
from thinknx_async.simulator import Project, SimulatorThread

from ._ops import status
from .conftest import inventory_of

pytestmark = [pytest.mark.asyncio, pytest.mark.timeout(120)]


@pytest.mark.parametrize("idempotent", [False, True])
async def test_a_rerun_skips_reported_sites_and_sends_claimed_ones_only_if_idempotent(
    cluster: LocalCluster, server: SimulatorThread, project: Project, idempotent: bool
) -> None:
    entries = inventory_of(project, server.relay_url).sites[:6]
    options = {"rate_limit": None, "retry": RetryPolicy(max_attempts=1)}
    async with DaskFleet(cluster, session_options=options) as fleet:
        client = fleet.client
        claim, queue_name = f"test-claim-{idempotent}", f"test-queue-{idempotent}"
        # As a first run that died left it: 0 and 1 reported, 2 and 3 started, 4 and 5 not.
        await Variable(claim, client=client).set({"claimed": [0, 1, 2, 3], "reported": [0, 1]})
        queue = await Queue(queue_name, client=client)
        task = ChunkTask(
            run="test", plugin=fleet._plugin, claim=claim, queue=queue_name,
            items=tuple((i, entry_fields(e)) for i, e in enumerate(entries)),
            operation=status, idempotent=idempotent, pass_fleet=False, concurrency=4,
            stop=f"test-stop-{idempotent}",
        )  # fmt: skip
        sent = await client.submit(run_chunk, task, key=f"test-chunk-{idempotent}", pure=False)
        outcomes: dict[int, Any] = {}
        for batch in await queue.get(batch=True):
            for data in batch:
                index, _value, error, *_ = unpack(data)
                assert index not in outcomes
                outcomes[index] = error
        record = await Variable(claim, client=client).get()
    assert sorted(outcomes) == [2, 3, 4, 5]  # the reported ones are not reported again
    requests = [server.sim.counters.requests(site=e.name) for e in entries]
    if idempotent:
        assert sent == 4 and requests == [0, 0, 1, 1, 1, 1]
        assert all(error is None for error in outcomes.values())
    else:
        assert sent == 2 and requests == [0, 0, 0, 0, 1, 1]
        assert isinstance(outcomes[2], MayHaveBeenSentError)
        assert isinstance(outcomes[3], MayHaveBeenSentError)
        assert outcomes[4] is None and outcomes[5] is None
    assert {k: list(v) for k, v in record.items()} == {
        "claimed": [0, 1, 2, 3, 4, 5],
        "reported": [0, 1, 2, 3, 4, 5],
    }
