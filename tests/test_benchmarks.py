"""``benchmarks/bulk.py`` still runs and reports every operation of issue 18's table.

Benchmarks are never timed in tests; this one runs the bulk benchmark once on
three rows, in a process of its own, so that a change to the plugins or the
adapters that breaks it is seen by the suite rather than by the next person
measuring.  The peers' rows appear only where the ``bench`` extra is installed.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

OPERATIONS = [
    "Django QuerySet.update, timestamp+softdelete",
    "Django QuerySet.update, audit (table)",
    "SQLAlchemy update(M), timestamp+softdelete",
    "SQLAlchemy update(M), audit (table)",
    "SQLAlchemy commit of 3 new objects, timestamp+softdelete+audit (table)",
    "SQLAlchemy save of one object, timestamp+softdelete",
    "SQLAlchemy delete of one object, timestamp+softdelete",
]


def test_the_bulk_benchmark_reports_each_operation_against_bare_and_by_hand() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/bulk.py", "--repeat", "1", "--rows", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    titles = [line for line in done.stdout.splitlines() if line and not line.startswith(" ")]
    assert [t for t in titles if t in OPERATIONS] == OPERATIONS, titles
    assert len(re.findall(r"^  bare +\d+\.\d+ ms +1\.00x bare$", done.stdout, re.M)) == 7
    # the five operations written by hand too: the plugged variant's ratio to it
    assert len(re.findall(r"^  \S.* / hand = \d+\.\d+$", done.stdout, re.M)) == 5
