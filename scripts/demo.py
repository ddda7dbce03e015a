#!/usr/bin/env python3
"""Run the quickstart demo (``examples/quickstart.py``) in the project's virtualenv.

Usage: ``python3 scripts/demo.py [args...]``; the arguments go to the demo.

Needs nothing but Python 3.11+: it creates ``.venv`` and installs the project on
first use, so a newcomer can see the library work with a single command.
"""

from __future__ import annotations

import subprocess
import sys

from _bootstrap import ROOT, ensure_venv, venv_env

DEMO = ROOT / "examples" / "quickstart.py"


def main(argv: list[str]) -> int:
    python = ensure_venv()
    if not DEMO.exists():
        print(f"error: {DEMO.relative_to(ROOT)} does not exist", file=sys.stderr)
        return 1
    return subprocess.run([str(python), str(DEMO), *argv], cwd=ROOT, env=venv_env()).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
