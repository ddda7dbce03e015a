"""The engine's extension points, all of them, declared here and installed by one call.

The engine (this package) knows aspects and classes, nothing of plugins, adapters or ORMs.  Where it
needs what an upper layer knows, it asks an extension point of the one
[`Extensions`][earnorm_aop.weaving.extensions.Extensions] record in force, which the package's front
door installs once (``earnorm_aop._wiring.install``, called at the end of
``earnorm_aop/__init__.py``).  No other module changes the engine by being imported: every point has
a default that is right for plain classes with no layer above, and a test swaps the record with
[`installed_as`][earnorm_aop.weaving.extensions.installed_as].

The points, each asked where the engine says:

========================  ===========================================================
``operations``            logical operations a model maps onto other objects
                          (``get_queryset`` on a Django model's manager); asked when
                          a class is planned ([`planning`][earnorm_aop.weaving.planning])
``subject``               what ``instance`` is in advice on one woven method (the
                          record ``get`` produced); asked once per woven method
``advice``                an advice adapted to one woven method before it is planned
                          (conditions on a write's ``changes``), or ``None`` to leave
                          it out of that chain; once per (advice, woven method)
``framework_bases``       classes whose methods globs skip (``pydantic.BaseModel``,
                          ``django.db.models.Model``); asked when a class is planned
``injectables``           names advice may ask for besides the reserved ones, each
                          with the zero-argument getter a call evaluates (``context``)
``constants``             names advice may ask for whose value is decided per model at
                          weave time (``adapter``): a constant in the dispatcher
``per_call``              names advice may ask for whose value the dispatcher makes once
                          per call and gives to every advice of that call (``write``:
                          the write's state, as SQLAlchemy gives ``flush_context`` to
                          each ``before_flush`` listener); the maker is decided per
                          (model, operation) at weave time
``scheduler``             how commit-aware advice on a model waits for the transaction's
                          end ([`commit`][earnorm_aop.weaving.commit]): the model's
                          ``defer``, asked once per commit-aware advice at weave time
``on_auto_disable``       called with the switch of a plugin that tripped its
                          ``max_failures`` (the engine's own re-weave comes first)
``on_subclass``           called with each new subclass of a woven class (the plugin
                          layer reads its ``Meta``)
``on_copy``               called with ``(old, new)`` when a woven class is re-created
                          from its dict (``@dataclass(slots=True)``)
========================  ===========================================================

Resolvers asked at weave time are plain callables; listeners are tuples, run
in order.  The record is frozen: changing a point is installing a new record
(``dataclasses.replace(installed(), scheduler=...)``), so a reader of the
engine finds every outside influence in this one value.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from .advice import CALLED, RESERVED, Subject, Target
from .aspect import AdviceSpec, Aspect, Switch
from .pointcut import Kind

__all__ = [
    "AdviceResolver",
    "Extensions",
    "Maker",
    "OperationsResolver",
    "PerCall",
    "Scheduler",
    "SchedulerOf",
    "SubjectResolver",
    "install",
    "installed",
    "installed_as",
]

OperationsResolver = Callable[[type], Mapping[str, Sequence[tuple[type, str]]]]
"""``operations(model)``: operation -> the ``(owner, attribute)`` pairs implementing it."""

SubjectResolver = Callable[[type, str, Target], Subject]
"""``subject(model, operation, target)``: what ``instance`` means in advice on ``target``."""

AdviceResolver = Callable[
    [type, str, Target, Aspect, AdviceSpec, Kind], tuple[AdviceSpec, Kind] | None
]
"""``advice(model, operation, target, aspect, spec, kind)``: what to plan in ``spec``'s place;
``None``: nothing (the advice has no work on that method of that model, decided at weave time)."""

Maker = Callable[[Any, tuple[Any, ...], dict[str, Any]], Any]
"""``make(instance, args, kwargs)``: the value one call gives its advice."""

PerCall = Callable[[type, str, Target], "Maker | None"]
"""``per_call(model, operation, target)``: the maker ``make(instance, args, kwargs)`` of the
value one call of ``target`` gives its advice, or ``None`` where the name does not apply."""

Scheduler = Callable[[type, Any, "Callable[[], None] | None", "Callable[[], None] | None"], None]
"""``scheduler(model, subject, on_commit, on_rollback)``: run ``on_commit`` when the
transaction ``subject`` (an instance, a queryset, a manager) is written in commits,
``on_rollback`` when it rolls back (either may be ``None``)."""

SchedulerOf = Callable[[type], Scheduler]
"""``scheduler(model)``: how commit-aware advice on ``model`` defers, decided at weave time (the
model's adapter's ``defer``), so a deferred call looks nothing up."""


def _no_operations(model: type) -> Mapping[str, Sequence[tuple[type, str]]]:
    return {}


def _called(model: type, operation: str, target: Target) -> Subject:
    return CALLED


def _as_declared(
    model: type, operation: str, target: Target, aspect: Aspect, spec: AdviceSpec, kind: Kind
) -> tuple[AdviceSpec, Kind] | None:
    return spec, kind


def _no_bases() -> Collection[type]:
    return ()


def _no_transaction(
    model: type,
    subject: Any,
    on_commit: Callable[[], None] | None,
    on_rollback: Callable[[], None] | None,
) -> None:
    """Without a transaction ``on_commit`` runs now and ``on_rollback`` never."""
    if on_commit is not None:
        on_commit()


def _no_transaction_for(model: type) -> Scheduler:
    return _no_transaction


@dataclass(frozen=True, slots=True)
class Extensions:
    """Every extension point of the engine (see the module docstring for when each is asked)."""

    operations: OperationsResolver = _no_operations
    subject: SubjectResolver = _called
    advice: AdviceResolver = _as_declared
    framework_bases: Callable[[], Collection[type]] = _no_bases
    injectables: Mapping[str, Callable[[], Any]] = field(default_factory=dict)
    constants: Mapping[str, Callable[[type], Any]] = field(default_factory=dict)
    per_call: Mapping[str, PerCall] = field(default_factory=dict)
    scheduler: SchedulerOf = _no_transaction_for
    on_auto_disable: tuple[Callable[[Switch], None], ...] = ()
    on_subclass: tuple[Callable[[type], None], ...] = ()
    on_copy: tuple[Callable[[type, type], None], ...] = ()

    def __post_init__(self) -> None:
        reserved = RESERVED
        names = [*self.injectables, *self.constants, *self.per_call]
        for name in names:
            if not name.isidentifier() or name in reserved or names.count(name) > 1:
                raise ValueError(
                    f"an injectable needs a new identifier, not {name!r} (reserved: "
                    f"{', '.join(reserved)}; each name once over injectables and constants)"
                )
        # Read-only views: a record in force is never changed behind the engine's back.
        object.__setattr__(self, "injectables", MappingProxyType(dict(self.injectables)))
        object.__setattr__(self, "constants", MappingProxyType(dict(self.constants)))
        object.__setattr__(self, "per_call", MappingProxyType(dict(self.per_call)))


class _InForce:
    """The record the engine asks (one attribute read per question)."""

    __slots__ = ("record",)

    def __init__(self) -> None:
        self.record = Extensions()


current = _InForce()


def installed() -> Extensions:
    """The extension points in force."""
    return current.record


def install(extensions: Extensions) -> Extensions:
    """Put ``extensions`` in force; return the record it replaces.

    Classes woven before keep the plans they have until they are re-woven.
    """
    previous = current.record
    current.record = extensions
    return previous


@contextmanager
def installed_as(**points: Any) -> Iterator[Extensions]:
    """The record in force with ``points`` replaced, for the block (tests)."""
    previous = install(replace(current.record, **points))
    try:
        yield current.record
    finally:
        install(previous)
