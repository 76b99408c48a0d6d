"""Embedded serving: every deployment in one process via Prefect's `serve` (no work pool needed)."""

from __future__ import annotations


def serve_all() -> None:
    from prefect import serve

    from flows.job_closed import job_closed

    serve(
        job_closed.to_deployment(
            name="job-closed", tags=["fieldbridge"], concurrency_limit=8,
            description="Validate a closed job, then resolve its case, upsert hours and invoice it exactly once.",
        ),
    )
