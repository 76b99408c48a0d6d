"""Production shape: two `prefect worker` processes on a process work pool, the Prefect server and fieldbridge's
tables on PostgreSQL, the vendor sandboxes enforcing their rate windows. Every job posts once, no run ends
on a 429, and the vendor calls of every flow-run process draw on one budget per vendor."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.pgstack import PgStack
from tests.test_postgres import require_postgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def test_two_workers_post_each_job_once_within_the_vendors_quotas(tmp_path: Path) -> None:
    require_postgres()
    # Gusto's quota scaled down to 4 requests a minute, fewer than the jobs' writes: the flow-run processes
    # of both workers, each with a budget of its own, would send them all at once and meet 429s
    stack = PgStack(tmp_path / "home", jobs=5, workers=2,
                    vendor_env={"FIELDBRIDGE_GUSTO_RATE_LIMIT": "4"})
    try:
        stack.start()
        runs = stack.run_jobs([j.id for j in stack.company.jobs], timeout=600)
        failed = {job: (run.state.name, run.state.message) for job, run in runs.items()
                  if not run.state.is_completed()}
        assert not failed, failed
        assert stack.duplicates() == {"tickets": 0, "notes": 0, "time_sheets": 0, "invoices": 0}
        assert len(stack.state("quickbooks", "Invoice")) == len(runs)
        gusto = stack.stats()["gusto"]
        assert gusto["429"] == 0, gusto  # one budget for every process: Gusto never had to say no
        import psycopg

        with psycopg.connect(stack.env["FIELDBRIDGE_DATABASE_URL"]) as conn:
            keys = {row[0] for row in conn.execute("SELECT key FROM rate_bucket")}
        assert any(k.startswith("gusto:") for k in keys), keys
    finally:
        stack.stop()
