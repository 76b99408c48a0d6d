"""The sandboxes' fuzz suite (tests/fuzz_sandboxes.py), in a process of its own.

Hypothesis reported `FlakyStrategyDefinition` for one of its routes (Xero's invoice update) whenever the
fieldbridge modules a worker had imported before it were different — the same seed generated a different
sequence, and pytest's report of the failing example then repr'd its strategies until the worker ran out of
memory. In a fresh process the import state, and so the generation, is the same on every machine and in every
test order: there it is deterministic, as a fuzz suite must be to be trusted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_sandbox_answers_garbage_with_the_vendors_4xx_in_a_process_of_its_own() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/fuzz_sandboxes.py", "-n", "0", "-q", "-p", "no:cacheprovider",
         "--durations=0", "-W", "ignore::DeprecationWarning"],
        cwd=ROOT, capture_output=True, text=True, timeout=900)
    tail = done.stdout[-6000:] + done.stderr[-3000:]
    assert done.returncode == 0, tail
    assert " passed" in done.stdout and " failed" not in done.stdout, tail
