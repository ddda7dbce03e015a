"""Conditions on hooks, and the ``changes`` advice parameter.

``@hook("after:save", when="status", was="draft", is_now="published")`` runs
the advice only for the records whose write matches; ``@when(...)`` says the
same of a convention-named method (``after_save``).  An advice that takes a
``changes`` parameter receives field -> ``(old, new)`` of what the write
changes ([`earnorm_aop.adapters.tracking`][earnorm_aop.adapters.tracking]).

Both are resolved once per (advice, woven method) at weave time, by the
resolver this module installs in the engine's planning step: the condition is
compiled against the model's fields (an unknown field is a
[`WeavingError`][earnorm_aop.errors.WeavingError] naming the known ones), and the
advice is wrapped in a function that evaluates it per record.

Semantics (docs/semantics.md, "Conditions"):

- per record, on instance writes and bulk writes alike.  On ``save_many``,
  ``update_many`` and ``delete_many`` an advice that asks for ``changes`` or
  has a condition runs **once per affected record** (``instance`` is that
  record), only in ``before`` / ``after`` / ``after_commit`` /
  ``after_rollback`` advice; ``False`` from a ``before`` run vetoes the whole
  write;
- ``was`` is the value as loaded or as last saved (``None`` for a creation);
  ``is_now`` the value the write stores; ``has_changed`` compares the two;
  ``changes_to=v`` is ``is_now=v`` with a different ``was``; a field whose
  value was never loaded (deferred) fails the condition;
- ``when`` alone (none of the four) holds on every write, as in
  django-lifecycle; ``when_any=[...]`` holds when one of the fields does and
  runs the advice once per record, however many match;
- ``condition=callable`` gets the record's ``changes`` and must return a truth
  value; with field conditions, both must hold;
- each hook's condition is evaluated when that hook runs, on the values then:
  an earlier hook's assignment is seen by later hooks' conditions;
- commit-aware advice (``after_commit`` / ``after_rollback``) evaluates its
  condition and binds ``changes`` at the write.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..adapters.base import Adapter, adapter_for
from ..adapters.tracking import BULK, UNKNOWN, WRITES, Record, instance_recorder
from ..errors import PluginError, WeavingError
from ..weaving.advice import Target, signature_key
from ..weaving.aspect import AdviceSpec, Aspect
from ..weaving.commit import streak_of
from ..weaving.pointcut import Kind, Pointcut, split_event
from ..weaving.policy import policy_of, record_failure
from .specialising import per_model, specialised

__all__ = [
    "ANY",
    "Condition",
    "ConditionalAdviceSpec",
    "asks_changes",
    "needs_tracking",
    "per_model",
    "resolve_advice",
    "when",
]

F = TypeVar("F", bound=Callable[..., Any])


class _Any:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ANY"


ANY: Any = _Any()
"""Any value (the default of ``was``, ``is_now`` and ``changes_to``)."""


@dataclass(frozen=True)
class Condition:
    """What a hook requires of a record's write (see the module docstring)."""

    when: str | None = None
    was: Any = ANY
    is_now: Any = ANY
    has_changed: bool | None = None
    changes_to: Any = ANY
    when_any: tuple[str, ...] = ()
    condition: Callable[[Mapping[str, tuple[Any, Any]]], Any] | None = None

    def __post_init__(self) -> None:
        if self.when is not None and self.when_any:
            raise PluginError("a hook takes when= or when_any=, not both")
        if self.when is not None and not isinstance(self.when, str):
            raise PluginError(f"when= takes a field name, not {self.when!r}")
        if isinstance(self.when_any, str) or not all(isinstance(n, str) for n in self.when_any):
            raise PluginError(f"when_any= takes a list of field names, not {self.when_any!r}")
        if self.condition is not None and not callable(self.condition):
            raise PluginError(f"condition= takes a callable of changes, not {self.condition!r}")
        on_value = self.was is not ANY or self.is_now is not ANY or self.changes_to is not ANY
        if on_value and self.when is None and not self.when_any:
            raise PluginError("was=, is_now= and changes_to= need the field: add when='field'")

    @classmethod
    def of(cls, options: Mapping[str, Any]) -> Condition | None:
        """The condition of a hook's keywords, or ``None`` when it has none."""
        if not options:
            return None
        kw = dict(options)
        if "when_any" in kw:
            kw["when_any"] = tuple(kw["when_any"] or ())
        return cls(**kw)

    def fields(self) -> tuple[str, ...]:
        return (self.when,) if self.when is not None else self.when_any

    def compile(self, model: type, where: str) -> Callable[[Record], bool]:
        """A test of one record, specialised to this condition and ``model``'s fields."""
        adapter = adapter_for(model)
        known = adapter.field_names(model)
        attnames = []
        for name in self.fields():
            if not adapter.has_field(model, name) and known:
                raise WeavingError(
                    f"{where}: condition on field {name!r}, which {model.__qualname__} "
                    f"does not have; its fields are {', '.join(known)}"
                )
            attnames.append(adapter.attname(model, name))
        field_test = _field_test(self)
        unknown = UNKNOWN
        checks: list[Callable[[Record], bool]] = []
        if attnames:
            if len(attnames) == 1:
                (only,) = attnames

                def one(rec: Record) -> bool:
                    old, new = rec.values(only)
                    return old is not unknown and new is not unknown and field_test(old, new)

                checks.append(one)
            else:
                names = tuple(attnames)

                def any_of(rec: Record) -> bool:
                    for name in names:
                        old, new = rec.values(name)
                        if old is not unknown and new is not unknown and field_test(old, new):
                            return True
                    return False

                checks.append(any_of)
        elif self.has_changed is not None:
            wanted = self.has_changed

            def anything(rec: Record) -> bool:
                return bool(rec.changes) is wanted

            checks.append(anything)
        if self.condition is not None:
            user = self.condition

            def custom(rec: Record) -> bool:
                return bool(user(rec.changes))

            checks.append(custom)
        if not checks:
            return _always
        if len(checks) == 1:
            return checks[0]
        first, second = checks

        def both(rec: Record) -> bool:
            return first(rec) and second(rec)

        return both


def _always(rec: Record) -> bool:
    return True


def _field_test(c: Condition) -> Callable[[Any, Any], bool]:
    """``(old, new) -> bool`` for the value conditions of ``c`` (only those it has)."""
    tests: list[Callable[[Any, Any], bool]] = []
    if c.was is not ANY:
        was = c.was
        tests.append(lambda old, new: old == was)
    if c.is_now is not ANY:
        is_now = c.is_now
        tests.append(lambda old, new: new == is_now)
    if c.has_changed is not None:
        changed = c.has_changed
        tests.append(lambda old, new: (old != new) is changed)
    if c.changes_to is not ANY:
        to = c.changes_to
        tests.append(lambda old, new: new == to and old != to)
    if not tests:
        return lambda old, new: True
    if len(tests) == 1:
        return tests[0]
    return lambda old, new: all(t(old, new) for t in tests)


def when(
    field: str | None = None,
    *,
    was: Any = ANY,
    is_now: Any = ANY,
    has_changed: bool | None = None,
    changes_to: Any = ANY,
    when_any: Sequence[str] = (),
    condition: Callable[[Mapping[str, tuple[Any, Any]]], Any] | None = None,
) -> Callable[[F], F]:
    """Put a condition on a convention-named hook method (``after_save``), as ``@hook`` does.

    ``@when("status", was="draft", is_now="published")``.  On a method that
    also has ``@hook(...)`` marks, it applies to those of its marks that carry
    no condition of their own.
    """
    cond = Condition(field, was, is_now, has_changed, changes_to, tuple(when_any), condition)

    def mark(func: F) -> F:
        func.__earnorm_condition__ = cond  # type: ignore[attr-defined]
        return func

    return mark


@dataclass(eq=False)
class ConditionalAdviceSpec(AdviceSpec):
    """An [`AdviceSpec`][earnorm_aop.weaving.aspect.AdviceSpec] with the
    [`Condition`][earnorm_aop.plugin_system.conditions.Condition] of its hook."""

    condition: Condition | None = None


def asks_changes(func: Callable[..., Any]) -> bool:
    """Whether ``func`` takes a parameter named ``changes`` (read once per function).

    Asked for each advice of each model woven: a plugin's methods are the same
    functions on every model, so their signatures are read once (weakly kept).
    """
    underlying = signature_key(func)
    try:
        return _asks[underlying]
    except (KeyError, TypeError):
        pass
    try:
        asks = "changes" in inspect.signature(func).parameters
    except (TypeError, ValueError):
        asks = False
    with contextlib.suppress(TypeError):  # not weakly referenceable: not kept
        _asks[underlying] = asks
    return asks


_asks: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def needs_tracking(model: type, aspect: Aspect) -> bool:
    """Whether an advice of ``aspect`` on ``model`` has a condition or takes ``changes``.

    An event handler taking ``changes`` (``after_change``, fired by ``emit``)
    gets it from the event's payload: it needs no tracking.  A plugin that
    reads the tracking itself says so with a true ``tracks_changes`` attribute.
    """
    if getattr(aspect.plugin, "tracks_changes", False) is True:
        return True  # a plugin that reads the tracking itself (validation's changed_only)
    for spec in aspect.advices:
        if getattr(spec, "condition", None) is not None:
            return True
        if not asks_changes(spec.func):
            continue
        target = spec.target
        if isinstance(target, Pointcut):
            return True
        split = split_event(target)
        if split is not None and (split[1] in WRITES or callable(getattr(model, split[1], None))):
            return True
    return False


_PER_RECORD = frozenset({Kind.BEFORE, Kind.AFTER, Kind.AFTER_COMMIT, Kind.AFTER_ROLLBACK})
_INJECTED = ("instance", "model", "args", "kwargs")


def resolve_advice(
    model: type, operation: str, target: Target, aspect: Aspect, spec: AdviceSpec, kind: Kind
) -> tuple[AdviceSpec, Kind] | None:
    """The ``advice`` point: ``spec`` specialised (``None``: left out), behind its condition."""
    if (made := specialised(model, operation, target, spec)) is None:
        return None
    spec = made
    cond: Condition | None = getattr(spec, "condition", None)
    asks = asks_changes(spec.func)
    if cond is None and not asks:
        return spec, kind
    what = "conditions" if cond is not None else "the 'changes' parameter"
    where = (
        f"plugin {aspect.name!r}, advice {spec.name!r} ({kind.value}:{operation}) "
        f"on {model.__qualname__}"
    )
    if operation not in WRITES:
        raise WeavingError(
            f"{where}: {what} apply to write operations only "
            f"({', '.join(sorted(WRITES))}), and {operation!r} is not one; "
            "bind the advice to a write, or drop the condition / 'changes'"
        )
    bulk = operation in BULK
    if kind is Kind.CHAIN or (bulk and kind not in _PER_RECORD):
        raise WeavingError(
            f"{where}: {what} on a {kind.value} advice of {operation!r}: on bulk writes an "
            "advice that needs changes runs once per record, which only before, after, "
            "after_commit and after_rollback advice can (chain advice never gets changes)"
        )
    if inspect.iscoroutinefunction(spec.func):
        raise WeavingError(
            f"{where}: {what} on an 'async def' advice are not supported; make it a plain 'def'"
        )
    test = cond.compile(model, where) if cond is not None else None
    func = _wrap(
        spec.func, kind, operation, test, asks, aspect, where, adapter_for(model), spec.name
    )
    new_kind = Kind.AFTER if kind in (Kind.AFTER_COMMIT, Kind.AFTER_ROLLBACK) else kind
    replacement = AdviceSpec(func, spec.target, optional=spec.optional, name=spec.name)
    return replacement, new_kind


def _wrap(
    func: Callable[..., Any],
    kind: Kind,
    operation: str,
    test: Callable[[Record], bool] | None,
    asks: bool,
    aspect: Aspect,
    where: str,
    adapter: Adapter,
    name: str,
) -> Callable[..., Any]:
    """``func`` (advice ``name``) behind its condition, given ``changes``; per record on bulk
    writes.

    Three parts, each decided here at weave time: the signature the engine plans
    the wrapper with (``_signature_for``), how a commit-aware advice is handed
    to the transaction (``_deferrer``), and the per-call body (instance or bulk).
    """
    signature, names, own = _signature_for(func, kind, operation, where)
    later = _deferrer(func, kind, aspect, where, adapter, name) if kind in _DEFERRED else None
    if operation in BULK:
        conditional = _per_record(func, kind, test, asks, names, own, later)
    else:
        conditional = _per_instance(func, kind, operation, test, asks, names, own, later, adapter)
    functools.update_wrapper(conditional, func)
    conditional.__signature__ = signature  # type: ignore[attr-defined]
    del conditional.__wrapped__  # type: ignore[attr-defined]  # plan with the signature above
    return conditional


_DEFERRED = (Kind.AFTER_COMMIT, Kind.AFTER_ROLLBACK)
Deferrer = Callable[[type, Any, tuple[Any, ...], dict[str, Any]], None]


def _signature_for(
    func: Callable[..., Any], kind: Kind, operation: str, where: str
) -> tuple[inspect.Signature, tuple[str, ...], frozenset[str]]:
    """The wrapper's signature: ``func``'s names, keyword-only, without ``changes``.

    Plus the names the wrapper needs; returned with ``func``'s own names and
    every name the wrapper receives.
    """
    sig = inspect.signature(func)
    named: list[inspect.Parameter] = []
    varpos: inspect.Parameter | None = None
    varkw: inspect.Parameter | None = None
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            varpos = p
        elif p.kind is p.VAR_KEYWORD:
            varkw = p
        elif p.kind is p.POSITIONAL_ONLY:
            raise WeavingError(
                f"{where}: parameter {p.name!r} is positional-only; an advice with a "
                "condition or 'changes' takes its parameters by name"
            )
        elif p.name != "changes":
            named.append(p.replace(kind=inspect.Parameter.KEYWORD_ONLY))
    names = tuple(p.name for p in named)
    extra = [n for n in _INJECTED if n not in names]
    if kind is Kind.AROUND and "proceed" not in names:
        extra.append("proceed")
    produced = kind in (Kind.AFTER, *_DEFERRED)
    if produced and operation == "save_many" and "result" not in names:
        extra.append("result")  # save_many's objects: its argument may be a spent generator
    if "write" not in names:
        extra.append("write")  # the save's record, the rows read: once, for every advice
    params = [varpos] if varpos is not None else []
    params += named + [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY) for n in extra]
    if varkw is not None:
        params.append(varkw)
    signature = sig.replace(parameters=params, return_annotation=sig.return_annotation)
    return signature, names, frozenset(names) | frozenset(extra)


def _deferrer(
    func: Callable[..., Any], kind: Kind, aspect: Aspect, where: str, adapter: Adapter, name: str
) -> Deferrer:
    """Hand ``func``'s call, bound at the write, to the transaction (under the plugin's policy).

    Its failures in a row are its own streak, as an unconditional one's
    ([`commit`][earnorm_aop.weaving.commit]; the same one: one per plugin and
    advice name): the plugin's advice succeeding at the write resets nothing.
    """
    rollback = kind is Kind.AFTER_ROLLBACK
    policy = policy_of(aspect)
    what = f"{kind.value} advice on {where}"
    run = streak_of(aspect.switch, f"{kind.value}:{name}").run

    def failed(error: BaseException, subject: Any, streak: int | None) -> bool:
        return record_failure(aspect, error, what, streak)

    def later(model: type, subject: Any, va: tuple[Any, ...], kw: dict[str, Any]) -> None:
        call = functools.partial(run, policy, failed, subject, func, va, kw)
        adapter.defer(model, subject, None if rollback else call, call if rollback else None)

    return later


def _per_instance(
    func: Callable[..., Any],
    kind: Kind,
    operation: str,
    test: Callable[[Record], bool] | None,
    asks: bool,
    names: tuple[str, ...],
    own: frozenset[str],
    later: Deferrer | None,
    adapter: Adapter,
) -> Callable[..., Any]:
    """The body on ``save`` / ``update`` / ``delete``: one record, tested, then ``func``."""
    record = instance_recorder(operation, adapter)
    around = kind is Kind.AROUND

    def conditional(*va: Any, **kw: Any) -> Any:
        subject = kw["instance"]
        rec = kw["write"].record or record(kw["model"], subject, kw["args"], kw["kwargs"])
        if test is not None and not test(rec):  # a few look-ups, then out
            return kw["proceed"]() if around else None
        call = {n: v for n, v in kw.items() if n in names or n not in own}
        if asks:
            call["changes"] = rec.diff()  # as now (the record is the write's)
        if later is not None:
            later(kw["model"], subject, va, call)
            return None
        return func(*va, **call)

    return conditional


def _per_record(
    func: Callable[..., Any],
    kind: Kind,
    test: Callable[[Record], bool] | None,
    asks: bool,
    names: tuple[str, ...],
    own: frozenset[str],
    later: Deferrer | None,
) -> Callable[..., Any]:
    """The body on bulk writes: ``func`` once per record that passes (``instance`` is that record).

    ``False`` from a ``before`` run vetoes the whole write.
    """
    wants_instance = "instance" in names
    before = kind is Kind.BEFORE

    def conditional(*va: Any, **kw: Any) -> Any:
        subject = kw["instance"]
        model = kw["model"]
        recs = kw["write"].records(kw.get("result"))  # the rows read once, shared
        call = {n: v for n, v in kw.items() if n in names or n not in own}
        for rec in recs:
            if test is not None and not test(rec):
                continue
            each = dict(call)
            if wants_instance:
                each["instance"] = rec.instance
            if asks:
                each["changes"] = rec.changes
            if later is not None:
                later(model, subject, va, each)
            elif func(*va, **each) is False and before:
                return False
        return None

    return conditional
