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
from contextvars import ContextVar
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

    __slots__ = ("args", "binder", "bound", "instance", "kwargs", "model", "number", "target")

    def __init__(self, target: Target, instance: Any, args: Any, kwargs: Any) -> None:
        self.number = CALL_NUMBER.get()  # 0 outside a trace
        self.target = target
        self.instance = instance
        self.args = args
        self.kwargs = kwargs
        self.model = model_of(target)(instance)
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


class _Interpreter:
    """Runs a plan with loops; reports to the trace in force, if any."""

    def __init__(self, plan: ChainPlan) -> None:
        self.plan = plan
        self.handlers = {id(a): FailureHandler(a, plan.target) for a in plan.all}
        self.subject = guard_subject(plan.target)  # None: key the guard on the instance
        self.iterates = holds_iteration(plan.target)

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
        if scope.TRACE.get() is None:
            return self.guarded(wrapped, instance, args, kwargs)
        token = CALL_NUMBER.set(next(_numbers))
        try:
            return self.guarded(wrapped, instance, args, kwargs)
        finally:
            CALL_NUMBER.reset(token)

    def guarded(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        plan = self.plan
        if plan.guard:
            subject = id(instance) if self.subject is None else self.subject
            key = (subject, plan.target.name)
            level = (*key, plan.target.owner)
            active = scope.ACTIVE_CALLS.get()
            if key in active and level not in active:
                return wrapped(*args, **kwargs)
            token = scope.ACTIVE_CALLS.set(active | {key, level})
            if self.iterates:  # a generator's body runs after we return
                wrapped = keep_guard(wrapped, frozenset((key, level)))
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
        if scope.TRACE.get() is None:
            return await self.aguarded(wrapped, instance, args, kwargs)
        token = CALL_NUMBER.set(next(_numbers))
        try:
            return await self.aguarded(wrapped, instance, args, kwargs)
        finally:
            CALL_NUMBER.reset(token)

    async def aguarded(self, wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        plan = self.plan
        if plan.guard:
            subject = id(instance) if self.subject is None else self.subject
            key = (subject, plan.target.name)
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
        # A sync advice may hand back an awaitable on an async target (a built-in
        # plugin whose write goes through an async ORM): it is awaited like async
        # advice.  Only an advice whose annotation leaves room for one is tested.
        if advice.is_async or (advice.may_await and inspect.isawaitable(value)):
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
        state: dict[str, Any] = {
            "called": False,
            "started": False,
            "inner_failed": False,
            "res": None,
            "coro": None,
        }

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
            coro = proceed_inner(a, kw) if (a or kw) else proceed_inner(args, kwargs)
            state["coro"] = coro
            return coro

        call = _Call(plan.target, instance, args, kwargs)
        start = time.perf_counter()
        try:
            result = await self.ainvoke(advice, call, proceed=proceed)
        except BaseException as exc:
            discard_unstarted(state["coro"])  # proceed() called, never awaited
            if not isinstance(exc, Exception):
                raise
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
