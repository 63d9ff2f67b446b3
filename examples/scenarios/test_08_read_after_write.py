"""Scenario 8: read-after-write on the reader endpoint, while a reader's replication lags (on the
region of examples/scenarios/db-cluster.yaml, which its marker starts).

Rehearses the reader endpoint of an RDS Multi-AZ DB cluster: a writer and two readable standbys in
other AZs. A commit waits for one standby (Patroni's synchronous standby); the other replicates
asynchronously, like a read replica. An app that writes through the writer endpoint and reads
right away through the reader endpoint misses its own write whenever the read lands on a reader
that has not replayed it yet. Here the replication link into the asynchronous standby's AZ gets
500 ms of latency (``c/repl->db-a-1``: the standby of AZ c streams from the writer through its
AZ's Toxiproxy), and each operation writes a row through the writer endpoint, then reads it back
at once on a new connection. What it measures:

- through the reader endpoint (which balances over every node), the ``stale_reads`` check
  catches the reads that missed the write acknowledged just before;
- through the writer endpoint, with the same lag, ``stale_reads`` is 0: read your writes from
  the writer;
- ``p50[write]``: the lagging reader does not slow commits, which wait only for the synchronous
  standby (were they to wait for it, each would take at least the link's 500 ms).

    .venv/bin/pytest examples/scenarios/test_08_read_after_write.py

Negative twin (tests/integration/test_scenario_twins.py): the writer test reading from the
reader endpoint instead breaks ``stale_reads``.
"""

from __future__ import annotations

import pytest

READ_FROM = "writer"  # where the read-your-writes test reads; the reader endpoint can be stale
LAG_MS = 500

pytestmark = pytest.mark.azchaos_env("db-cluster.yaml")  # three DB nodes; relative to this folder


def lagging_link(stack):
    """The replication link from the writer into the AZ of the asynchronous standby."""
    db = stack.status()["roles"]["db"]
    reader = next(node for node in db["nodes"] if node["role"] == "replica")  # not the synchronous one
    return f"{reader['az']}/repl->{db['leader']}"


def rehearse(azchaos, kind):
    with azchaos.traffic(rate_per_s=20, workload=[kind]):
        azchaos.wait("2s")
        with azchaos.toxic(lagging_link(azchaos.stack), "latency", latency=LAG_MS):
            azchaos.wait("10s")


@pytest.mark.slo(stale_reads=0, p50={"write": "250ms"})
def test_reads_right_after_writes_are_never_stale_on_the_writer(azchaos, read_after_write):
    rehearse(azchaos, read_after_write(reader=READ_FROM == "reader"))


@pytest.mark.slo(stale_reads=None, p50={"write": "250ms"})
def test_the_reader_endpoint_is_caught_returning_stale_reads(azchaos, read_after_write, figures):
    rehearse(azchaos, read_after_write(reader=True))
    result = azchaos.evaluate({"stale_reads": 0})[0]
    figures("stale_reads[reader]", result.value, 1, f"the check must catch the lagging reader ({result.message})",
            at_least=True)
