"""The ``earnorm-aop`` command: inspect plugins and check woven models from a shell or CI.

Commands (each takes ``--json``; ``earnorm-aop --version`` prints the version)::

    earnorm-aop list [--json] [--import MODULE ...]
    earnorm-aop info NAME [--json] [--import MODULE ...]
    earnorm-aop explain MODULE:CLASS [--json | --format mermaid|dot]
    earnorm-aop check [MODULE:CLASS ...] [--json]
    earnorm-aop switch [NAME [on|off]] --redis URL [--namespace NS] [--json]
    earnorm-aop health [--redis URL [--namespace NS]] [--import MODULE ...] [--json]
    earnorm-aop plugins [check] [--json]
    earnorm-aop docs NAME [--format md|json] [--import MODULE ...]
    earnorm-aop new plugin NAME [--dir DIR]

``list`` and ``info`` read the default registry: plugins registered explicitly
plus the entry points of ``earnorm_aop.plugins`` (so the built-ins show);
``--import`` imports modules first so that the plugins they register show too.
``info`` prints the options as a table (name, type, default, description);
with ``--json`` it prints the full JSON Schema.

``explain`` and ``check`` import ``MODULE`` (the current directory is put on
``sys.path``) and look ``CLASS`` up in it (``Outer.Inner`` for a nested
class).  Models are woven when their module is imported, so an import that
raises a [`PluginError`][earnorm_aop.PluginError] (``WeavingError``,
``PluginConfigError``, ``DependencyError``, ...) is what ``check`` reports.
When ``DJANGO_SETTINGS_MODULE`` is set and Django is installed,
``django.setup()`` is called before anything is imported, and ``check`` also
checks every model of the project that declares ``plugins = [...]``: it
fails for one that is not woven, or whose project lacks
``earnorm_aop.integrations.django`` in ``INSTALLED_APPS`` (the system check
``earnorm_aop.E001``), even when nothing in the project imports earnorm_aop.

``switch`` reads and flips the switches processes share through a
[`RedisSwitchboard`][earnorm_aop.RedisSwitchboard] (``registry.share(...)``): without a
name it lists every shared state of the namespace; with a name, that one;
with ``on`` or ``off`` it writes the new state, which every sharing process
applies within its board's ``interval``.  The name must be a known plugin
(``--import`` modules that register yours) or one already shared.

``health`` reports per plugin in use its state, advice runs, failures,
rollout and models, from this process (``--import``) and, with ``--redis``,
from the shared switchboard; it exits ``1`` when a plugin is auto-disabled and
``3`` when the switchboard cannot be read ([`health_report`][earnorm_aop.cli._health.health_report]
returns the same report in-process).

``plugins`` lists the installed distributions advertising plugins (entry
points of ``earnorm_aop.plugins``): the earnorm-aop range each needs and
whether this one fits, and each plugin's version and requirements;
``plugins check`` reports what makes them unusable together (see
``docs/publishing.md``) and exits 1 when there is anything.  ``docs``
renders one plugin's reference from what it declares (Markdown or JSON);
``new plugin`` writes a new plugin distribution ready to test and install.

Exit codes:

* ``0`` -- success;
* ``1`` -- a plugin failed: ``check`` (or ``explain``) met a ``PluginError``
  while importing a model, or a Django model's plugins are not woven, or
  ``list`` / ``info`` could not load a plugin, ``switch`` could not
  reach Redis, or ``plugins check`` found a problem;
* ``2`` -- a usage error: bad arguments, an unknown plugin name (the message
  suggests the closest ones), or a ``MODULE:CLASS`` that cannot be imported
  or found.

Error messages go to stderr; ``check`` prints its report (``ok`` and ``FAIL``
lines, or JSON) on stdout, and the built-in plugins a registration shadows
(``SHADOW`` lines; ``shadowed`` in its JSON).  With ``--json`` stdout carries
the JSON only: what user code prints while it is imported goes to stderr.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from typing import Any

from ..errors import PluginError
from ..plugin_system.registry import PluginRegistry, registry
from ._health import health_report
from ._outcome import FAILED, USAGE, UsageError
from ._parser import build_parser

__all__ = ["health_report", "main"]


def main(argv: Sequence[str] | None = None, *, reg: PluginRegistry | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``); return the exit code.

    ``reg`` is the registry ``list`` and ``info`` read (the default one unless given).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits on --help / --version (0) and on bad arguments (2)
        return exc.code if isinstance(exc.code, int) else USAGE
    run: Any = args.run
    out, err = sys.stdout, sys.stderr
    # With --json (or docs' --format json), stdout is the JSON alone: a user module
    # printing at import (models are imported to be explained or checked, plugins to
    # be listed or documented) writes to stderr instead.
    as_json = getattr(args, "json", False) or getattr(args, "format", None) == "json"
    quiet = contextlib.redirect_stdout(err) if as_json else None
    try:
        with quiet or contextlib.nullcontext():
            code: int = run(args, reg if reg is not None else registry, out, err)
    except UsageError as exc:
        print(f"earnorm-aop: error: {exc}", file=sys.stderr)
        return USAGE
    except PluginError as exc:
        print(f"earnorm-aop: {type(exc).__name__}: {exc}", file=sys.stderr)
        return FAILED
    return code
