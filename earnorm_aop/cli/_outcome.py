"""What a command's run ends in: an exit code, or a usage error ``main`` turns into one.

Kept apart so that every command module and the entry point share the same
codes and the one exception that means "the user typed it wrong".
"""

from __future__ import annotations

OK, FAILED, USAGE = 0, 1, 2
# ``health`` could not read the switchboard: a monitoring check's "unknown".
UNREACHABLE = 3


class UsageError(Exception):
    """A mistake on the command line: reported on stderr, exit code 2."""
