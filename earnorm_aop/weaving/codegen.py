"""The source of a generated dispatcher: what one chain's code says.

[`Generator`][earnorm_aop.weaving.codegen.Generator] writes the Python source of the wrapt wrapper
function of one [`ChainPlan`][earnorm_aop.weaving.chain.ChainPlan]: one ``if`` per ``before``, no
loops, no dictionary look-ups, and target parameters read from the call's arguments
(``Signature.bind`` only for a target taking ``*args``/``**kwargs``).  It splits the plan in two:
the chain's values (advice functions, switches, defaults), which go into the namespace the
generated functions close over, and its [`ChainShape`][earnorm_aop.weaving.codegen.ChainShape], a
frozen record of all the source depends on and nothing else.  The source is written from the
shape alone, so the shape is also the key its compiled code is cached under; what every chain
shares is in ``GLOBALS``.  Compiling, caching and registering with ``linecache`` is
[`earnorm_aop.weaving.generated`][earnorm_aop.weaving.generated]'s part.
"""

from __future__ import annotations

import builtins
import inspect
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, assert_never

from ..errors import ProceedError
from . import scope
from .advice import REQUIRED, PlannedAdvice, Source
from .chain import (
    ChainPlan,
    Dispatcher,
    FailureHandler,
    discard_unstarted,
    guard_subject,
    holds_iteration,
    keep_guard,
    model_of,
)
from .interpreted import interpret_chain
from .joinpoint import JoinPoint, Recover
from .policy import policy_of

__all__ = ["GLOBALS", "AdviceShape", "ChainShape", "Extras", "Generator", "ParamShape"]

_VARPOS = inspect.Parameter.VAR_POSITIONAL
_VARKW = inspect.Parameter.VAR_KEYWORD
_KWONLY = inspect.Parameter.KEYWORD_ONLY


def _name(text: str) -> str:
    """One shared string per generated identifier, not one per woven class."""
    return sys.intern(text)


class _Source:
    """Lines of generated code with indentation."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)


# The legend at the top of every generated module: what its names stand for.
# Static text (no user string reaches the source), and the same for every
# chain of a shape, whose code is shared.
_LEGEND = (
    "# earnorm_aop dispatcher of one woven method's advice chain (weaving/codegen.py).",
    "# dispatch: the wrapt wrapper; _lvl{k}: the k-th around advice, outermost first.",
    "# _advice{i}: advice i, in plan order (before, around, chain, after, error);",
    "# _switch{i}: its plugin's switch; _plugin{i}: the plugin's name; _kind{i}: the advice kind;",
    "# _onfail{i}: its failure handler (log / disable);",
    "# _value{i}_{j}: a weave-time value for its parameter j (a default, the adapter) or an",
    "#   injectable's getter; _param{i}_{j}: the target parameter it reads from _ba (bound);",
    "# _arg{m}: a target parameter read from args; _nb / _dv{m}: the binding's fallback;",
    "# _g: the gate, nonzero while trace(), metering or disabled() may apply; _x: the",
    "#   interpreted chain, what lives as long as the dispatcher and the message of",
    "#   proceed() called twice (_x.twice(i)); _runs{i} / _memo:",
    "#   whether advice i runs in this context, per disabled() set last seen;",
    "# _make{n} / _state{n}: the maker of a value made once per call (the write's",
    "#   state) and that value, given to every advice asking for it.",
)


@dataclass(frozen=True, slots=True)
class ParamShape:
    """What the source says of one advice parameter: how it is passed, where its value is."""

    name: str
    kind: inspect._ParameterKind
    source: Source
    arg: int | None  # a target parameter read straight from the call: its ``_arg{m}``;
    # a per-call value: its ``_state{n}``


@dataclass(frozen=True, slots=True)
class AdviceShape:
    """What the source says of one advice: its number, how it is called, its failure policy."""

    index: int  # ``i`` of ``_advice{i}``, in plan order (before, around, chain, after, error)
    is_async: bool
    may_await: bool  # sync, but its result may be awaitable (tested on an async target)
    needs_binding: bool
    goes_on: bool  # a failure is handled (log / disable) and the call goes on
    disables: bool  # ... and a success resets the switch's failure count
    params: tuple[ParamShape, ...]


@dataclass(frozen=True, slots=True)
class BindingShape:
    """What the source says of a target whose parameters are read from the call's arguments.

    See [`DirectBinding`][earnorm_aop.weaving.advice.DirectBinding]: ``positions``
    has each asked-for parameter's position, None for a keyword-only one.
    """

    required: int
    positional: int
    keyword_required: bool
    positions: tuple[int | None, ...]


@dataclass(frozen=True, slots=True)
class ChainShape:
    """All the generated source of one chain depends on, and nothing else.

    Chains of the same shape (the same phases, parameters and policies,
    whichever plugins and classes they belong to) have the same source: the
    shape is the key their compiled code is shared under.  It holds no
    function, class or user string but parameter names (Python checked they
    are identifiers), so a cache keyed by it keeps nothing alive.
    """

    is_async: bool
    guard: bool  # the super() re-entry guard
    keyed_on_instance: bool  # the guard's key: the instance (else the hierarchy's top class)
    iterates: bool  # guarded and a generator: the guard is held while it runs
    subject: str  # ``Subject.source``: what ``instance`` stands for in advice
    subject_index: int
    binding: BindingShape | None  # None: ``_bind`` (``Signature.bind``) gives target parameters
    befores: tuple[AdviceShape, ...]
    arounds: tuple[AdviceShape, ...]
    chains: tuple[AdviceShape, ...]
    afters: tuple[AdviceShape, ...]
    errors: tuple[AdviceShape, ...]
    values: tuple[str, ...]  # the names of the chain's values the functions close over
    states: int = 0  # values made once per call (``_state{n}``), passed down the around levels


# Shapes by what they are written from (see _shape_key): one more chain of a
# shape seen before skips building the shape's records and hashing them.
_shapes: dict[tuple[Any, ...], ChainShape] = {}
# The identifiers of advice i's values, made once per index.
_NAMES: list[tuple[str, str, str, str, str]] = []


_FIRST_MEMOS: list[tuple[Any, ...]] = []


def _first_memo(n: int) -> tuple[Any, ...]:
    """``(None, True, ...)``: no disabled set seen yet, ``n`` advice all running.

    One tuple per length, shared: a dispatcher never changes it, it rebinds its
    own ``_memo`` cell to a new tuple.
    """
    while len(_FIRST_MEMOS) <= n:
        _FIRST_MEMOS.append((None, *[True] * len(_FIRST_MEMOS)))
    return _FIRST_MEMOS[n]


def _names(i: int) -> tuple[str, str, str, str, str]:
    """``_advice{i}``, ``_switch{i}``, ``_plugin{i}``, ``_kind{i}``, ``_onfail{i}`` (interned)."""
    while len(_NAMES) <= i:
        k = len(_NAMES)
        _NAMES.append(
            tuple(
                _name(f"{stem}{k}")
                for stem in ("_advice", "_switch", "_plugin", "_kind", "_onfail")
            )  # type: ignore[arg-type]
        )
    return _NAMES[i]


_WEAVE_TIME_VALUES = (Source.DEFAULT, Source.PROVIDED)
_INDEXED: dict[tuple[Any, ...], str] = {}


def _indexed(stem: str, *index: int) -> str:
    """``stem`` with its indices (``_value3_1``), one interned string made once per name."""
    key = (stem, *index)
    found = _INDEXED.get(key)
    if found is None:
        found = _INDEXED[key] = _name(stem + "_".join(map(str, index)))
    return found


def _shape_key(plan: ChainPlan, keyed_on_instance: bool) -> tuple[Any, ...] | None:
    """All a chain's shape is written from, as plain values; None when it reads the signature.

    The shape of a chain whose advice asks for a target parameter depends on
    the target's signature (``BindingShape``): such a chain is not keyed.
    Otherwise the shape is a function of this key alone (``Generator._shape``
    reads nothing else), so equal keys give equal shapes.
    """
    target = plan.target
    parts: list[Any] = [
        target.is_async,
        plan.guard,
        keyed_on_instance,
        plan.guard and holds_iteration(target),
        target.subject.source,
        target.subject.index,
        len(plan.befores),
        len(plan.arounds),
        len(plan.chains),
        len(plan.afters),
    ]
    for advice in plan.all:
        params = []
        for p in advice.params:
            if p.source is Source.TARGET:
                return None
            params.append((p.name, p.kind, p.source, p.key))
        parts.append(
            (
                advice.kind,
                advice.is_async,
                advice.may_await,
                advice.needs_binding,
                advice.aspect.on_error,
                tuple(params),
            )
        )
    return tuple(parts)


class Generator:
    """Splits a plan into its values, by generated name, and its shape; writes the source.

    Every value (advice functions, defaults, switches, names) goes into the
    namespace under a generated identifier; user strings never reach the
    source text, except parameter names, which Python has already checked
    are identifiers.
    """

    def __init__(self, plan: ChainPlan) -> None:
        self.plan = plan
        # The chain's own values, which the generated functions reach as closure
        # variables; what every chain shares is in GLOBALS.
        self.extras = Extras(plan)
        target = plan.target
        gsub = guard_subject(target)
        self.ns: dict[str, Any] = {
            "_x": self.extras,
            "_method": target.name,
            "_owner": target.owner,
            "_gsub": gsub,
            "model_of": model_of(target),
            "_subject_name": target.subject.name,
        }
        everything = plan.all
        if len(everything) > len(plan.arounds):  # checked: before, chain, after, error
            # The last disabled set seen, with one run/skip flag per advice.
            self.ns["_memo"] = _first_memo(len(everything) - len(plan.arounds))
        # A chain of a shape seen before (the usual case: one more model woven with
        # the same plugins) takes that shape, and its values in the same order.
        key = _shape_key(plan, gsub is None)
        self.key: tuple[Any, ...] | None = key  # also what the compiled code is found by
        shape = _shapes.get(key) if key is not None else None
        self._values(everything)
        if shape is not None:
            self._param_values(everything, bound=True)  # (a shape with a key binds no target)
            self.shape = shape
            return
        self.shape = self._shape(plan, gsub is None)
        if key is not None:
            if len(_shapes) > 4096:  # bounded: shapes hold no class, but plugins come and go
                _shapes.clear()
            _shapes[key] = self.shape

    def _values(self, everything: tuple[PlannedAdvice, ...]) -> None:
        """Each advice's values (function, switch, names, failure handler), in plan order."""
        ns = self.ns
        plan = self.plan
        for i, advice in enumerate(everything):
            names = _names(i)
            aspect = advice.aspect
            ns[names[0]] = advice.func
            ns[names[1]] = aspect.switch
            ns[names[2]] = aspect.name
            ns[names[3]] = advice.kind.value
            if policy_of(aspect).goes_on:
                ns[names[4]] = FailureHandler(advice, plan.target)

    def _shape(self, plan: ChainPlan, keyed_on_instance: bool) -> ChainShape:
        """The shape of ``plan`` (the values of its parameters go into ``ns`` on the way)."""
        # The target parameters advice asks for, each read once per call into
        # ``_arg{m}`` straight from the arguments when the signature allows it
        # (see DirectBinding); otherwise the call binds them into ``_ba``.
        asked = tuple(
            dict.fromkeys(p.key for a in plan.all for p in a.params if p.source is Source.TARGET)
        )
        arg = {name: m for m, name in enumerate(asked)}
        direct = plan.target.direct_binding(asked) if asked else None
        binding = None
        if direct is not None:
            self.ns["_nb"] = direct.native
            for m, dp in enumerate(direct.params):
                if dp.default is not REQUIRED:
                    self.ns[_name(f"_dv{m}")] = dp.default
            binding = BindingShape(
                direct.required,
                direct.positional,
                direct.keyword_required,
                tuple(dp.position for dp in direct.params),
            )
        # Values made once per call (Source.CALL), one per name, in plan order.
        states = self._param_values(plan.all, bound=direct is None)
        index: dict[int, AdviceShape] = {}
        for i, advice in enumerate(plan.all):
            params = []
            for p in advice.params:
                direct_arg = arg[p.key] if p.source is Source.TARGET and direct else None
                if p.source is Source.CALL:
                    direct_arg = states[p.key]
                params.append(ParamShape(p.name, p.kind, p.source, direct_arg))
            policy = policy_of(advice.aspect)
            index[id(advice)] = AdviceShape(
                i,
                advice.is_async,
                advice.may_await,
                advice.needs_binding,
                policy.goes_on,
                policy.disables,
                tuple(params),
            )

        def phase(advice: tuple[PlannedAdvice, ...]) -> tuple[AdviceShape, ...]:
            return tuple(index[id(a)] for a in advice)

        target = plan.target
        return ChainShape(
            is_async=target.is_async,
            guard=plan.guard,
            keyed_on_instance=keyed_on_instance,
            iterates=plan.guard and holds_iteration(target),
            subject=target.subject.source,
            subject_index=target.subject.index,
            binding=binding,
            befores=phase(plan.befores),
            arounds=phase(plan.arounds),
            chains=phase(plan.chains),
            afters=phase(plan.afters),
            errors=phase(plan.errors),
            values=tuple(self.ns),
            states=len(states),
        )

    def _param_values(
        self, everything: tuple[PlannedAdvice, ...], *, bound: bool
    ) -> dict[str, int]:
        """Put the parameters' weave-time values into ``ns``; the per-call values' numbers.

        ``bound``: the target parameters advice asks for come from ``_ba`` (the
        call is bound), each under its name in ``_param{i}_{j}``.
        """
        ns = self.ns
        states: dict[str, int] = {}
        for advice in everything:
            for p in advice.params:
                if p.source is Source.CALL and p.key not in states:
                    ns[_indexed("_make", len(states))] = p.default
                    states[p.key] = len(states)
        for i, advice in enumerate(everything):
            for j, p in enumerate(advice.params):
                if p.source in _WEAVE_TIME_VALUES:
                    ns[_indexed("_value", i, j)] = p.default
                elif p.source is Source.TARGET and bound:
                    ns[_indexed("_param", i, j)] = p.key
        return states

    def generate(self) -> tuple[str, str]:
        """The name of the dispatcher and the module source, written from the shape alone."""
        return "dispatch", _Writer(self.shape).module()


class _Writer:
    """Writes the source of one dispatcher from its chain's shape.

    It sees nothing of the plan but its
    [`ChainShape`][earnorm_aop.weaving.codegen.ChainShape]: whatever the source
    depends on is in the shape, so two chains of one shape share their code.
    """

    def __init__(self, shape: ChainShape) -> None:
        self.shape = shape
        self.is_async = shape.is_async
        # While True, the statements being emitted belong to the body that runs
        # in a context that has disabled some plugin (see switch_flags).
        self.checked = False

    # -- expressions -------------------------------------------------------

    def call(self, advice: AdviceShape, phase: str) -> str:
        """The call expression of ``advice`` (awaited when it is async)."""
        i = advice.index
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
        text = f"_advice{i}({', '.join(parts)})"
        if advice.is_async:
            return f"(await {text})"
        if self.is_async and phase != "around" and advice.may_await:
            # A sync advice may hand back an awaitable on an async target (a
            # built-in plugin writing through an async ORM): awaited like async advice.
            return f"(await _v if _isawaitable(_v := {text}) else _v)"
        return text

    def subject(self, phase: str) -> str:
        """The expression of ``instance`` in ``phase``, fixed by the target's subject.

        Mirrors [`resolve`][earnorm_aop.weaving.advice.Subject.resolve], which the
        interpreted dispatcher calls.
        """
        shape = self.shape
        if shape.subject == "produced" and phase in ("after", "chain"):
            return "result"
        if shape.subject == "argument":
            k = int(shape.subject_index)
            return f"(args[{k}] if len(args) > {k} else kwargs.get(_subject_name))"
        return "instance"

    def value(self, i: int, j: int, p: ParamShape, phase: str) -> str:
        """The expression of parameter ``j`` of advice ``i``: one case per ``Source``."""
        match p.source:
            case Source.INSTANCE:
                return self.subject(phase)
            case Source.ARGS | Source.KWARGS | Source.RESULT | Source.ERROR | Source.PROCEED:
                return p.source.value  # the dispatcher's local of that name
            case Source.VALUE:
                return "result"
            case Source.VARARGS:
                return "args"
            case Source.VARKW:
                return "kwargs"
            case Source.MODEL:
                return "model_of(instance)"
            case Source.METHOD:
                return "_method"
            case Source.TARGET:
                return f"_ba[_param{i}_{j}]" if p.arg is None else f"_arg{p.arg}"
            case Source.DEFAULT:
                return f"_value{i}_{j}"
            case Source.PROVIDED:  # an injectable: its getter, per call
                return f"_value{i}_{j}()"
            case Source.CALL:  # made once at the start of the call
                return f"_state{p.arg}"
            case Source.JOINPOINT:
                result = "result" if phase in ("after", "chain") else "None"
                error = "error" if phase == "error" else "None"
                proceed = "proceed" if phase == "around" else "None"
                return (
                    f"_JP({self.subject(phase)}, model_of(instance), _method, args, kwargs, "
                    f"_plugin{i}, _kind{i}, {result}, {error}, {proceed}, _bind, instance)"
                )
            case _ as never:
                assert_never(never)

    # -- statements --------------------------------------------------------

    def bind(self, src: _Source, d: int) -> None:
        """Emit what gives the advice the target parameters they ask for."""
        direct = self.shape.binding
        if direct is None:
            src.add(d, "_ba = _bind(instance, args, kwargs)")
            return
        names = [f"_arg{m}" for m in range(len(direct.positions))]
        if not direct.keyword_required:
            # A call by position only, with an accepted number of arguments.
            lo, hi = direct.required, direct.positional
            arity = f"len(args) == {hi}" if lo == hi else f"{lo} <= len(args) <= {hi}"
            src.add(d, f"if not kwargs and {arity}:")
            for m, position in enumerate(direct.positions):
                if position is None:
                    value = f"_dv{m}"
                elif position < lo:
                    value = f"args[{position}]"
                else:
                    value = f"(args[{position}] if len(args) > {position} else _dv{m})"
                src.add(d + 1, f"{names[m]} = {value}")
            src.add(d, "else:")
            d += 1
        # Python binds the call to the target's own parameters; if it cannot,
        # the Signature binder raises the error the interpreted dispatcher does.
        src.add(d, "try:")
        src.add(d + 1, f"{', '.join(names)}, = _nb(*args, **kwargs)")
        src.add(d, "except TypeError:")
        src.add(d + 1, "_bind(instance, args, kwargs)")
        src.add(d + 1, "raise")

    def guarded(
        self,
        src: _Source,
        depth: int,
        advice: AdviceShape,
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
        i = advice.index
        if self.checked:
            src.add(depth, f"if _runs{i}:")
            depth += 1
        stmt = f"{assign} = {self.call(advice, phase)}" if assign else self.call(advice, phase)
        if not advice.goes_on and inline:
            for line in inline:
                src.add(depth, line.replace("{call}", self.call(advice, phase)))
            return
        if not advice.goes_on:
            src.add(depth, stmt)
            for line in on_ok:
                src.add(depth, line)
            return
        src.add(depth, "try:")
        src.add(depth + 1, stmt)
        src.add(depth, "except Exception as _e:")
        src.add(depth + 1, f"_onfail{i}(_e, instance)")
        for line in on_fail:
            src.add(depth + 1, line)
        src.add(depth, "else:")
        if advice.disables:
            src.add(depth + 1, f"_switch{i}.consecutive_failures = 0")
        for line in on_ok or ["pass"]:
            src.add(depth + 1, line)

    def module(self) -> str:
        """The module source: a factory defining the around levels and ``dispatch``.

        Every value of the chain (advice functions, switches, names) is a local
        of ``_factory`` that the nested functions close over: ``compile_chain``
        builds them from the shared code with cells holding this chain's values,
        while their globals are one dict shared by all chains (see GLOBALS).
        So one code object serves every chain of a shape without the chains'
        calls disturbing each other's global-lookup caches.  ``_g`` is the cell
        of the chain's [`Gate`][earnorm_aop.weaving.scope.Gate], non-zero only
        while a ``trace()`` or a ``disabled()`` block for one of its plugins is
        open somewhere: until then a call pays one truth test and takes the
        plain body.  Only the plain body's names are closure variables of
        ``dispatch`` (each one costs every call a little): what the other body
        needs is reached through ``_x`` and the shared globals.
        """
        shape = self.shape
        aw = "await " if self.is_async else ""
        adef = "async def" if self.is_async else "def"
        body = _Source()
        for k, advice in enumerate(shape.arounds):
            self.around_level(body, k, advice)
        body.add(0, f"{adef} dispatch(wrapped, instance, args, kwargs):")
        if "_memo" in shape.values:
            body.add(1, "nonlocal _memo")
        body.add(1, "if _g:")
        # Only calls in a trace's own context, or any call while metrics are on,
        # take the interpreted chain, which reports each advice run; other
        # callers go on.
        body.add(2, "if _watch and (_metering or _tget() is not None):")
        body.add(3, f"return {aw}_x(wrapped, instance, args, kwargs)")
        # Read the context-local toggles once: only a call in a context that
        # disabled a plugin takes the checked body, others the plain one.
        body.add(2, "_off = _dget()")
        body.add(2, "if _off:")
        self.checked = True
        self.switch_flags(body, 3)
        self.guarded_body(body, 3)
        self.checked = False
        self.guarded_body(body, 1)
        src = _Source()
        for line in _LEGEND:
            src.add(0, line)
        src.add(0, "def _factory():")
        src.add(1, " = ".join([*self.closure_names(), "None"]))
        for line in body.lines:
            src.add(1, line)
        return "\n".join(src.lines) + "\n"

    def switch_flags(self, src: _Source, d: int) -> None:
        """Emit ``_runs{i}``: whether advice ``i`` runs under the context's disabled set ``_off``.

        A context's set is one frozenset object for as long as its block is
        open, so the flags are computed once per set and kept with it in the
        chain's ``_memo`` cell, replaced as one tuple (so threads reading it
        concurrently see one set's flags, never a mix): a call inside the
        block then tests its set's identity instead of its members.
        """
        checked = self.checked_advice()
        if not checked:
            return
        flags = [f"_runs{a.index}" for a in checked]
        src.add(d, f"_o, {', '.join(flags)} = _memo")
        src.add(d, "if _o is not _off:")
        for a, flag in zip(checked, flags, strict=True):
            src.add(d + 1, f"{flag} = _switch{a.index} not in _off")
        src.add(d + 1, f"_memo = (_off, {', '.join(flags)})")

    def checked_advice(self) -> tuple[AdviceShape, ...]:
        """The advice the dispatcher's own body runs (around levels check for themselves)."""
        shape = self.shape
        return shape.befores + shape.chains + shape.afters + shape.errors

    def closure_names(self) -> list[str]:
        """The factory's locals standing for the chain's values (a function of the shape)."""
        return ["_g", "_bind", *self.shape.values]

    def guarded_body(self, src: _Source, d: int) -> None:
        """The body of one call, inside the super() re-entry guard when the shape says so."""
        shape = self.shape
        aw = "await " if self.is_async else ""
        if shape.guard:
            # Skip the advice only for a call that entered at another level (a
            # super() call); a recursive call at this level is an outer call.
            subject = "id(instance)" if self.shape.keyed_on_instance else "_gsub"
            src.add(d, f"_key = ({subject}, _method)")
            src.add(d, f"_lvl = ({subject}, _method, _owner)")
            src.add(d, "_act = _avar.get()")
            src.add(d, "if _key in _act and _lvl not in _act:")
            src.add(d + 1, f"return {aw}wrapped(*args, **kwargs)")
            src.add(d, "_tok = _avar.set(_act | {_key, _lvl})")
            if self.shape.iterates:
                # A generator's body runs after we return: hold the marks while it does.
                src.add(d, "wrapped = _keep(wrapped, frozenset((_key, _lvl)))")
            src.add(d, "try:")
            self.body(src, d + 1)
            src.add(d, "finally:")
            src.add(d + 1, "_avar.reset(_tok)")
        else:
            self.body(src, d)

    def body(self, src: _Source, d: int) -> None:
        """Emit the phases of one call at depth ``d``; every path ends in ``return``."""
        shape = self.shape
        aw = "await " if self.is_async else ""
        outer = self.checked_advice()
        if any(a.needs_binding for a in outer):
            self.bind(src, d)
        for n in range(shape.states):
            src.add(d, f"_state{n} = _make{n}(instance, args, kwargs)")
        for advice in shape.befores:
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
            f"{aw}_lvl0(wrapped, instance, args, kwargs{self.passed()})"
            if shape.arounds
            else f"{aw}(wrapped(*args, **kwargs) if kwargs else wrapped(*args))"
        )
        if not (shape.errors or shape.chains or shape.afters):
            # Nothing runs after the method: return its result directly.
            src.add(d, f"return {core}")
            return
        if shape.errors:
            src.add(d, "try:")
            src.add(d + 1, f"result = {core}")
            src.add(d, "except Exception as error:")
            for advice in shape.errors:
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
        for advice in shape.chains:
            self.guarded(
                src, d, advice, "_v", "chain", on_ok=["result = _v"], inline=["result = {call}"]
            )
        for advice in shape.afters:
            self.guarded(src, d, advice, "", "after")
        src.add(d, "return result")

    def passed(self) -> str:
        """The per-call values an around level takes and hands on (``, _state0, ...``)."""
        return "".join(f", _state{n}" for n in range(self.shape.states))

    def proceed_header(self, src: _Source, i: int) -> None:
        """Open ``proceed`` for around advice ``i``: one-shot, a second call raises.

        On an async target it keeps the coroutine it returns in ``_c``, so one
        the advice never awaited is closed if the advice fails (``_discard``).
        """
        if self.is_async:
            src.add(1, "_c = None")
        src.add(1, "def proceed(*a, **kw):")
        src.add(2, "nonlocal called, _c" if self.is_async else "nonlocal called")
        src.add(2, "if called:")
        src.add(3, f"raise _ProceedError(_x.twice({i}))")
        src.add(2, "called = True")

    def proceed_return(self, src: _Source, expr: str, depth: int = 2) -> None:
        """``return expr`` from ``proceed``, keeping an async target's coroutine in ``_c``."""
        if self.is_async:
            src.add(depth, f"_c = {expr}")
            src.add(depth, "return _c")
        else:
            src.add(depth, f"return {expr}")

    def around_level(self, src: _Source, k: int, advice: AdviceShape) -> None:
        """Emit ``_lvl{k}``: around advice ``k`` with a one-shot ``proceed``."""
        i = advice.index
        last = k == len(self.shape.arounds) - 1
        aw = "await " if self.is_async else ""
        adef = "async def" if self.is_async else "def"

        def inner(a: str, kw: str) -> str:
            if last:  # without ``**`` when there are no keywords, as in ``dispatch``
                return f"(wrapped(*{a}, **{kw}) if {kw} else wrapped(*{a}))"
            return f"_lvl{k + 1}(wrapped, instance, {a}, {kw}{self.passed()})"

        log_policy = advice.goes_on
        src.add(0, f"{adef} _lvl{k}(wrapped, instance, args, kwargs{self.passed()}):")
        # Skipped while a disabled() block for its plugin is in force here.
        src.add(1, f"if _switch{i}.scopes and _switch{i} in _dget():")
        src.add(2, f"return {aw}{inner('args', 'kwargs')}")
        if advice.needs_binding:
            self.bind(src, 1)
        src.add(1, "called = False")
        if not log_policy:
            self.proceed_header(src, i)
            src.add(2, "if a or kw:")
            self.proceed_return(src, inner("a", "kw"), 3)
            self.proceed_return(src, inner("args", "kwargs"))
            call = self.call(advice, "around")
            if self.is_async:
                src.add(1, "try:")
                src.add(2, f"_r = {call}")
                src.add(1, "except BaseException:")
                src.add(2, "_discard(_c)")  # proceed() called, its coroutine never awaited
                src.add(2, "raise")
                if not advice.is_async:
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
        self.proceed_header(src, i)
        self.proceed_return(src, "_go(a, kw) if (a or kw) else _go(args, kwargs)")
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
        if self.is_async:
            src.add(1, "except BaseException as _e:")
            src.add(2, "_discard(_c)")  # proceed() called, its coroutine never awaited
            src.add(2, "if (inner_failed or isinstance(_e, _ProceedError)")
            src.add(3, "or not isinstance(_e, Exception)):")
        else:
            src.add(1, "except Exception as _e:")
            src.add(2, "if inner_failed or isinstance(_e, _ProceedError):")
        src.add(3, "raise")
        src.add(2, f"_onfail{i}(_e, instance)")
        src.add(2, "if started:")
        src.add(3, "return res")
        src.add(2, f"return {aw}{inner('args', 'kwargs')}")
        if advice.disables:
            src.add(1, f"_switch{i}.consecutive_failures = 0")
        src.add(1, "return _r")


class Extras:
    """What a chain's dispatcher reaches only off its plain path, under one name.

    The interpreted chain (built on the first call inside a ``trace()`` block:
    the object is callable as that dispatcher), and what must live as long as
    the dispatcher: its gate and its shared compiled code.
    """

    __slots__ = ("code", "gate", "plan", "run")

    def __init__(self, plan: ChainPlan) -> None:
        self.plan = plan
        self.gate = scope.gate(plan.switches)
        self.code: Any = None
        self.run: Dispatcher | None = None

    def twice(self, i: int) -> str:
        """The message of around advice ``i`` calling ``proceed()`` a second time.

        Made when it is raised: a string per around advice of every woven
        class would be kept for a message hardly any of them ever gives.
        """
        advice = self.plan.all[i]
        target = self.plan.target
        return (
            f"proceed() called twice by around advice {advice.label} on "
            f"{target.owner.__qualname__}.{target.name}"
        )

    def __call__(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        run = self.run
        if run is None:
            run = self.run = interpret_chain(self.plan)
        return run(wrapped, instance, args, kwargs)


# What every dispatcher reads and no chain owns: the one globals dict of
# every generated function.
GLOBALS: dict[str, Any] = scope.GLOBALS
GLOBALS.update(
    {
        "__builtins__": builtins,
        "_Recover": Recover,
        "_ProceedError": ProceedError,
        "_JP": JoinPoint,
        "_isawaitable": inspect.isawaitable,
        "_dget": scope.DISABLED.get,
        "_tget": scope.TRACE.get,
        "_mode": scope.mode,
        "_avar": scope.ACTIVE_CALLS,
        "_keep": keep_guard,
        "_discard": discard_unstarted,
    }
)
