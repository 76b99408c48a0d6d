"""Reconciliation at scale: a million closed jobs across the four sides, with a known number of each drift
class injected. The pandas comparison (what the nightly flow runs) and a plain-Python dict join of the same
data each run in a fresh process, so each one's peak RSS is its own; both must find the exact counts.

    uv run python benchmarks/reconcile_scale.py [--jobs 1000000] [--per-class 1000]

Prints wall time and peak RSS of each, and pandas / plain as ratios. Target on 2 cores: the whole
comparison ≤ 60 s and ≤ 4 GB.
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


def _run(kind: str, jobs: int, per_class: int, out: mp.Queue) -> None:
    from tasks.reconcile.drift import counts, find_drift, find_drift_plain
    from tasks.reconcile.synthetic import make_sides

    started = time.perf_counter()
    sides, want = make_sides(jobs, _inject(per_class), held=per_class)
    built = time.perf_counter()
    found = counts(find_drift(sides)) if kind == "pandas" else find_drift_plain(sides)
    done = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out.put({"kind": kind, "build_s": built - started, "compare_s": done - built, "peak_mb": peak_mb,
             "exact": found == want, "found": found, "want": want})


def measure(kind: str, jobs: int, per_class: int) -> dict:
    ctx = mp.get_context("spawn")  # a fresh interpreter: its peak RSS is this comparison's alone
    queue: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_run, args=(kind, jobs, per_class, queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--per-class", type=int, default=1_000)
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
    if not (p["exact"] and q["exact"]):
        print(json.dumps({k: {"found": r["found"], "want": r["want"]} for k, r in results.items()}, indent=1))
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
