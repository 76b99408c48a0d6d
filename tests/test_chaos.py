"""The chaos proving ground, small: closed jobs through the production shape (private PostgreSQL, Prefect
server, two process workers, the ingress) while vendors fail, answers drop, QuickBooks is down, a worker is
SIGKILLed and PostgreSQL and the Prefect server restart — and afterwards nobody reruns anything. Judged only by
what the sandboxes hold against a fault-free run of the same company (`benchmarks/chaos.py` at full size)."""

from __future__ import annotations

import shutil

import pytest

from tests.test_postgres import require_postgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_every_job_finishes_by_itself_exactly_once_after_the_storm() -> None:
    require_postgres()
    from benchmarks.chaos import Chaos
    from benchmarks.pgcluster import _bin

    try:
        _bin("initdb")
    except RuntimeError as exc:  # the chaos needs a PostgreSQL it may restart: its own cluster
        pytest.fail(f"PostgreSQL's server binaries are needed for the chaos test: {exc}")
    assert shutil.which("runuser") or __import__("os").geteuid() != 0
    # from the 3rd new event on, the ingress sees a burst: most jobs go through bulk runs, and the storm
    # hits both paths (and one flow-run process per batch instead of per job keeps the test short)
    chaos = Chaos(jobs=6, bad=1, deliver_seconds=8, outage_seconds=20, redrive_base_seconds=5,
                  redrive_pending_seconds=45, settle_timeout=420, burst_threshold=3)
    result = chaos.run()
    story = "\n".join(f"{t:7.1f} s  {what}" for t, what in chaos.events) + f"\nunfinished: {result['unfinished']}"
    assert not any(result["verdict"].values()), (result["verdict"], story)
    assert result["ledger_in_flight"] == 0, story
    # only the job with a data error asks for a person; every other one finished by itself
    assert result["needs_a_person"] == result["bad"] and result["quarantined_as_expected"], (result, story)
    stats = result["sandbox_stats"]
    assert stats["quickbooks"]["errors"] > 0, stats  # the storm reached the vendors
