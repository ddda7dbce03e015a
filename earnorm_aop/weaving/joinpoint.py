"""Join points: the call an advice is running for.

Advice asks for ``joinpoint`` when it needs everything at once (or a target
parameter whose name is shadowed by a reserved injection name).  The object is
built only for advice that asked for it, so the common path allocates nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["JoinPoint", "Recover"]


class Recover:
    """Returned by ``error`` advice to replace the exception with ``value``."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Recover({self.value!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Recover) and other.value == self.value

    __hash__ = None  # type: ignore[assignment]


class JoinPoint:
    """Everything about one advised call, as seen by one advice.

    ``instance`` is the operation's subject (what advice gets as ``instance``:
    the record ``get`` produced, in ``after``/``chain`` advice); ``target`` is
    always the object the method was called on (the class or manager for ``get``).
    """

    __slots__ = (
        "_arguments",
        "_binder",
        "args",
        "error",
        "instance",
        "kind",
        "kwargs",
        "method",
        "model",
        "plugin",
        "proceed",
        "result",
        "target",
    )

    def __init__(
        self,
        instance: Any,
        model: type,
        method: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        plugin: str,
        kind: str,
        result: Any = None,
        error: BaseException | None = None,
        proceed: Callable[..., Any] | None = None,
        binder: Callable[[Any, tuple[Any, ...], dict[str, Any]], dict[str, Any]] | None = None,
        target: Any = None,
    ) -> None:
        self.instance = instance
        self.target = target
        self.model = model
        self.method = method
        self.args = args
        self.kwargs = kwargs
        self.plugin = plugin
        self.kind = kind
        self.result = result
        self.error = error
        self.proceed = proceed
        self._binder = binder
        self._arguments: dict[str, Any] | None = None

    @property
    def arguments(self) -> Mapping[str, Any]:
        """The target method's parameters bound to this call, defaults applied."""
        if self._arguments is None:
            binder = self._binder
            self._arguments = {} if binder is None else binder(self.target, self.args, self.kwargs)
        return self._arguments

    def __repr__(self) -> str:
        return (
            f"<JoinPoint {self.kind} {self.model.__name__}.{self.method} "
            f"plugin={self.plugin!r} args={self.args!r} kwargs={self.kwargs!r}>"
        )
