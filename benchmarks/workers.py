"""Two (or N) `prefect worker` processes sharing one tenant's vendor quotas.

    uv run python benchmarks/workers.py [--jobs 60] [--workers 2] [--gusto-limit 30] [--budgets auto|process]

The production shape on this machine (`benchmarks/pgstack.py`): a Prefect server on PostgreSQL, fieldbridge's
tables on PostgreSQL, prefect.yaml deployed to a process work pool, N workers (every flow run its own
process), the vendor sandboxes enforcing their rate windows. Gusto's quota is scaled down (`--gusto-limit`
requests a minute) so that it, not the 2-core machine, is what limits throughput, as the tightest quota does
for a real tenant. Prints jobs/s, calls per job per system, jobs/s as a fraction of the tightest quota's
ceiling (its limit ÷ its calls per job), 429s seen and 429s that ended a run, and an exactly-once check.
`--budgets process` gives each process its own budget (what fieldbridge did before) for comparison.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

WINDOWS = {"hubspot": (190, 10.0), "gusto": (200, 60.0), "quickbooks": (500, 60.0)}  # documented defaults


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--gusto-limit", type=int, default=30, help="Gusto requests per minute (default 30)")
    parser.add_argument("--budgets", choices=["auto", "process"], default="auto")
    args = parser.parse_args()

    from benchmarks.pgstack import PgStack

    windows = dict(WINDOWS, gusto=(args.gusto_limit, 60.0))
    stack = PgStack(Path(tempfile.mkdtemp(prefix="fb-workers-")) / "home", jobs=args.jobs + 2, workers=args.workers,
                    vendor_env={"FIELDBRIDGE_GUSTO_RATE_LIMIT": str(args.gusto_limit),
                                "FIELDBRIDGE_RATE_BUDGETS": args.budgets})
    try:
        t0 = time.monotonic()
        stack.start()
        print(f"stack up in {time.monotonic() - t0:.0f} s: Prefect server + fieldbridge on PostgreSQL, "
              f"{args.workers} workers, Gusto at {args.gusto_limit}/min, budgets: {args.budgets}")
        jobs = [j.id for j in stack.company.jobs]
        stack.run_jobs(jobs[:2])  # warm-up: customers and parts created once
        before = stack.stats()
        runs = stack.run_jobs(jobs[2:], timeout=3600)
        after = stack.stats()
        starts = [r.start_time for r in runs.values() if r.start_time]
        ends = [r.end_time for r in runs.values() if r.end_time]
        wall = (max(ends) - min(starts)).total_seconds()
        n = len(runs)
        failed = {j: (r.state.name, (r.state.message or "")[:120]) for j, r in runs.items()
                  if not r.state.is_completed()}
        final_429 = sum(1 for _, msg in failed.values() if "429" in msg or "rate limit" in msg.lower())
        print(f"jobs: {n}   wall (first start → last end): {wall:.1f} s   throughput: {n / wall:.3f} jobs/s   "
              f"failed runs: {len(failed)} (on a 429: {final_429})")
        ceilings = {}
        for system, (limit, window) in windows.items():
            calls = (after[system]["requests"] - before[system]["requests"]) - \
                    (after[system]["429"] - before[system]["429"])
            per_job = calls / n
            seen_429 = after[system]["429"] - before[system]["429"]
            ceilings[system] = (limit / window) / per_job if per_job else float("inf")
            print(f"  {system:<11} {per_job:5.2f} calls/job   quota {limit}/{window:.0f} s → ceiling "
                  f"{ceilings[system]:.3f} jobs/s   429s answered: {seen_429}")
        tightest = min(ceilings, key=lambda s: ceilings[s])
        print(f"tightest quota: {tightest}; throughput = {n / wall / ceilings[tightest]:.0%} of its ceiling")
        print(f"exactly-once: {stack.duplicates()} (duplicates per kind)")
        for job, why in list(failed.items())[:5]:
            print(f"  failed {job}: {why}")
        return 0 if not failed and not any(stack.duplicates().values()) else 1
    finally:
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
