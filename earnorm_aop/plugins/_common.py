"""What the built-in plugins share: importable options, the default clock, call context.

Options such as a clock or an audit sink take a callable or its dotted import
path (``"myapp.clock.now"``), so they can come from a settings file; their
JSON schema says "string".  The context variables let one built-in tell
another what a nested call is for (softdelete's save is a ``soft_delete`` to
audit; a query including hidden rows must not be served from the cache)
without the two importing each other's internals.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from ..adapters.visibility import including_hidden, is_unfiltered
from ..runtime.dotted import import_dotted

if TYPE_CHECKING:
    from ..adapters.base import Adapter

__all__ = [
    "CallableOption",
    "ClassOption",
    "acting",
    "action_for",
    "call_with",
    "clock_of",
    "current_action",
    "dotted",
    "finally_",
    "import_dotted",
    "including_hidden",
    "is_unfiltered",
    "settle",
    "then",
    "utc_now",
    "within",
]


def clock_of(clock: Callable[[], datetime] | None) -> Callable[[Adapter], datetime]:
    """A plugin's clock: the configured one, else the model's adapter's ``now()``.

    The adapter's clock is timezone-aware UTC for plain classes and follows
    ``USE_TZ`` for Django (aware UTC, or naive local time where the database
    refuses aware values).
    """
    if clock is not None:
        configured = clock
        return lambda adapter: configured()
    return lambda adapter: adapter.now()


def utc_now() -> datetime:
    """The default clock: the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


def dotted(obj: Any) -> str:
    """``obj``'s import path when it has one that leads back to it, else its repr.

    Used to serialise options, so two different lambdas never look equal (the
    registry keys plugin instances by their serialised configuration).
    """
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
        path = f"{module}.{qualname}"
        try:
            if import_dotted(path) is obj:
                return path
        except (ValueError, ImportError):
            pass
    return repr(obj)


def _import_callable(value: Any) -> Any:
    if isinstance(value, str):
        value = import_dotted(value)
    if not callable(value):
        raise ValueError(f"expected a callable or its dotted import path, got {value!r}")
    return value


def _import_class(value: Any) -> Any:
    if isinstance(value, str):
        value = import_dotted(value)
    if not isinstance(value, type):
        raise ValueError(f"expected a class or its dotted import path, got {value!r}")
    return value


CallableOption = Annotated[
    Any,
    BeforeValidator(_import_callable),
    PlainSerializer(dotted, return_type=str),
    WithJsonSchema(
        {"type": "string", "description": "a dotted import path ('package.module.function')"}
    ),
]
"""An option holding a callable, given as the object or its dotted import path."""

ClassOption = Annotated[
    Any,
    BeforeValidator(_import_class),
    PlainSerializer(dotted, return_type=str),
    WithJsonSchema({"type": "string", "description": "a dotted import path ('package.Class')"}),
]
"""An option holding a class, given as the class or its dotted import path."""


# -- call context -----------------------------------------------------------------

# (id of the instance or queryset, action) of the write in progress, so audit
# records softdelete's save as "soft_delete" rather than "update".
_ACTION: ContextVar[tuple[int, str] | None] = ContextVar("earnorm_aop_action", default=None)


@contextmanager
def acting(target: object, action: str) -> Iterator[None]:
    """Label the writes of ``target`` (an instance or a queryset) inside the block."""
    token = _ACTION.set((id(target), action))
    try:
        yield
    finally:
        _ACTION.reset(token)


# ``(id(target), action)`` of the write in progress, or None: what ``action_for``
# reads, for a hot path that compares it in place (one C call).
current_action = _ACTION.get


def action_for(target: object) -> str | None:
    """The label [`acting`][earnorm_aop.plugins._common.acting] gave ``target``'s write in progress,
    if any."""
    current = _ACTION.get()
    if current is not None and current[0] == id(target):
        return current[1]
    return None


def call_with(proceed: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """``proceed`` with rewritten arguments (``proceed()`` alone would reuse the original ones)."""
    if args or kwargs:
        return proceed(*args, **kwargs)
    return proceed()


# -- sync and async calls alike ------------------------------------------------------
#
# A built-in's advice is written once, as sync code.  On an async model method
# (EarnORM) ``proceed()`` and the adapter's writes return awaitables: these
# helpers run the rest of the advice after them, in a coroutine the dispatcher
# awaits, so the same advice is correct on both.


def then(value: Any, rest: Callable[[Any], Any]) -> Any:
    """``rest(value)`` now, or, when ``value`` is awaitable, a coroutine running it afterwards."""
    if inspect.isawaitable(value):
        return _then(value, rest)
    return rest(value)


async def _then(value: Awaitable[Any], rest: Callable[[Any], Any]) -> Any:
    result = rest(await value)
    if inspect.isawaitable(result):
        result = await result
    return result


def finally_(call: Callable[[], Any], cleanup: Callable[[], None]) -> Any:
    """``call()`` followed by ``cleanup()`` whatever happens, after an awaitable result settles."""
    try:
        value = call()
    except BaseException:
        cleanup()
        raise
    if inspect.isawaitable(value):
        return _finally(value, cleanup)
    cleanup()
    return value


async def _finally(value: Awaitable[Any], cleanup: Callable[[], None]) -> Any:
    try:
        return await value
    finally:
        cleanup()


def settle(values: list[Any], result: Any) -> Any:
    """``result``, or, if any of ``values`` is awaitable, a coroutine awaiting them first."""
    waiting = [v for v in values if inspect.isawaitable(v)]
    if not waiting:
        return result
    return _settle(waiting, result)


async def _settle(waiting: list[Awaitable[Any]], result: Any) -> Any:
    for value in waiting:
        await value
    return result


def within(block: Callable[[], AbstractContextManager[Any]], call: Callable[[], Any]) -> Any:
    """``call()`` inside ``block()``; an awaitable result is awaited inside a new ``block()``.

    Context variables set by ``block`` (an audit label, ``including_deleted()``)
    are reset when the ``with`` ends, before a coroutine returned by ``call``
    has run; the coroutine must see them too.
    """
    with block():
        value = call()
    if inspect.isawaitable(value):
        return _within(block, value)
    return value


async def _within(block: Callable[[], AbstractContextManager[Any]], value: Awaitable[Any]) -> Any:
    with block():
        return await value
