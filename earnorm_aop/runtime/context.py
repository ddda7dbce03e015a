"""The call context: who is acting, why, for which request — one for every plugin.

``earnorm_aop.context`` is the front door::

    with context(actor="alice", reason="cleanup", request_id="r-42", tenant="acme"):
        note.save()          # audit records actor "alice"; advice asking for
                             # ``context`` gets Context(actor="alice", ...)

It lives in a ``ContextVar``, so a block is seen by the code
inside it and by the asyncio tasks that code starts, but not by other threads
(a thread, or a ``ThreadPoolExecutor`` worker, starts with an empty context).
Blocks nest: an inner block keeps what it does not name.  Work handed to
another thread, process or task queue takes it along explicitly:
``token = context.capture()`` where the work is queued, ``with
context.restore(token):`` where it runs (the token is a small frozen value that
pickles, and [`Context.as_dict`][earnorm_aop.runtime.context.Context.as_dict] /
[`Context.from_dict`][earnorm_aop.runtime.context.Context.from_dict] make it JSON).

Advice receives the current [`Context`][earnorm_aop.runtime.context.Context] by asking for a
parameter named ``context``; the engine resolves the name at weave time (it is the engine's
``injectables`` extension point, filled in ``earnorm_aop/_wiring.py``, so the
engine does not import this module) and reads the variable only for advice
that asked.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

__all__ = ["Context", "ContextAPI", "context"]

P = ParamSpec("P")
R = TypeVar("R")

_NAMED = ("actor", "reason", "request_id")


class _Unset:
    """The default of an argument not given (``None`` is a value: it clears the field)."""

    def __repr__(self) -> str:
        return "<unset>"


_UNSET: Any = _Unset()


@dataclass(frozen=True)
class Context:
    """Who is acting (``actor``), why (``reason``), for which request (``request_id``), extras.

    Immutable: a block makes a new one.  Extras are readable as attributes
    (``context.tenant``) and in ``extra``.
    """

    actor: Any = None
    reason: str | None = None
    request_id: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        # Only for extras; dunder and private lookups (pickle's __setstate__
        # before __dict__ exists) must fail without touching the fields.
        extra = self.__dict__.get("extra")
        if extra is None or name.startswith("_"):
            raise AttributeError(name)
        if name in extra:
            return extra[name]
        raise AttributeError(
            f"the context has no {name!r}; it has actor, reason, request_id"
            + (f" and extras {', '.join(sorted(extra))}" if extra else "")
        )

    def merged(self, values: Mapping[str, Any]) -> Context:
        """This context with ``values`` (``actor``, ``reason``, ``request_id`` or extras) set."""
        named = {k: v for k, v in values.items() if k in _NAMED}
        extra = {k: v for k, v in values.items() if k not in _NAMED}
        return Context(
            actor=named.get("actor", self.actor),
            reason=named.get("reason", self.reason),
            request_id=named.get("request_id", self.request_id),
            extra={**self.extra, **extra} if extra else self.extra,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain values (JSON-ready when the extras are): a task queue's message header."""
        return {
            "actor": self.actor,
            "reason": self.reason,
            "request_id": self.request_id,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Context:
        """The context [`as_dict`][earnorm_aop.runtime.context.Context.as_dict] described."""
        unknown = set(data) - {*_NAMED, "extra"}
        if unknown:
            raise ValueError(
                f"not a captured context: unknown keys {', '.join(sorted(unknown))}; "
                "expected actor, reason, request_id, extra"
            )
        return cls(
            actor=data.get("actor"),
            reason=data.get("reason"),
            request_id=data.get("request_id"),
            extra=dict(data.get("extra") or {}),
        )

    def __bool__(self) -> bool:
        return any(getattr(self, n) is not None for n in _NAMED) or bool(self.extra)


EMPTY = Context()
_CURRENT: ContextVar[Context] = ContextVar("earnorm_aop_context", default=EMPTY)


class ContextAPI:
    """``earnorm_aop.context``: call it for a block; its methods serve middleware and queues."""

    def __call__(
        self,
        actor: Any = _UNSET,
        reason: Any = _UNSET,
        request_id: Any = _UNSET,
        **extra: Any,
    ) -> AbstractContextManager[Context]:
        """A block (``with``, or a decorator) in which the named values are set.

        What is not named keeps its value from the enclosing block.
        """
        return _block(_given(actor, reason, request_id, extra))

    def current(self) -> Context:
        """The context in force here."""
        return _CURRENT.get()

    @property
    def actor(self) -> Any:
        return _CURRENT.get().actor

    @property
    def reason(self) -> str | None:
        return _CURRENT.get().reason

    @property
    def request_id(self) -> str | None:
        return _CURRENT.get().request_id

    def set(
        self,
        actor: Any = _UNSET,
        reason: Any = _UNSET,
        request_id: Any = _UNSET,
        **extra: Any,
    ) -> Token[Context]:
        """Set values without a block (middleware); undo with
        [`reset`][earnorm_aop.runtime.context.ContextAPI.reset] and the token."""
        values = _given(actor, reason, request_id, extra)
        return _CURRENT.set(_CURRENT.get().merged(values))

    def reset(self, token: Token[Context]) -> None:
        """Undo the [`set`][earnorm_aop.runtime.context.ContextAPI.set] or
        [`restore`][earnorm_aop.runtime.context.ContextAPI.restore] that returned ``token``."""
        _CURRENT.reset(token)

    def capture(self) -> Context:
        """The context in force, to hand to another thread, process or task."""
        return _CURRENT.get()

    @contextmanager
    def restore(self, captured: Context | Mapping[str, Any] | None) -> Iterator[Context]:
        """Inside the block, the context is exactly ``captured`` (``None``: empty)."""
        token = self.adopt(captured)
        try:
            yield _CURRENT.get()
        finally:
            _CURRENT.reset(token)

    def adopt(self, captured: Context | Mapping[str, Any] | None) -> Token[Context]:
        """[`restore`][earnorm_aop.runtime.context.ContextAPI.restore] without a block (a task
        queue's start signal); undo: [`reset`][earnorm_aop.runtime.context.ContextAPI.reset]."""
        return _CURRENT.set(_coerce(captured))

    def bind(self, func: Callable[P, R]) -> Callable[P, R]:
        """``func`` running in the context in force now, wherever it is called later.

        ``executor.submit(context.bind(work), item)``.
        """
        captured = self.capture()

        @functools.wraps(func)
        def bound(*args: P.args, **kwargs: P.kwargs) -> R:
            with self.restore(captured):
                return func(*args, **kwargs)

        return bound

    def __repr__(self) -> str:
        return f"<earnorm_aop.context {_CURRENT.get()!r}>"


def _given(actor: Any, reason: Any, request_id: Any, extra: dict[str, Any]) -> dict[str, Any]:
    values = {
        k: v
        for k, v in (("actor", actor), ("reason", reason), ("request_id", request_id))
        if v is not _UNSET
    }
    values.update(extra)
    return values


def _coerce(captured: Context | Mapping[str, Any] | None) -> Context:
    if captured is None:
        return EMPTY
    if isinstance(captured, Context):
        return captured
    if isinstance(captured, Mapping):
        return Context.from_dict(captured)
    raise TypeError(
        f"context.restore() takes what context.capture() returned (or its as_dict()), "
        f"not {captured!r}"
    )


@contextmanager
def _block(values: dict[str, Any]) -> Iterator[Context]:
    value = _CURRENT.get().merged(values)
    token = _CURRENT.set(value)
    try:
        yield value
    finally:
        _CURRENT.reset(token)


context = ContextAPI()
"""The call context of every plugin (see the module docstring)."""

current_context = _CURRENT.get
"""The context in force (what advice asking for ``context`` receives): one C call."""


def current_user() -> Any:
    """The actor of the context in force (what advice and handlers asking for ``user`` receive).

    Django's ``ContextMiddleware`` sets it from ``request.user``.
    """
    return _CURRENT.get().actor
