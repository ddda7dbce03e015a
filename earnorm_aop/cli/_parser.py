"""The argparse tree: one sub-command per command, each bound to the function that runs it.

Built fresh for each ``main`` call (cheap), so tests can run commands
in-process one after another.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import math
from typing import NoReturn

from ._catalogue import cmd_plugins
from ._health import cmd_health
from ._models import cmd_check, cmd_explain
from ._outcome import USAGE
from ._plugins import cmd_info, cmd_list
from ._reference import cmd_docs
from ._scaffold import cmd_new
from ._switch import cmd_switch

_TARGETS_HELP = """\
MODULE:CLASS names a model: MODULE is imported (the current directory is on
sys.path) and CLASS is looked up in it, "Outer.Inner" for a nested class.
Example: earnorm-aop check blog.models:Article

DJANGO_SETTINGS_MODULE: when set (as for manage.py), django.setup() runs
before anything is imported, so Django models can be named; check then also
checks every model of the project that declares plugins = [...], and fails
when its plugins are not woven or when 'earnorm_aop.integrations.django' is
missing from INSTALLED_APPS. Example:
  DJANGO_SETTINGS_MODULE=mysite.settings earnorm-aop check
"""


def _version() -> str:
    try:
        return importlib.metadata.version("earnorm-aop")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - run from a checkout
        return "unknown (not installed)"


class _Parser(argparse.ArgumentParser):
    """argparse, with a bad argument reported in one line (the usage is ``--help``'s)."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (``--timeout``)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    raw = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="earnorm-aop",
        description="Inspect earnorm_aop plugins and the models they are woven onto.",
        epilog=_TARGETS_HELP
        + "\nExit codes: 0 ok, 1 a plugin failed, 2 usage error (bad name or path).",
        formatter_class=raw,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = _Parser(add_help=False)
    common.add_argument("--json", action="store_true", help="print JSON instead of text")

    imports = _Parser(add_help=False)
    imports.add_argument(
        "-i",
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="import MODULE first, so that the plugins it registers are known (repeatable)",
    )

    p = sub.add_parser("list", parents=[common, imports], help="every known plugin")
    p.set_defaults(run=cmd_list)

    p = sub.add_parser(
        "info",
        parents=[common, imports],
        help="one plugin: hooks, requires, options",
        description="One plugin: version, hooks, requires and its options as a table "
        "(name, type, default, description); --json prints the full JSON Schema.",
    )
    p.add_argument("name", help="the plugin's name, e.g. 'cache'")
    p.set_defaults(run=cmd_info)

    p = sub.add_parser(
        "plugins",
        parents=[common],
        help="the installed plugin distributions and whether they fit (check: exit 1 if not)",
        description="Every installed distribution with earnorm_aop.plugins entry points: its "
        "version, the earnorm-aop range it needs and whether the installed one fits, and its "
        "plugins (version, requires; --json adds hooks and configuration schemas, and metrics "
        "while metering is on).  'plugins check' exits 1 on an incompatible version, a missing "
        "dependency, a dependency cycle, a plugin that does not load, or two distributions "
        "claiming one name.",
    )
    p.add_argument("action", nargs="?", choices=["check"], help="check: report problems only")
    p.set_defaults(run=cmd_plugins)

    p = sub.add_parser(
        "docs",
        parents=[imports],
        help="a plugin's reference, generated from what it declares",
        description="A plugin's reference: version, requirements, hooks with their "
        "conditions, options (types, defaults, descriptions from its pydantic schema) and "
        "the fields and methods it contributes; Markdown, or JSON with --format json.",
    )
    p.add_argument("name", help="the plugin's name, e.g. 'softdelete'")
    p.add_argument("--format", choices=["md", "json"], default="md", help="md (default) or json")
    p.set_defaults(run=cmd_docs)

    p = sub.add_parser(
        "new",
        help="scaffold a new plugin distribution (earnorm-aop new plugin NAME)",
        description="Create a plugin distribution: pyproject.toml with the entry point and "
        "the earnorm-aop range, the plugin module with a pydantic configuration, tests on the "
        "conformance kit, a docs page, a CI workflow and a README.",
    )
    p.add_argument("kind", choices=["plugin"], help="what to create: plugin")
    p.add_argument("name", help="the plugin's name, a lower-case identifier: 'slug'")
    p.add_argument(
        "--dir", default=".", help="the folder to create earnorm-aop-NAME in (default: .)"
    )
    p.set_defaults(run=cmd_new)

    p = sub.add_parser(
        "explain",
        parents=[common],
        help="what runs when a model's methods are called",
        description="Import MODULE:CLASS and print each woven method with its advice "
        "in execution order.",
        epilog=_TARGETS_HELP,
        formatter_class=raw,
    )
    p.add_argument("target", metavar="MODULE:CLASS", help="the model, e.g. blog.models:Article")
    p.add_argument(
        "--format",
        choices=["text", "mermaid", "dot"],
        default="text",
        help="text (default), or a diagram of each woven method's chain and the model's "
        "events: a Mermaid flowchart or a Graphviz digraph (dot -Tsvg)",
    )
    p.set_defaults(run=cmd_explain)

    p = sub.add_parser(
        "check",
        parents=[common],
        help="import models and report their plugins (exit 1 on failure)",
        description="Import each MODULE:CLASS and report the plugins woven on it, or the "
        "PluginError its import raised; with DJANGO_SETTINGS_MODULE, also every Django "
        "model that declares plugins.",
        epilog=_TARGETS_HELP,
        formatter_class=raw,
    )
    p.add_argument(
        "targets",
        nargs="*",
        metavar="MODULE:CLASS",
        help="models to check (optional with DJANGO_SETTINGS_MODULE)",
    )
    p.set_defaults(run=cmd_check)

    p = sub.add_parser(
        "switch",
        parents=[common, imports],
        help="read or flip the shared switches; export / apply plugin state as TOML",
        description="Without NAME: every shared switch of the namespace.  With NAME: that "
        "one.  With NAME on|off: write it; every process sharing the namespace applies it.  "
        "'switch export' writes switches, rollouts and shared options as TOML; 'switch apply "
        "FILE [--dry-run]' shows the differences and applies them, through Redis with --redis, "
        "else to this process (exit 0 no change, 4 applied or pending, 1 file refused, "
        "3 Redis unreachable).",
    )
    p.add_argument(
        "name", nargs="?", help="the plugin, e.g. 'audit'; or export, or apply (state as code)"
    )
    p.add_argument(
        "state", nargs="?", metavar="on|off|FILE", help="the new state; for apply: the TOML file"
    )
    p.add_argument("--dry-run", action="store_true", help="apply: show the changes, apply nothing")
    p.add_argument("-o", "--output", metavar="FILE", help="export: write FILE, not stdout")
    _board_options(p, required=False)
    p.set_defaults(run=cmd_switch)

    p = sub.add_parser(
        "health",
        parents=[common, imports],
        help="per plugin runs, failures, auto-disabled state (exit 1 when one is auto-disabled)",
        description="Per plugin in use: state, advice runs, failures, rollout and models, "
        "from this process (the modules given with --import) and, with --redis, from the "
        "switchboard every process shares.  Exit codes: 0 none auto-disabled, 1 a plugin "
        "is auto-disabled, 2 usage error, 3 the switchboard cannot be read.",
    )
    _board_options(p, required=False)
    p.set_defaults(run=cmd_health)
    return parser


def _board_options(p: argparse.ArgumentParser, *, required: bool) -> None:
    p.add_argument(
        "--redis", required=required, default=None, metavar="URL", help="redis://host:6379/0"
    )
    p.add_argument(
        "--namespace", default="default", help="the board's namespace (default: default)"
    )
    p.add_argument(
        "--timeout", type=_seconds, default=2.0, help="seconds to wait for Redis (default: 2)"
    )
