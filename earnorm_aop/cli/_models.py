"""``explain`` and ``check``: what is woven on models named as ``MODULE:CLASS``.

``check`` is the CI gate: it reports a ``PluginError`` raised while a model's
module is imported, and with Django configured it also checks every model of
the project that declares ``plugins``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from ..errors import PluginError
from ..plugin_system.explanation import explain
from ..plugin_system.registry import PluginRegistry
from ..plugin_system.unfired import fired_events
from ..weaving import weaver
from ..weaving.pointcut import split_event
from ._outcome import FAILED, OK, USAGE, UsageError
from ._user_code import Loaded, django_configured, prepare_imports, resolve, split_target


def _explain_dict(model: type) -> dict[str, Any]:
    """What [`explain`][earnorm_aop.explain] prints, as data: plugins, chains, events."""
    aspects = weaver.effective_aspects(model)
    chains = weaver.describe(model) if aspects else []
    names = {c.method for c in chains}
    events: dict[str, list[str]] = {}
    for aspect in aspects:
        for spec in aspect.advices:
            target = spec.target
            if not isinstance(target, str):
                continue
            split = split_event(target)
            if split is not None and split[1] in names:
                continue
            if not any(a.spec is spec for c in chains for a in c.advice):
                events.setdefault(target, []).append(f"{aspect.name}.{spec.name}")
    return {
        "model": f"{model.__module__}.{model.__qualname__}",
        "plugins": [{"name": a.name, "enabled": a.switch.enabled} for a in aspects],
        "methods": [
            {
                "method": chain.method,
                "installed": chain.installed,
                "advice": [
                    {
                        "kind": advice.kind.value,
                        "advice": advice.label,
                        "enabled": advice.aspect.switch.enabled,
                    }
                    for advice in chain.advice
                ],
            }
            for chain in chains
        ],
        "events": events,
        "fires": list(fired_events(model)),
    }


def cmd_explain(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    if args.json and args.format != "text":
        raise UsageError("--json and --format are exclusive: a diagram is text to render")
    split_target(args.target)  # a malformed target is reported before importing anything
    prepare_imports()
    try:
        model = resolve(args.target, {})
    except PluginError as exc:
        print(f"{args.target}: {type(exc).__name__}: {exc}", file=err)
        return FAILED
    if args.json:
        print(json.dumps(_explain_dict(model), indent=2), file=out)
    elif args.format == "mermaid":
        print(explain(model).to_mermaid(), file=out, end="")
    elif args.format == "dot":
        print(explain(model).to_dot(), file=out, end="")
    else:
        print(explain(model), file=out)
    return OK


def _woven(model: type) -> list[str]:
    return [
        a.name + ("" if a.switch.enabled else " (disabled)")
        for a in weaver.effective_aspects(model)
    ]


def _check_targets(targets: Sequence[str], results: list[dict[str, Any]], err: TextIO) -> int:
    cache: dict[str, Loaded] = {}
    code = OK
    for target in targets:
        try:
            model = resolve(target, cache)
        except PluginError as exc:
            results.append(_failure(target, type(exc).__name__, str(exc)))
            code = max(code, FAILED)
            continue
        except UsageError as exc:
            print(f"error: {exc}", file=err)
            code = USAGE
            continue
        results.append({"target": target, "ok": True, "plugins": _woven(model)})
    return code


def _check_django(results: list[dict[str, Any]]) -> int:
    """Every Django model that declares ``plugins``: woven, with the app installed (E001/E002)."""
    if not django_configured() or "django" not in sys.modules:
        return OK
    from django.apps import apps

    if not apps.ready:
        return OK
    from ..integrations.django import checks

    code = OK
    for found in checks.declarations():
        problem = checks.problem(found)
        if problem is None:
            results.append({"target": found.label, "ok": True, "plugins": _woven(found.model)})
            continue
        results.append(_failure(found.label, str(problem.id), problem.msg, problem.hint))
        code = FAILED
    return code


def _shadowed(reg: PluginRegistry) -> list[dict[str, Any]]:
    """One row per built-in plugin that an explicit registration replaces (not a failure)."""
    return [
        {"target": name, "ok": True, "shadowed": builtin, "by": by}
        for name, (builtin, by) in reg.shadowed().items()
    ]


def _failure(target: str, kind: str, message: str, hint: str | None = None) -> dict[str, Any]:
    return {"target": target, "ok": False, "error": kind, "message": message, "hint": hint}


def cmd_check(args: argparse.Namespace, reg: PluginRegistry, out: TextIO, err: TextIO) -> int:
    if not args.targets and not django_configured():
        raise UsageError(
            "check needs MODULE:CLASS targets, or DJANGO_SETTINGS_MODULE to check the "
            "models of a Django project"
        )
    for target in args.targets:
        split_target(target)
    results: list[dict[str, Any]] = []
    try:
        prepare_imports()
    except PluginError as exc:
        results.append(_failure("django.setup()", type(exc).__name__, str(exc)))
        code = FAILED
    else:
        code = _check_targets(args.targets, results, err)
        code = max(code, _check_django(results)) if code != USAGE else code
    results.extend(_shadowed(reg))
    if args.json:
        print(json.dumps(results, indent=2), file=out)
        return code
    for r in results:
        if "shadowed" in r:
            print(
                f"SHADOW plugin {r['target']!r}: {r['by']} replaces the built-in "
                f"{r['shadowed']} (register it under another name to keep both)",
                file=out,
            )
        elif r["ok"]:
            print(f"ok    {r['target']}: {', '.join(r['plugins']) or '(no plugins)'}", file=out)
        else:
            hint = f" Hint: {r['hint']}" if r["hint"] else ""
            print(f"FAIL  {r['target']}: {r['error']}: {r['message']}{hint}", file=out)
    return code
