"""Scenario 8: read-after-write on the reader endpoint, while the standby lags behind.

Rehearses RDS read replicas, which are asynchronous: an app that writes through the writer
endpoint and reads right away through the reader endpoint can miss its own write. Here the
standby applies the WAL 500 ms late (``replica-lag``, a fault of examples/scenarios/conftest.py:
PostgreSQL's recovery_min_apply_delay set through Patroni), and each operation writes a row
through the writer endpoint, then reads it back at once on a new connection. What it measures:

- through the reader endpoint (which balances over the primary and the standby), the
  ``stale_reads`` check catches the reads that missed the write acknowledged just before;
- through the writer endpoint, with the same lag, ``stale_reads`` is 0: read your writes from
  the writer.

Negative twin (tests/integration/test_scenario_twins.py): the writer test reading from the
reader endpoint instead breaks ``stale_reads``.
"""

from __future__ import annotations

import pytest

READ_FROM = "writer"  # where the read-your-writes test reads; the reader endpoint can be stale


def rehearse(azchaos, kind):
    with azchaos.traffic(rate_per_s=20, workload=[kind]):
        azchaos.wait("2s")
        with azchaos.fault("replica-lag", delay_ms=500):
            azchaos.wait("10s")


@pytest.mark.slo(stale_reads=0)
def test_reads_right_after_writes_are_never_stale_on_the_writer(azchaos, read_after_write):
    rehearse(azchaos, read_after_write(reader=READ_FROM == "reader"))


@pytest.mark.slo(stale_reads=None)
def test_the_reader_endpoint_is_caught_returning_stale_reads(azchaos, read_after_write, figures):
    rehearse(azchaos, read_after_write(reader=True))
    result = azchaos.evaluate({"stale_reads": 0})[0]
    figures("stale_reads[reader]", result.value, 1, f"the check must catch the lagging standby ({result.message})",
            at_least=True)
