"""Run a program in a fresh Python process and read the JSON it prints.

Some scenarios need a process of their own: a Django project configured with
other settings than the test run's, or the ``earnorm-aop`` command as an
operator runs it.  The program prints what it saw as JSON on stdout; a
non-zero exit fails the test with the program's stderr as the message.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def run_json(
    command: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
) -> dict[str, Any]:
    """``command``'s stdout as JSON; ``env`` adds to (or overrides) this process's environment."""
    done = subprocess.run(
        list(command),
        cwd=cwd,
        env={**os.environ, **env} if env is not None else None,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result
