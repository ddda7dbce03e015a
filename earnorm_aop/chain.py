"""The dispatch chain of one woven method, and the two ways to run it.

A :class:`ChainPlan` is decided at weave time: which advice runs in which
phase, in which order.  :func:`compile_chain` turns it into the wrapt wrapper
function, generated as Python source specialised to that exact chain (one
``if`` per ``before``, no loops, no dictionary look-ups, no signature binding
unless an advice asked for a target parameter).  :func:`interpret_chain` runs
the same plan with plain loops; tests check the two agree, and tracing uses
it because it can report every advice run.

Semantics (DESIGN.md section 2): every ``before`` in plugin order (``False``
vetoes: the call returns ``None`` and nothing else runs) -> the ``around``
onion, first outermost -> the method -> ``chain`` advice reversed -> ``after``
advice reversed.  ``error`` advice runs reversed for an exception from the
method or an ``around``; the first ``Recover(v)`` makes ``v`` the result.
"""

from __future__ import annotations

import inspect
import itertools
import linecache
import logging
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import scope
from .advice import Param, PlannedAdvice, Target
from .aspect import Switch
from .errors import ProceedError
from .joinpoint import JoinPoint, Recover
from .pointcut import Kind

__all__ = ["ChainPlan", "Dispatcher", "compile_chain", "interpret_chain"]

log = logging.getLogger("earnorm_aop")

Dispatcher = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]
_counter = itertools.count()
_VARPOS = inspect.Parameter.VAR_POSITIONAL
_VARKW = inspect.Parameter.VAR_KEYWORD
_KWONLY = inspect.Parameter.KEYWORD_ONLY


@dataclass(frozen=True)
class ChainPlan:
    """The advice of one (class, method), sorted into phases and run order."""

    target: Target
    befores: tuple[PlannedAdvice, ...] = ()
    arounds: tuple[PlannedAdvice, ...] = ()
    chains: tuple[PlannedAdvice, ...] = ()
    afters: tuple[PlannedAdvice, ...] = ()
    errors: tuple[PlannedAdvice, ...] = ()
    # Set by the weaver when another woven level of the same method exists in
    # the hierarchy, so a super() call must not run the advice twice.
    guard: bool = False
    # Plugins with a context-local ``disabled()`` in force somewhere.
    ctx_switches: frozenset[Switch] = field(default_factory=frozenset)
    # For an adapter-mapped method: the logical operation and the per-model
    # class the wrapper is installed on.
    label: str = ""
    owner: type | None = None

    @classmethod
    def build(
        cls,
        target: Target,
        advice: Sequence[PlannedAdvice],
        *,
        guard: bool = False,
        ctx_switches: frozenset[Switch] = frozenset(),
    ) -> ChainPlan:
        """Sort advice given in plugin order into phases (reversing the late ones)."""

        def of(kind: Kind) -> tuple[PlannedAdvice, ...]:
            return tuple(a for a in advice if a.kind is kind)

        return cls(
            target,
            befores=of(Kind.BEFORE),
            arounds=of(Kind.AROUND),
            chains=of(Kind.CHAIN)[::-1],
            afters=of(Kind.AFTER)[::-1],
            errors=of(Kind.ERROR)[::-1],
            guard=guard,
            ctx_switches=ctx_switches & {a.aspect.switch for a in advice},
        )

    @property
    def all(self) -> tuple[PlannedAdvice, ...]:
        return self.befores + self.arounds + self.chains + self.afters + self.errors

    def __bool__(self) -> bool:
        return bool(self.all)


def _model_of(target: Target) -> Callable[[Any], Any]:
    model = target.model
    if model is not None:
        return lambda instance: model
    if target.binding == "method":
        return type
    if target.binding == "classmethod":
        return lambda instance: instance
    owner = target.owner
    return lambda instance: owner


class _FailureHandler:
    """What a failing advice does under the ``log`` and ``disable`` policies."""

    def __init__(self, advice: PlannedAdvice, target: Target) -> None:
        self.advice = advice
        self.method = target.name
        self.model_of = _model_of(target)

    def __call__(self, error: BaseException, instance: Any) -> None:
        aspect = self.advice.aspect
        switch = aspect.switch
        # Name the model the call ran on (a subclass inheriting the method),
        # not the class that happens to define it.
        model = self.model_of(instance)
        where = f"{getattr(model, '__qualname__', model)}.{self.method}"
        with switch.lock:
            switch.failures += 1
            switch.consecutive_failures += 1
            switch.last_error = error
            trip = (
                aspect.on_error == "disable"
                and switch.enabled
                and switch.consecutive_failures >= aspect.max_failures
            )
        log.error(
            "plugin %r: %s advice %r failed on %s; the operation goes on",
            aspect.name,
            self.advice.kind.value,
            self.advice.spec.name,
            where,
            exc_info=error,
        )
        if trip:
            from . import weaver

            log.warning(
                "plugin %r disabled after %d consecutive failures (max_failures=%d)",
                aspect.name,
                switch.consecutive_failures,
                aspect.max_failures,
            )
            switch.auto_disabled = True
            weaver.set_enabled(switch, False)


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
            "_model_of": _model_of(plan.target),
            "_bind": plan.target.binder(),
        }
        self.index: dict[int, int] = {}
        for i, advice in enumerate(plan.all):
            self.index[id(advice)] = i
            self.ns[f"_a{i}"] = advice.func
            self.ns[f"_s{i}"] = advice.aspect.switch
            self.ns[f"_n{i}"] = advice.aspect.name
            self.ns[f"_k{i}"] = advice.kind.value
            self.ns[f"_f{i}"] = _FailureHandler(advice, plan.target)
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
        return f"(await {text})" if advice.is_async else text

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
            return "_model_of(instance)"
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
                f"_JP(instance, _model_of(instance), _method, args, kwargs, _n{i}, _k{i}, "
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


# --------------------------------------------------------------------------
# The interpreted dispatcher
# --------------------------------------------------------------------------


class _Call:
    """The per-call state the interpreted dispatcher resolves parameters from."""

    __slots__ = ("args", "binder", "bound", "instance", "kwargs", "model", "target")

    def __init__(self, target: Target, instance: Any, args: Any, kwargs: Any) -> None:
        self.target = target
        self.instance = instance
        self.args = args
        self.kwargs = kwargs
        self.model = _model_of(target)(instance)
        self.bound: dict[str, Any] | None = None
        self.binder = target.binder()


def _invoke(
    advice: PlannedAdvice,
    call: _Call,
    *,
    result: Any = None,
    error: BaseException | None = None,
    proceed: Any = None,
) -> Any:
    positional: list[Any] = []
    keywords: dict[str, Any] = {}
    for p in advice.params:
        s = p.source
        if s == "varargs":
            positional.extend(call.args)
            continue
        if s == "varkw":
            keywords.update(call.kwargs)
            continue
        if s == "target":
            if call.bound is None:
                call.bound = call.binder(call.instance, call.args, call.kwargs)
            value = call.bound[p.key]
        elif s == "joinpoint":
            value = JoinPoint(
                call.instance,
                call.model,
                call.target.name,
                call.args,
                call.kwargs,
                advice.aspect.name,
                advice.kind.value,
                result,
                error,
                proceed,
                call.binder,
            )
        else:
            value = {
                "instance": call.instance,
                "model": call.model,
                "args": call.args,
                "kwargs": call.kwargs,
                "method": call.target.name,
                "result": result,
                "value": result,
                "error": error,
                "proceed": proceed,
                "default": p.default,
            }[s]
        if p.kind is _KWONLY:
            keywords[p.name] = value
        else:
            positional.append(value)
    return advice.func(*positional, **keywords)


class _Interpreter:
    """Runs a plan with loops; reports to the trace in force, if any."""

    def __init__(self, plan: ChainPlan) -> None:
        self.plan = plan
        self.handlers = {id(a): _FailureHandler(a, plan.target) for a in plan.all}

    def skip(self, advice: PlannedAdvice) -> bool:
        return (
            advice.aspect.switch in self.plan.ctx_switches
            and advice.aspect.switch in scope.DISABLED.get()
        )

    def record(self, advice: PlannedAdvice, call: _Call, outcome: str, start: float) -> None:
        recorder = scope.TRACE.get()
        if recorder is not None:
            from .tracing import TraceRecord

            recorder.records.append(
                TraceRecord(
                    advice.aspect.name,
                    advice.spec.name,
                    advice.kind.value,
                    getattr(call.model, "__qualname__", str(call.model)),
                    call.target.name,
                    outcome,
                    time.perf_counter() - start,
                )
            )

    def failed(self, advice: PlannedAdvice, call: _Call, exc: Exception, start: float) -> bool:
        """Handle an advice failure; True when the policy says the call goes on."""
        if advice.aspect.on_error == "raise":
            self.record(advice, call, "raised", start)
            return False
        self.handlers[id(advice)](exc, call.instance)
        self.record(advice, call, "failed", start)
        return True

    def succeeded(self, advice: PlannedAdvice) -> None:
        if advice.aspect.on_error == "disable":
            advice.aspect.switch.consecutive_failures = 0

    def run(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        plan = self.plan
        if plan.guard:
            key = (id(instance), plan.target.name)
            level = (*key, plan.target.owner)
            active = scope.ACTIVE_CALLS.get()
            if key in active and level not in active:
                return wrapped(*args, **kwargs)
            token = scope.ACTIVE_CALLS.set(active | {key, level})
            try:
                return self.body(wrapped, instance, args, kwargs)
            finally:
                scope.ACTIVE_CALLS.reset(token)
        return self.body(wrapped, instance, args, kwargs)

    def body(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        plan = self.plan
        call = _Call(plan.target, instance, args, kwargs)
        for advice in plan.befores:
            if self.skip(advice):
                continue
            start = time.perf_counter()
            try:
                verdict = _invoke(advice, call)
            except Exception as exc:
                if not self.failed(advice, call, exc, start):
                    raise
                continue
            self.succeeded(advice)
            self.record(advice, call, "veto" if verdict is False else "ok", start)
            if verdict is False:
                return None
        try:
            result = self.around(0, wrapped, instance, args, kwargs)
        except Exception as exc:
            for advice in plan.errors:
                if self.skip(advice):
                    continue
                start = time.perf_counter()
                try:
                    outcome = _invoke(advice, call, error=exc)
                except Exception as exc2:
                    if not self.failed(advice, call, exc2, start):
                        raise
                    continue
                self.succeeded(advice)
                if isinstance(outcome, Recover):
                    self.record(advice, call, "recovered", start)
                    return outcome.value
                self.record(advice, call, "ok", start)
            raise
        for advice in plan.chains:
            if self.skip(advice):
                continue
            start = time.perf_counter()
            try:
                value = _invoke(advice, call, result=result)
            except Exception as exc:
                if not self.failed(advice, call, exc, start):
                    raise
                continue
            self.succeeded(advice)
            result = value
            self.record(advice, call, "ok", start)
        for advice in plan.afters:
            if self.skip(advice):
                continue
            start = time.perf_counter()
            try:
                _invoke(advice, call, result=result)
            except Exception as exc:
                if not self.failed(advice, call, exc, start):
                    raise
                continue
            self.succeeded(advice)
            self.record(advice, call, "ok", start)
        return result

    def around(self, k: int, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        plan = self.plan
        if k == len(plan.arounds):
            return wrapped(*args, **kwargs)
        advice = plan.arounds[k]
        if self.skip(advice):
            return self.around(k + 1, wrapped, instance, args, kwargs)
        state = {"called": False, "inner_failed": False, "res": None}

        def proceed(*a: Any, **kw: Any) -> Any:
            if state["called"]:
                raise ProceedError(
                    f"proceed() called twice by around advice {advice.label} on "
                    f"{plan.target.owner.__qualname__}.{plan.target.name}"
                )
            state["called"] = True
            try:
                if a or kw:
                    res = self.around(k + 1, wrapped, instance, a, kw)
                else:
                    res = self.around(k + 1, wrapped, instance, args, kwargs)
            except BaseException:
                state["inner_failed"] = True
                raise
            state["res"] = res
            return res

        call = _Call(plan.target, instance, args, kwargs)
        start = time.perf_counter()
        try:
            result = _invoke(advice, call, proceed=proceed)
        except Exception as exc:
            if state["inner_failed"] or isinstance(exc, ProceedError):
                self.record(advice, call, "raised", start)
                raise
            if not self.failed(advice, call, exc, start):
                raise
            if state["called"]:
                return state["res"]
            return self.around(k + 1, wrapped, instance, args, kwargs)
        self.succeeded(advice)
        self.record(advice, call, "ok", start)
        return result


class _AsyncInterpreter(_Interpreter):
    """The interpreted dispatcher for ``async def`` targets."""

    async def run(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        plan = self.plan
        if plan.guard:
            key = (id(instance), plan.target.name)
            level = (*key, plan.target.owner)
            active = scope.ACTIVE_CALLS.get()
            if key in active and level not in active:
                return await wrapped(*args, **kwargs)
            token = scope.ACTIVE_CALLS.set(active | {key, level})
            try:
                return await self.abody(wrapped, instance, args, kwargs)
            finally:
                scope.ACTIVE_CALLS.reset(token)
        return await self.abody(wrapped, instance, args, kwargs)

    async def ainvoke(self, advice: PlannedAdvice, call: _Call, **kw: Any) -> Any:
        value = _invoke(advice, call, **kw)
        if advice.is_async or (advice.kind is Kind.AROUND and inspect.isawaitable(value)):
            value = await value
        return value

    async def abody(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        plan = self.plan
        call = _Call(plan.target, instance, args, kwargs)
        for advice in plan.befores:
            if self.skip(advice):
                continue
            start = time.perf_counter()
            try:
                verdict = await self.ainvoke(advice, call)
            except Exception as exc:
                if not self.failed(advice, call, exc, start):
                    raise
                continue
            self.succeeded(advice)
            self.record(advice, call, "veto" if verdict is False else "ok", start)
            if verdict is False:
                return None
        try:
            result = await self.aaround(0, wrapped, instance, args, kwargs)
        except Exception as exc:
            for advice in plan.errors:
                if self.skip(advice):
                    continue
                start = time.perf_counter()
                try:
                    outcome = await self.ainvoke(advice, call, error=exc)
                except Exception as exc2:
                    if not self.failed(advice, call, exc2, start):
                        raise
                    continue
                self.succeeded(advice)
                if isinstance(outcome, Recover):
                    self.record(advice, call, "recovered", start)
                    return outcome.value
                self.record(advice, call, "ok", start)
            raise
        for advice in plan.chains:
            if self.skip(advice):
                continue
            start = time.perf_counter()
            try:
                value = await self.ainvoke(advice, call, result=result)
            except Exception as exc:
                if not self.failed(advice, call, exc, start):
                    raise
                continue
            self.succeeded(advice)
            result = value
            self.record(advice, call, "ok", start)
        for advice in plan.afters:
            if self.skip(advice):
                continue
            start = time.perf_counter()
            try:
                await self.ainvoke(advice, call, result=result)
            except Exception as exc:
                if not self.failed(advice, call, exc, start):
                    raise
                continue
            self.succeeded(advice)
            self.record(advice, call, "ok", start)
        return result

    async def aaround(self, k: int, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        plan = self.plan
        if k == len(plan.arounds):
            return await wrapped(*args, **kwargs)
        advice = plan.arounds[k]
        if self.skip(advice):
            return await self.aaround(k + 1, wrapped, instance, args, kwargs)
        state = {"called": False, "started": False, "inner_failed": False, "res": None}

        async def proceed_inner(a: Any, kw: Any) -> Any:
            state["started"] = True
            try:
                res = await self.aaround(k + 1, wrapped, instance, a, kw)
            except BaseException:
                state["inner_failed"] = True
                raise
            state["res"] = res
            return res

        def proceed(*a: Any, **kw: Any) -> Any:
            if state["called"]:
                raise ProceedError(
                    f"proceed() called twice by around advice {advice.label} on "
                    f"{plan.target.owner.__qualname__}.{plan.target.name}"
                )
            state["called"] = True
            return proceed_inner(a, kw) if (a or kw) else proceed_inner(args, kwargs)

        call = _Call(plan.target, instance, args, kwargs)
        start = time.perf_counter()
        try:
            result = await self.ainvoke(advice, call, proceed=proceed)
        except Exception as exc:
            if state["inner_failed"] or isinstance(exc, ProceedError):
                self.record(advice, call, "raised", start)
                raise
            if not self.failed(advice, call, exc, start):
                raise
            # A sync advice may call proceed() and fail before its coroutine is
            # awaited: the rest of the chain has not run, so it runs now.
            if state["started"]:
                return state["res"]
            return await self.aaround(k + 1, wrapped, instance, args, kwargs)
        self.succeeded(advice)
        self.record(advice, call, "ok", start)
        return result


def interpret_chain(plan: ChainPlan) -> Dispatcher:
    """The plain, loop-based dispatcher for ``plan`` (same semantics as the generated one)."""
    interpreter = _AsyncInterpreter(plan) if plan.target.is_async else _Interpreter(plan)
    return interpreter.run
