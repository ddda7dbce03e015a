"""The generated dispatcher: Python source specialised to one chain.

:func:`compile_chain` writes, compiles and returns the wrapt wrapper function
of a :class:`~earnorm_aop.chain.ChainPlan`: one ``if`` per ``before``, no
loops, no dictionary look-ups, no signature binding unless an advice asked
for a target parameter.  The source is built from identifiers this module
controls and registered with :mod:`linecache`, so tracebacks show it.
"""

from __future__ import annotations

import inspect
import itertools
import linecache
import weakref
from collections.abc import Sequence
from typing import Any

from . import scope
from .advice import Param, PlannedAdvice
from .chain import ChainPlan, Dispatcher, FailureHandler, model_of
from .errors import ProceedError
from .joinpoint import JoinPoint, Recover

__all__ = ["compile_chain"]

_counter = itertools.count()
_VARPOS = inspect.Parameter.VAR_POSITIONAL
_VARKW = inspect.Parameter.VAR_KEYWORD
_KWONLY = inspect.Parameter.KEYWORD_ONLY

# --------------------------------------------------------------------------
# The generated dispatcher
# --------------------------------------------------------------------------


class _Source:
    """Lines of generated code with indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)


class _Generator:
    """Writes the source of one dispatcher from identifiers it controls.

    Every value (advice functions, defaults, switches, names) goes into the
    namespace under a generated identifier; user strings never reach the
    source text, except parameter names, which Python has already checked
    are identifiers.
    """

    def __init__(self, plan: ChainPlan) -> None:
        self.plan = plan
        self.target = plan.target
        self.is_async = plan.target.is_async
        self.ns: dict[str, Any] = {
            "_Recover": Recover,
            "_ProceedError": ProceedError,
            "_JP": JoinPoint,
            "_isawaitable": inspect.isawaitable,
            "_dvar": scope.DISABLED,
            "_dget": scope.DISABLED.get,
            "_avar": scope.ACTIVE_CALLS,
            "_method": plan.target.name,
            "_owner": plan.target.owner,
            "model_of": model_of(plan.target),
            "_bind": plan.target.binder(),
        }
        self.index: dict[int, int] = {}
        for i, advice in enumerate(plan.all):
            self.index[id(advice)] = i
            self.ns[f"_a{i}"] = advice.func
            self.ns[f"_s{i}"] = advice.aspect.switch
            self.ns[f"_n{i}"] = advice.aspect.name
            self.ns[f"_k{i}"] = advice.kind.value
            self.ns[f"_f{i}"] = FailureHandler(advice, plan.target)
            self.ns[f"_perr{i}"] = (
                f"proceed() called twice by around advice {advice.label} on "
                f"{plan.target.owner.__qualname__}.{plan.target.name}"
            )
            for j, p in enumerate(advice.params):
                if p.source == "default":
                    self.ns[f"_d{i}_{j}"] = p.default
                elif p.source == "target":
                    self.ns[f"_t{i}_{j}"] = p.key

    # -- expressions -------------------------------------------------------

    def call(self, advice: PlannedAdvice, phase: str) -> str:
        """The call expression of ``advice`` (awaited when it is async)."""
        i = self.index[id(advice)]
        parts: list[str] = []
        for j, p in enumerate(advice.params):
            expr = self.value(i, j, p, phase)
            if p.kind is _VARPOS:
                parts.append(f"*{expr}")
            elif p.kind is _VARKW:
                parts.append(f"**{expr}")
            elif p.kind is _KWONLY:
                parts.append(f"{p.name}={expr}")
            else:
                parts.append(expr)
        text = f"_a{i}({', '.join(parts)})"
        if advice.is_async:
            return f"(await {text})"
        if self.is_async and phase != "around":
            # A sync advice may hand back an awaitable on an async target (a
            # built-in plugin writing through an async ORM): awaited like async advice.
            return f"(await _v if _isawaitable(_v := {text}) else _v)"
        return text

    def value(self, i: int, j: int, p: Param, phase: str) -> str:
        source = p.source
        if source in ("instance", "args", "kwargs", "result", "error", "proceed"):
            return source
        if source == "value":
            return "result"
        if source == "varargs":
            return "args"
        if source == "varkw":
            return "kwargs"
        if source == "model":
            return "model_of(instance)"
        if source == "method":
            return "_method"
        if source == "target":
            return f"_ba[_t{i}_{j}]"
        if source == "default":
            return f"_d{i}_{j}"
        if source == "joinpoint":
            result = "result" if phase in ("after", "chain") else "None"
            error = "error" if phase == "error" else "None"
            proceed = "proceed" if phase == "around" else "None"
            return (
                f"_JP(instance, model_of(instance), _method, args, kwargs, _n{i}, _k{i}, "
                f"{result}, {error}, {proceed}, _bind)"
            )
        raise AssertionError(source)  # pragma: no cover - plan_advice makes only the above

    # -- statements --------------------------------------------------------

    def guarded(
        self,
        src: _Source,
        depth: int,
        advice: PlannedAdvice,
        assign: str,
        phase: str,
        on_ok: Sequence[str] = (),
        on_fail: Sequence[str] = (),
        inline: Sequence[str] = (),
    ) -> None:
        """Emit ``assign = call`` with the context-local switch and error policy around it.

        ``inline`` is the same step without the temporary (``{call}`` stands for
        the call), used under the ``raise`` policy: no store and reload per call.
        """
        i = self.index[id(advice)]
        if advice.aspect.switch in self.plan.ctx_switches:
            src.add(depth, f"if not _off or _s{i} not in _off:")
            depth += 1
        stmt = f"{assign} = {self.call(advice, phase)}" if assign else self.call(advice, phase)
        policy = advice.aspect.on_error
        if policy == "raise" and inline:
            for line in inline:
                src.add(depth, line.replace("{call}", self.call(advice, phase)))
            return
        if policy == "raise":
            src.add(depth, stmt)
            for line in on_ok:
                src.add(depth, line)
            return
        src.add(depth, "try:")
        src.add(depth + 1, stmt)
        src.add(depth, "except Exception as _e:")
        src.add(depth + 1, f"_f{i}(_e, instance)")
        for line in on_fail:
            src.add(depth + 1, line)
        src.add(depth, "else:")
        if policy == "disable":
            src.add(depth + 1, f"_s{i}.consecutive_failures = 0")
        for line in on_ok or ["pass"]:
            src.add(depth + 1, line)

    def generate(self) -> tuple[str, str]:
        plan = self.plan
        aw = "await " if self.is_async else ""
        adef = "async def" if self.is_async else "def"
        src = _Source()
        for k, advice in enumerate(plan.arounds):
            self.around_level(src, k, advice)
        name = "dispatch"
        src.add(0, f"{adef} {name}(wrapped, instance, args, kwargs):")
        d = 1
        if plan.guard:
            # Skip the advice only for a call that entered at another level (a
            # super() call); a recursive call at this level is an outer call.
            src.add(d, "_key = (id(instance), _method)")
            src.add(d, "_lvl = (id(instance), _method, _owner)")
            src.add(d, "_act = _avar.get()")
            src.add(d, "if _key in _act and _lvl not in _act:")
            src.add(d + 1, f"return {aw}wrapped(*args, **kwargs)")
            src.add(d, "_tok = _avar.set(_act | {_key, _lvl})")
            src.add(d, "try:")
            d += 1
        outer = [a for a in plan.befores + plan.chains + plan.afters + plan.errors]
        if any(a.aspect.switch in plan.ctx_switches for a in outer):
            # Read the context-local toggles once; while none is in force in
            # this context (the usual case) each check is one truth test.
            src.add(d, "_off = _dget()")
        if any(a.needs_binding for a in outer):
            src.add(d, "_ba = _bind(instance, args, kwargs)")
        for advice in plan.befores:
            self.guarded(
                src,
                d,
                advice,
                "_v",
                "before",
                on_ok=["if _v is False:", "    return None"],
                inline=["if {call} is False:", "    return None"],
            )
        # wrapt passes kwargs as a dict, usually empty: calling without ``**``
        # then saves building and merging a new dict on every call.
        core = (
            f"{aw}_lvl0(wrapped, instance, args, kwargs)"
            if plan.arounds
            else f"{aw}(wrapped(*args, **kwargs) if kwargs else wrapped(*args))"
        )
        if not (plan.errors or plan.chains or plan.afters):
            # Nothing runs after the method: return its result directly.
            src.add(d, f"return {core}")
        elif plan.errors:
            src.add(d, "try:")
            src.add(d + 1, f"result = {core}")
            src.add(d, "except Exception as error:")
            for advice in plan.errors:
                self.guarded(
                    src,
                    d + 1,
                    advice,
                    "_r",
                    "error",
                    on_ok=["if isinstance(_r, _Recover):", "    return _r.value"],
                )
            src.add(d + 1, "raise")
        else:
            src.add(d, f"result = {core}")
        for advice in plan.chains:
            self.guarded(
                src, d, advice, "_v", "chain", on_ok=["result = _v"], inline=["result = {call}"]
            )
        for advice in plan.afters:
            self.guarded(src, d, advice, "", "after")
        if plan.errors or plan.chains or plan.afters:
            src.add(d, "return result")
        if plan.guard:
            src.add(1, "finally:")
            src.add(2, "_avar.reset(_tok)")
        return name, "\n".join(src.lines) + "\n"

    def around_level(self, src: _Source, k: int, advice: PlannedAdvice) -> None:
        """Emit ``_lvl{k}``: around advice ``k`` with a one-shot ``proceed``."""
        plan = self.plan
        i = self.index[id(advice)]
        last = k == len(plan.arounds) - 1
        aw = "await " if self.is_async else ""
        adef = "async def" if self.is_async else "def"

        def inner(a: str, kw: str) -> str:
            if last:  # without ``**`` when there are no keywords, as in ``dispatch``
                return f"(wrapped(*{a}, **{kw}) if {kw} else wrapped(*{a}))"
            return f"_lvl{k + 1}(wrapped, instance, {a}, {kw})"

        log_policy = advice.aspect.on_error != "raise"
        src.add(0, f"{adef} _lvl{k}(wrapped, instance, args, kwargs):")
        if advice.aspect.switch in plan.ctx_switches:
            src.add(1, f"if _s{i} in _dget():")
            src.add(2, f"return {aw}{inner('args', 'kwargs')}")
        if advice.needs_binding:
            src.add(1, "_ba = _bind(instance, args, kwargs)")
        src.add(1, "called = False")
        if not log_policy:
            src.add(1, "def proceed(*a, **kw):")
            src.add(2, "nonlocal called")
            src.add(2, "if called:")
            src.add(3, f"raise _ProceedError(_perr{i})")
            src.add(2, "called = True")
            src.add(2, "if a or kw:")
            src.add(3, f"return {inner('a', 'kw')}")
            src.add(2, f"return {inner('args', 'kwargs')}")
            call = self.call(advice, "around")
            if self.is_async and not advice.is_async:
                src.add(1, f"_r = {call}")
                src.add(1, "if _isawaitable(_r):")
                src.add(2, "_r = await _r")
                src.add(1, "return _r")
            else:
                src.add(1, f"return {call}")
            return
        # log / disable policy: a failing around advice is skipped, not the call.
        src.add(1, "res = None")
        src.add(1, "inner_failed = started = False")
        # proceed() itself is sync so a second call fails at once (as under the
        # raise policy); ``started`` tells whether the inner chain really ran,
        # which differs from ``called`` when a sync advice on an async target
        # fails before its proceed() coroutine is awaited.
        src.add(1, "def proceed(*a, **kw):")
        src.add(2, "nonlocal called")
        src.add(2, "if called:")
        src.add(3, f"raise _ProceedError(_perr{i})")
        src.add(2, "called = True")
        src.add(2, "return _go(a, kw) if (a or kw) else _go(args, kwargs)")
        src.add(1, f"{adef} _go(a, kw):")
        src.add(2, "nonlocal res, inner_failed, started")
        src.add(2, "started = True")
        src.add(2, "try:")
        src.add(3, f"res = {aw}{inner('a', 'kw')}")
        src.add(2, "except BaseException:")
        src.add(3, "inner_failed = True")
        src.add(3, "raise")
        src.add(2, "return res")
        src.add(1, "try:")
        src.add(2, f"_r = {self.call(advice, 'around')}")
        if self.is_async:
            src.add(2, "if _isawaitable(_r):")
            src.add(3, "_r = await _r")
        src.add(1, "except Exception as _e:")
        src.add(2, "if inner_failed or isinstance(_e, _ProceedError):")
        src.add(3, "raise")
        src.add(2, f"_f{i}(_e, instance)")
        src.add(2, "if started:")
        src.add(3, "return res")
        src.add(2, f"return {aw}{inner('args', 'kwargs')}")
        if advice.aspect.on_error == "disable":
            src.add(1, f"_s{i}.consecutive_failures = 0")
        src.add(1, "return _r")


def compile_chain(plan: ChainPlan) -> Dispatcher:
    """Generate, compile and return the wrapt wrapper function for ``plan``."""
    gen = _Generator(plan)
    name, text = gen.generate()
    target = plan.target
    filename = f"<earnorm_aop dispatch {target.owner.__qualname__}.{target.name} #{next(_counter)}>"
    code = compile(text, filename, "exec")
    # Register the source so tracebacks and debuggers show the generated lines.
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    exec(code, gen.ns)
    dispatcher: Dispatcher = gen.ns[name]
    dispatcher.__earnorm_source__ = text  # type: ignore[attr-defined]
    # Every rebuild (a toggle, a disabled() block) compiles a new dispatcher:
    # forget its source once it is gone, or linecache would grow forever.
    weakref.finalize(dispatcher, linecache.cache.pop, filename, None)
    return dispatcher
