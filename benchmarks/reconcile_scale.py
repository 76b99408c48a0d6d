"""Reconciliation at scale: a million closed jobs across the four sides, with a known number of each drift
class injected. The pandas comparison (what the nightly flow runs) and a plain-Python dict join of the same
data each run in a fresh process, so each one's peak RSS is its own; both must find the exact counts.

    uv run python benchmarks/reconcile_scale.py [--jobs 1000000] [--per-class 1000] [--dask 8]

Prints wall time and peak RSS of each, and pandas / plain as ratios. Target on 2 cores: the whole
comparison ≤ 60 s and ≤ 4 GB. `--dask N` also runs the comparison split into N partitions (workday ×
technician) on a two-worker Dask LocalCluster, checks it finds the same rows as one process, and prints its
time and each process's peak RSS (the split, the shipping and the merge included; Prefect's per-task
bookkeeping is not: the flow adds one task run per partition).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _inject(per_class: int) -> dict[str, int]:
    from tasks.reconcile.drift import CLASSES

    return {c: per_class + n for n, c in enumerate(CLASSES)}  # distinct counts: a swapped class shows


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_dask(jobs: int, per_class: int, partitions: int, out: mp.Queue) -> None:
    import logging

    from distributed import Client, LocalCluster

    from tasks.reconcile.drift import counts, find_drift
    from tasks.reconcile.partition import merge, split
    from tasks.reconcile.synthetic import make_sides

    logging.getLogger("distributed").setLevel(logging.ERROR)
    sides, want = make_sides(jobs, _inject(per_class), held=per_class, days=7)
    with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster, Client(cluster) as c:
        started = time.perf_counter()
        held = c.scatter(split(sides, partitions))
        rows = merge(c.gather([c.submit(find_drift, part) for part in held]))
        done = time.perf_counter()
        workers_mb = sorted(c.run(_peak_mb).values())
    single = time.perf_counter()
    whole = find_drift(sides)
    single_s = time.perf_counter() - single
    out.put({"compare_s": done - started, "single_s": single_s, "driver_mb": _peak_mb(), "workers_mb": workers_mb,
             "same_rows": _same(rows, whole), "exact": counts(rows) == want})


def _same(a, b) -> bool:
    import pandas as pd

    try:
        pd.testing.assert_frame_equal(a, b)
        return True
    except AssertionError:
        return False


def _run(kind: str, jobs: int, per_class: int, out: mp.Queue) -> None:
    from tasks.reconcile.drift import counts, find_drift, find_drift_plain
    from tasks.reconcile.synthetic import make_sides

    started = time.perf_counter()
    sides, want = make_sides(jobs, _inject(per_class), held=per_class)
    built = time.perf_counter()
    found = counts(find_drift(sides)) if kind == "pandas" else find_drift_plain(sides)
    done = time.perf_counter()
    peak_mb = _peak_mb()
    out.put({"kind": kind, "build_s": built - started, "compare_s": done - built, "peak_mb": peak_mb,
             "exact": found == want, "found": found, "want": want})


def measure(kind: str, jobs: int, per_class: int, partitions: int = 0) -> dict:
    ctx = mp.get_context("spawn")  # a fresh interpreter: its peak RSS is this comparison's alone
    queue: mp.Queue = ctx.Queue()
    target, args = (_run_dask, (jobs, per_class, partitions)) if kind == "dask" else (_run, (kind, jobs, per_class))
    proc = ctx.Process(target=target, args=(*args, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--per-class", type=int, default=1_000)
    parser.add_argument("--dask", type=int, default=0, metavar="N",
                        help="also compare in N partitions on a two-worker Dask LocalCluster")
    args = parser.parse_args()
    wall = time.perf_counter()
    results = {kind: measure(kind, args.jobs, args.per_class) for kind in ("pandas", "plain")}
    total = time.perf_counter() - wall
    print(f"reconcile_scale: {args.jobs:,} jobs, {sum(_inject(args.per_class).values()):,} drift rows injected "
          f"(+{args.per_class:,} quarantined jobs that are not drift)")
    for kind, r in results.items():
        print(f"  {kind:7s} build {r['build_s']:6.2f} s   compare {r['compare_s']:6.2f} s   "
              f"peak RSS {r['peak_mb']:7.0f} MB   counts exact: {r['exact']}")
    p, q = results["pandas"], results["plain"]
    print(f"  ratio pandas/plain: compare time {p['compare_s'] / q['compare_s']:.2f}, "
          f"peak RSS {p['peak_mb'] / q['peak_mb']:.2f}")
    print(f"  whole comparison: {total:.1f} s wall, max peak RSS {max(p['peak_mb'], q['peak_mb']):.0f} MB "
          f"(target ≤ 60 s, ≤ 4096 MB)")
    ok = p["exact"] and q["exact"]
    if args.dask:
        d = measure("dask", args.jobs, args.per_class, args.dask)
        print(f"  dask    {args.dask} partitions on 2 workers: compare {d['compare_s']:6.2f} s (one process, same "
              f"data: {d['single_s']:.2f} s, ratio {d['compare_s'] / d['single_s']:.2f})   peak RSS driver "
              f"{d['driver_mb']:.0f} MB, workers {', '.join(f'{m:.0f}' for m in d['workers_mb'])} MB   "
              f"same rows as one process: {d['same_rows']}   counts exact: {d['exact']}")
        ok = ok and d["same_rows"] and d["exact"]
    if not ok:
        print(json.dumps({k: {"found": r["found"], "want": r["want"]} for k, r in results.items()}, indent=1))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
