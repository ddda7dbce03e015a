"""examples/sqlalchemy_quickstart.py runs (in its own interpreter) and each plugin shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "sqlalchemy_quickstart.py"


def test_sqlalchemy_quickstart_shows_each_plugin_at_work() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "created_at set at the flush -> True" in out
    assert "select() hides it -> ['hello']" in out
    assert "including_deleted() -> 2" in out
    assert "delete(Note) soft-deleted -> []" in out
    assert "nothing flushed -> {'title': ['is required']}" in out
    assert "('soft_delete', '2')" in out and "('update', '1')" in out
    assert "after advice -> id=3" in out
    assert "Session.get finds -> None" in out
