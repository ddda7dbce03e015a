"""examples/earnorm_quickstart.py runs (in its own interpreter) and says what its plugins did."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "earnorm_quickstart.py"


def test_earnorm_quickstart_shows_each_plugin_at_work() -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "created_at == updated_at: True" in out
    assert "write kept created_at and moved updated_at: True" in out
    assert "validation refused a create: {'title': ['is required']}; documents: 1" in out
    assert "second get served from the cache: True" in out
    assert "unlink() kept the document: visible=0, in collection=1" in out
    assert "restore() brought it back: 1 visible" in out
    assert "unlink() deleted it: True" in out
    for action in ("create", "update", "soft_delete", "restore", "delete"):
        assert f"  {action} by" in out
    assert "update by alice: ['views']" in out
    assert "save (Article._earnorm_aop_save)" in out and "get (Article.get)" in out
    assert "Field id" not in out + done.stderr  # EarnORM's chatter stays quiet
