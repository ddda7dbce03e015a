"""The dispatch chain of one woven method, and the two ways to run it.

A [`ChainPlan`][earnorm_aop.weaving.chain.ChainPlan] is decided at weave time: which advice runs in
which phase, in which order.  Two modules turn a plan into the wrapt wrapper function:
[`earnorm_aop.weaving.generated`][earnorm_aop.weaving.generated] generates Python source specialised
to that exact chain (the fast path), and
[`earnorm_aop.weaving.interpreted`][earnorm_aop.weaving.interpreted] runs the same plan with plain
loops (tests check the two agree; tracing uses it because it can report every advice run).  What
both share lives here: the plan and what a failing advice does under the ``log``/``disable``
policies.

Semantics (DESIGN.md section 2): every ``before`` in plugin order (``False``
vetoes: the call returns ``None`` and nothing else runs) -> the ``around``
onion, first outermost -> the method -> ``chain`` advice reversed -> ``after``
advice reversed.  ``error`` advice runs reversed for an exception from the
method or an ``around``; the first ``Recover(v)`` makes ``v`` the result.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

from . import extensions, scope
from .advice import PlannedAdvice, Target
from .aspect import Switch
from .commit import COMMIT_KINDS, deferring
from .extensions import Scheduler
from .pointcut import Kind
from .policy import record_failure

__all__ = [
    "ChainPlan",
    "Dispatcher",
    "FailureHandler",
    "guard_subject",
    "holds_iteration",
    "keep_guard",
    "model_of",
]

Dispatcher = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], Any]


@dataclass(frozen=True, slots=True)
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
        model: type | None = None,
    ) -> ChainPlan:
        """Sort advice given in plugin order into phases (reversing the late ones).

        Commit-aware advice joins the ``after`` phase as an advice that defers
        the real call to the transaction's end ([`commit`][earnorm_aop.weaving.commit]), through
        the scheduler of ``model`` (the class planned; by default the target's), asked here once.
        """
        schedulers: list[Scheduler] = []

        def deferred(a: PlannedAdvice) -> PlannedAdvice:
            if not schedulers:
                on = model or target.model or target.owner
                schedulers.append(extensions.current.record.scheduler(on))
            return deferring(a, FailureHandler(a, target), schedulers[0])

        # One pass, by identity (an enum's hash is a Python call): plugin order kept.
        befores: list[PlannedAdvice] = []
        arounds: list[PlannedAdvice] = []
        chains: list[PlannedAdvice] = []
        afters: list[PlannedAdvice] = []
        errors: list[PlannedAdvice] = []
        for a in advice:
            kind = a.kind
            if kind is Kind.BEFORE:
                befores.append(a)
            elif kind is Kind.AROUND:
                arounds.append(a)
            elif kind is Kind.AFTER:
                afters.append(a)
            elif kind is Kind.CHAIN:
                chains.append(a)
            elif kind is Kind.ERROR:
                errors.append(a)
            else:  # commit-aware: an after advice deferring the real one
                assert kind in COMMIT_KINDS
                afters.append(deferred(a))
        return cls(
            target,
            befores=tuple(befores),
            arounds=tuple(arounds),
            chains=tuple(chains[::-1]),
            afters=tuple(afters[::-1]),
            errors=tuple(errors[::-1]),
            guard=guard,
        )

    @property
    def all(self) -> tuple[PlannedAdvice, ...]:
        return self.befores + self.arounds + self.chains + self.afters + self.errors

    @property
    def switches(self) -> tuple[Switch, ...]:
        """The distinct plugin switches of the chain, in first-use order."""
        return tuple(dict.fromkeys(a.aspect.switch for a in self.all))

    def __bool__(self) -> bool:
        return bool(self.all)


def model_of(target: Target) -> Callable[[Any], Any]:
    model = target.model
    if model is not None:
        return lambda instance: model
    if target.binding == "method":
        return type
    if target.binding == "classmethod":
        return lambda instance: instance
    owner = target.owner
    return lambda instance: owner


def guard_subject(target: Target) -> type | None:
    """What the super() guard keys a call on instead of its instance, or None to use the instance.

    A staticmethod has no instance (wrapt passes ``None``), so keying on it
    would make a woven staticmethod called from inside another one of the same
    name, in an unrelated class, skip its advice.  Its key is the topmost class
    of the hierarchy that defines the method: levels reached through an
    explicit ``Parent.run()`` share it, unrelated classes do not.
    """
    if target.binding != "staticmethod":
        return None
    root = target.owner
    for klass in target.owner.__mro__:
        if target.name in vars(klass):
            root = klass
    return root


def holds_iteration(target: Target) -> bool:
    """Whether ``target`` is a generator (or async generator) function.

    Its body runs while the caller iterates, after the dispatcher returned, so the super() guard
    must be held around each step of the iteration (see
    [`keep_guard`][earnorm_aop.weaving.chain.keep_guard]), or an override's ``yield from
    super().items()`` would run the parent's advice a second time.
    """
    func = getattr(target.raw, "__func__", target.raw)
    return inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)


def keep_guard(wrapped: Callable[..., Any], marks: frozenset[Any]) -> Callable[..., Any]:
    """``wrapped``, whose generator result holds ``marks`` in force while it runs."""

    def call(*args: Any, **kwargs: Any) -> Any:
        result = wrapped(*args, **kwargs)
        if inspect.isgenerator(result):
            return _held(result, marks)
        if inspect.isasyncgen(result):
            return _aheld(result, marks)
        return result

    return call


def _held(gen: Generator[Any, Any, Any], marks: frozenset[Any]) -> Generator[Any, Any, Any]:
    """Drive ``gen`` step by step (send, throw, close), each step with ``marks`` active."""
    active = scope.ACTIVE_CALLS
    value: Any = None
    error: BaseException | None = None
    while True:
        token = active.set(active.get() | marks)
        try:
            out = gen.send(value) if error is None else gen.throw(error)
        except StopIteration as stop:
            return stop.value
        finally:
            active.reset(token)
        value = error = None
        try:
            value = yield out
        except GeneratorExit:
            token = active.set(active.get() | marks)
            try:
                gen.close()
            finally:
                active.reset(token)
            raise
        except BaseException as exc:
            error = exc


async def _aheld(agen: AsyncGenerator[Any, Any], marks: frozenset[Any]) -> AsyncGenerator[Any, Any]:
    """[`_held`][earnorm_aop.weaving.chain._held] for an async generator (asend, athrow, aclose)."""
    active = scope.ACTIVE_CALLS
    value: Any = None
    error: BaseException | None = None
    while True:
        token = active.set(active.get() | marks)
        try:
            step = agen.asend(value) if error is None else agen.athrow(error)
            out = await step
        except StopAsyncIteration:
            return
        finally:
            active.reset(token)
        value = error = None
        try:
            value = yield out
        except GeneratorExit:
            token = active.set(active.get() | marks)
            try:
                await agen.aclose()
            finally:
                active.reset(token)
            raise
        except BaseException as exc:
            error = exc


class FailureHandler:
    """What a failing advice does under the ``log`` and ``disable`` policies."""

    def __init__(self, advice: PlannedAdvice, target: Target) -> None:
        self.advice = advice
        self.method = target.name
        self.model_of = model_of(target)

    def __call__(self, error: BaseException, instance: Any, streak: int | None = None) -> bool:
        """Record the failure (``streak``: a deferred advice's own, see ``record_failure``)."""
        # Name the model the call ran on (a subclass inheriting the method),
        # not the class that happens to define it.
        model = self.model_of(instance)
        where = f"{getattr(model, '__qualname__', model)}.{self.method}"
        advice = self.advice
        return record_failure(
            advice.aspect,
            error,
            f"{advice.kind.value} advice {advice.spec.name!r} on {where}",
            streak,
        )


def discard_unstarted(coro: Any) -> None:
    """Close ``coro``, the coroutine an async target's ``proceed()`` made, if it never started.

    A sync around advice on an async target may call ``proceed()`` and raise
    (or call it twice) before the dispatcher awaits what the first call gave:
    that coroutine would be collected unawaited ("coroutine ... was never
    awaited").  Closing a coroutine that has not started runs none of it; one
    the advice handed on (a task) has started and is left alone.
    """
    if coro is not None and inspect.getcoroutinestate(coro) == inspect.CORO_CREATED:
        coro.close()
