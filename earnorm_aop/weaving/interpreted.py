"""The interpreted dispatcher: the same semantics as the generated one, with loops.

[`interpret_chain`][earnorm_aop.weaving.interpreted.interpret_chain] runs a
[`ChainPlan`][earnorm_aop.weaving.chain.ChainPlan] by walking its phases; tests compare it with
[`earnorm_aop.weaving.generated`][earnorm_aop.weaving.generated] on random chains, and a generated
dispatcher hands a call over to it when the call runs inside a ``trace()`` block or while metrics
are on, since it reports every advice run to the trace in force and to the meter.
"""

from __future__ import annotations

import inspect
import itertools
import time
from collections.abc import Callable, Generator
from contextvars import ContextVar
from functools import partial
from typing import Any, assert_never

from ..errors import ProceedError
from . import metering, scope
from .advice import PlannedAdvice, Source, Target
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
from .joinpoint import JoinPoint, Recover
from .policy import policy_of

__all__ = ["interpret_chain"]

_KWONLY = inspect.Parameter.KEYWORD_ONLY

# While a trace is open, each woven call gets a number (``TraceRecord.call``),
# so that a reader can group the advice runs of one call, nested calls apart.
CALL_NUMBER: ContextVar[int] = ContextVar("earnorm_aop_call_number", default=0)
_numbers = itertools.count(1)

# --------------------------------------------------------------------------
# The interpreted dispatcher
# --------------------------------------------------------------------------


class _Call:
    """The per-call state the interpreted dispatcher resolves parameters from."""

    __slots__ = (
        "args",
        "binder",
        "bound",
        "instance",
        "kwargs",
        "model",
        "number",
        "states",
        "target",
    )

    def __init__(
        self,
        target: Target,
        instance: Any,
        args: Any,
        kwargs: Any,
        states: dict[str, Any] | None = None,
    ) -> None:
        self.number = CALL_NUMBER.get()  # 0 outside a trace
        self.target = target
        self.instance = instance
        self.args = args
        self.kwargs = kwargs
        self.model = model_of(target)(instance)
        self.bound: dict[str, Any] | None = None
        self.binder = target.binder()
        # The values made once per call (Source.CALL), by name, made on first use and
        # shared by the around levels of the call (each its own ``_Call``).
        self.states: dict[str, Any] = {} if states is None else states

    def state(self, name: str, make: Callable[[Any, Any, Any], Any]) -> Any:
        """The per-call value ``name``: made by ``make`` the first time this call asks."""
        states = self.states
        if name not in states:
            states[name] = make(self.instance, self.args, self.kwargs)
        return states[name]


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
        value: Any
        match p.source:  # one case per Source, as the generated dispatcher's ``value``
            case Source.VARARGS:
                positional.extend(call.args)
                continue
            case Source.VARKW:
                keywords.update(call.kwargs)
                continue
            case Source.TARGET:
                if call.bound is None:
                    call.bound = call.binder(call.instance, call.args, call.kwargs)
                value = call.bound[p.key]
            case Source.PROVIDED:
                value = p.default()
            case Source.CALL:
                value = call.state(p.key, p.default)
            case Source.DEFAULT:
                value = p.default
            case Source.INSTANCE:
                value = call.target.subject.resolve(
                    call.instance, call.args, call.kwargs, result, advice.kind
                )
            case Source.JOINPOINT:
                value = JoinPoint(
                    call.target.subject.resolve(
                        call.instance, call.args, call.kwargs, result, advice.kind
                    ),
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
                    call.instance,
                )
            case Source.MODEL:
                value = call.model
            case Source.ARGS:
                value = call.args
            case Source.KWARGS:
                value = call.kwargs
            case Source.METHOD:
                value = call.target.name
            case Source.RESULT | Source.VALUE:
                value = result
            case Source.ERROR:
                value = error
            case Source.PROCEED:
                value = proceed
            case _ as never:
                assert_never(never)
        if p.kind is _KWONLY:
            keywords[p.name] = value
        else:
            positional.append(value)
    return advice.func(*positional, **keywords)


# What the chain yields to its driver: a call to make (an advice, or the wrapped
# method); the driver sends back what it gave (awaited, on an async target) or
# throws in what it raised.
_Steps = Generator[Callable[[], Any], Any, Any]

# What ``advise`` gives for an advice that was skipped or failed with the call
# going on: no value, so no veto, no recovery, no new result.
_WENT_ON: Any = object()


def _ok(value: Any) -> str:
    return "ok"


def _veto_or_ok(value: Any) -> str:
    return "veto" if value is False else "ok"


def _recovered_or_ok(value: Any) -> str:
    return "recovered" if isinstance(value, Recover) else "ok"


def _drive(steps: _Steps) -> Any:
    """Run ``steps`` on a sync target: make each call it yields, hand back its result or error."""
    try:
        step = next(steps)
        while True:
            try:
                value = step()
            except BaseException as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(value)
    except StopIteration as stop:
        return stop.value
    except RuntimeError as exc:
        # A StopIteration the chain let through comes out of a generator as a
        # RuntimeError (PEP 479); the caller gets it as the method raised it.
        if isinstance(exc.__cause__, StopIteration):
            raise exc.__cause__ from None
        raise


async def _adrive(steps: _Steps) -> Any:
    """Run ``steps`` on an ``async def`` target: as ``_drive``, awaiting what a call gives.

    Each call gives a coroutine: the wrapped method's, or ``_ainvoke``'s for an advice.
    """
    try:
        step = next(steps)
        while True:
            try:
                value = await step()
            except BaseException as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(value)
    except StopIteration as stop:
        return stop.value


async def _ainvoke(advice: PlannedAdvice, call: _Call, **kw: Any) -> Any:
    """``_invoke`` on an async target: its frame marks the advice at work while it is awaited.

    A sync advice may hand back an awaitable on an async target (a built-in
    plugin whose write goes through an async ORM): it is awaited like async
    advice.  Only an advice whose annotation leaves room for one is tested.
    """
    value = _invoke(advice, call, **kw)
    if advice.is_async or (advice.may_await and inspect.isawaitable(value)):
        value = await value
    return value


async def _proceeding(rest: _Steps) -> Any:
    """An async target's ``proceed()``: the rest of the chain, a coroutine the advice awaits."""
    return await _adrive(rest)


class _Level:
    """What one around level's ``proceed()`` did, for the around's failure handling."""

    __slots__ = ("called", "coro", "inner_failed", "res", "started")

    def __init__(self) -> None:
        self.called = False  # proceed() was called (a second call is an error)
        self.started = False  # the rest of the chain began to run
        self.inner_failed = False  # ... and raised: the around's error is not its own
        self.res: Any = None
        self.coro: Any = None  # an async target's proceed() coroutine

    def run(self, rest: _Steps) -> _Steps:
        self.started = True
        try:
            res = yield from rest
        except BaseException:
            self.inner_failed = True
            raise
        self.res = res
        return res


class _Interpreter:
    """Runs a plan with loops; reports to the trace in force, if any.

    The chain is written once, as generators that yield each call they make
    (an advice, or the wrapped method) to a driver and get its result or error
    back, as pluggy's ``_multicall`` drives its wrappers:
    ``_drive`` makes the calls of a sync target, ``_adrive`` awaits what those
    of an ``async def`` target give.  Only ``proceed()`` differs: on an async
    target it hands back a coroutine the advice awaits.
    """

    def __init__(self, plan: ChainPlan) -> None:
        self.plan = plan
        self.handlers = {id(a): FailureHandler(a, plan.target) for a in plan.all}
        self.subject = guard_subject(plan.target)  # None: key the guard on the instance
        self.iterates = holds_iteration(plan.target)
        self.is_async = plan.target.is_async
        self.invoke = _ainvoke if self.is_async else _invoke

    def skip(self, advice: PlannedAdvice) -> bool:
        switch = advice.aspect.switch
        return bool(switch.scopes) and switch in scope.DISABLED.get()

    def record(self, advice: PlannedAdvice, call: _Call, outcome: str, start: float) -> None:
        """Report one advice run to the trace in force and, while metrics are on, the meter."""
        duration = time.perf_counter() - start
        if scope.mode.metering:
            metering.count(advice.aspect.switch, outcome, duration)
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
                    duration,
                    CALL_NUMBER.get(),
                    start,
                )
            )

    def failed(self, advice: PlannedAdvice, call: _Call, exc: Exception, start: float) -> bool:
        """Handle an advice failure; True when the policy says the call goes on."""
        if not policy_of(advice.aspect).goes_on:
            self.record(advice, call, "raised", start)
            return False
        self.handlers[id(advice)](exc, call.instance)
        self.record(advice, call, "failed", start)
        return True

    def succeeded(self, advice: PlannedAdvice) -> None:
        policy_of(advice.aspect).succeeded(advice.aspect)

    def run(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        steps = self.numbered(wrapped, instance, args, kwargs)
        return _adrive(steps) if self.is_async else _drive(steps)

    def numbered(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> _Steps:
        if scope.TRACE.get() is None:
            return (yield from self.guarded(wrapped, instance, args, kwargs))
        token = CALL_NUMBER.set(next(_numbers))
        try:
            return (yield from self.guarded(wrapped, instance, args, kwargs))
        finally:
            CALL_NUMBER.reset(token)

    def guarded(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> _Steps:
        plan = self.plan
        if plan.guard:
            subject = id(instance) if self.subject is None else self.subject
            key = (subject, plan.target.name)
            level = (*key, plan.target.owner)
            active = scope.ACTIVE_CALLS.get()
            if key in active and level not in active:
                return (yield partial(wrapped, *args, **kwargs))
            token = scope.ACTIVE_CALLS.set(active | {key, level})
            if self.iterates:  # a generator's body runs after we return
                wrapped = keep_guard(wrapped, frozenset((key, level)))
            try:
                return (yield from self.body(wrapped, instance, args, kwargs))
            finally:
                scope.ACTIVE_CALLS.reset(token)
        return (yield from self.body(wrapped, instance, args, kwargs))

    def advise(
        self, advice: PlannedAdvice, call: _Call, outcome: Callable[[Any], str], **kw: Any
    ) -> _Steps:
        """Run one advice that is not an around: its value, or ``_WENT_ON`` when it was
        skipped or failed and its policy lets the call go on.

        ``outcome`` names a success in the trace from the advice's value (a
        before's veto, an error advice's recovery).
        """
        if self.skip(advice):
            return _WENT_ON
        start = time.perf_counter()
        try:
            value = yield partial(self.invoke, advice, call, **kw)
        except Exception as exc:
            if not self.failed(advice, call, exc, start):
                raise
            return _WENT_ON
        self.succeeded(advice)
        self.record(advice, call, outcome(value), start)
        return value

    def body(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> _Steps:
        plan = self.plan
        call = _Call(plan.target, instance, args, kwargs)
        # The per-call values first, from the call's own arguments (as the
        # generated dispatcher makes them), before any advice can rewrite them.
        for advice in plan.all:
            for p in advice.params:
                if p.source is Source.CALL:
                    call.state(p.key, p.default)
        for advice in plan.befores:
            if (yield from self.advise(advice, call, _veto_or_ok)) is False:
                return None
        try:
            result = yield from self.around(0, wrapped, instance, args, kwargs, call.states)
        except Exception as exc:
            for advice in plan.errors:
                outcome = yield from self.advise(advice, call, _recovered_or_ok, error=exc)
                if isinstance(outcome, Recover):
                    return outcome.value
            raise
        for advice in plan.chains:
            value = yield from self.advise(advice, call, _ok, result=result)
            if value is not _WENT_ON:
                result = value
        for advice in plan.afters:
            yield from self.advise(advice, call, _ok, result=result)
        return result

    def around(
        self, k: int, wrapped: Any, instance: Any, args: Any, kwargs: Any, states: dict[str, Any]
    ) -> _Steps:
        plan = self.plan
        if k == len(plan.arounds):
            return (yield partial(wrapped, *args, **kwargs))
        advice = plan.arounds[k]
        if self.skip(advice):
            return (yield from self.around(k + 1, wrapped, instance, args, kwargs, states))
        level = _Level()

        def proceed(*a: Any, **kw: Any) -> Any:
            if level.called:
                raise ProceedError(
                    f"proceed() called twice by around advice {advice.label} on "
                    f"{plan.target.owner.__qualname__}.{plan.target.name}"
                )
            level.called = True
            a, kw = (a, kw) if a or kw else (args, kwargs)
            rest = level.run(self.around(k + 1, wrapped, instance, a, kw, states))
            if not self.is_async:
                return _drive(rest)
            level.coro = _proceeding(rest)
            return level.coro

        # The per-call values were made in ``body``; this level's arguments go to the advice.
        call = _Call(plan.target, instance, args, kwargs, states)
        start = time.perf_counter()
        try:
            result = yield partial(self.invoke, advice, call, proceed=proceed)
        except BaseException as exc:
            discard_unstarted(level.coro)  # proceed() called, never awaited
            if not isinstance(exc, Exception):
                raise
            if level.inner_failed or isinstance(exc, ProceedError):
                self.record(advice, call, "raised", start)
                raise
            if not self.failed(advice, call, exc, start):
                raise
            # The advice may fail before what proceed() started ran (on an async
            # target, before its coroutine is awaited): then the rest of the chain runs now.
            if level.started:
                return level.res
            return (yield from self.around(k + 1, wrapped, instance, args, kwargs, states))
        self.succeeded(advice)
        self.record(advice, call, "ok", start)
        return result


def interpret_chain(plan: ChainPlan) -> Dispatcher:
    """The plain, loop-based dispatcher for ``plan`` (same semantics as the generated one)."""
    return _Interpreter(plan).run
