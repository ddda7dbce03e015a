"""Per-call overhead of woven methods, against the bare method and wrapt.

Run it with the project's interpreter::

    .venv/bin/python benchmarks/overhead.py [--repeat 25] [--ms 20]

Every row times ``obj.save(x)`` (for async rows: one ``coro.send(None)`` of
the coroutine it returns, so no event loop is involved) with :mod:`timeit`.
All rows are measured in one process, interleaved: each round times every row
once, and a row's figure is its best round, which is what a quiet machine
would show (noise only ever adds time).  Ratios are taken within the run, so
they compare like with like on whatever machine runs this.

The targets come from the issues (engine: #2, registry: #3).  This is a
benchmark, not a test: it prints PASS/MISS and never fails.
"""

from __future__ import annotations

import argparse
import contextvars
import functools
import os
import platform
import timeit
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

import wrapt

from earnorm_aop import scope, weaver
from earnorm_aop.aspect import Aspect

SYNC_STMT = "obj.save(x)"
ASYNC_STMT = """\
try:
    obj.save(x).send(None)
except StopIteration:
    pass
"""


# --------------------------------------------------------------------------
# Advice and the models they are woven on
# --------------------------------------------------------------------------


def before(instance: Any) -> None:
    """A ``before`` advice that does nothing (and does not veto)."""


def around(proceed: Callable[[], Any]) -> Any:
    return proceed()


def chain(value: Any) -> Any:
    return value


def model(name: str) -> type:
    """A fresh class with its own ``save`` function, so weaving one never touches another."""

    class Model:
        def save(self, x: int) -> int:
            return x

    Model.__name__ = Model.__qualname__ = name
    return Model


def async_model(name: str) -> type:
    class Model:
        async def save(self, x: int) -> int:
            return x

    Model.__name__ = Model.__qualname__ = name
    return Model


def woven(name: str, *specs: str, make: Callable[[str], type] = model) -> type:
    """``make(name)`` with one aspect per spec (``"before:save"``, ...) woven on it."""
    cls = make(name)
    advice = {"before": before, "around": around, "chain": chain}
    for i, spec in enumerate(specs):
        weaver.weave(cls, Aspect.of(f"{name}-{i}", [(spec, advice[spec.split(":")[0]])]))
    return cls


def by_hand(func: Callable[..., Any]) -> Callable[..., Any]:
    """What one would write without a library: a closure calling one before-function."""

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if before(self) is False:
            return None
        return func(self, *args, **kwargs)

    return wrapper


@wrapt.decorator
def empty(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return wrapped(*args, **kwargs)


class HandWritten:
    @by_hand
    def save(self, x: int) -> int:
        return x


class EmptyWrapt:
    @empty
    def save(self, x: int) -> int:
        return x


class AsyncEmptyWrapt:
    @empty
    async def save(self, x: int) -> int:
        return x


def pluggy_object() -> object | None:
    """An object whose ``save(x)`` fires a pluggy hook with one implementation."""
    try:
        import pluggy
    except ImportError:
        return None
    spec = pluggy.HookspecMarker("bench")
    impl = pluggy.HookimplMarker("bench")

    class Spec:
        @spec
        def before_save(self, instance: Any) -> None: ...

    class Impl:
        @impl
        def before_save(self, instance: Any) -> None:
            pass

    pm = pluggy.PluginManager("bench")
    pm.add_hookspecs(Spec)
    pm.register(Impl())
    hook = pm.hook.before_save

    class Pluggy:
        def save(self, x: int) -> int:
            hook(instance=self)
            return x

    return Pluggy()


# --------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------


@dataclass
class Row:
    """One timed case: ``obj.save(x)`` run by ``timeit``, optionally inside ``context``."""

    label: str
    obj: object
    bare: str = "bare"  # the row it is compared with as "the bare method"
    wrapt: str = "empty @wrapt.decorator"
    is_async: bool = False
    context: contextvars.Context | None = None
    best: float = float("inf")  # seconds per call
    number: int = 0
    timer: timeit.Timer = field(init=False)

    def __post_init__(self) -> None:
        stmt = ASYNC_STMT if self.is_async else SYNC_STMT
        self.timer = timeit.Timer(stmt, globals={"obj": self.obj, "x": 1})

    def time(self, number: int) -> float:
        if self.context is not None:
            return self.context.run(self.timer.timeit, number)
        return self.timer.timeit(number)

    def calibrate(self, seconds: float) -> None:
        per_call = self.time(2000) / 2000
        self.number = max(1000, int(seconds / per_call))

    def measure(self) -> None:
        self.best = min(self.best, self.time(self.number) / self.number)


@dataclass(frozen=True)
class Target:
    """``row`` must cost at most ``limit`` times ``ref`` (or be the original function)."""

    row: str
    ref: str
    limit: float
    identity: bool | None = None  # for unwoven/disabled rows: is it the bare function?

    def check(self, ns: dict[str, float]) -> tuple[str, bool]:
        text = f"<={self.limit:.2f}x {self.ref}"
        if self.identity is not None:
            return f"{text} (is the original function)", self.identity
        return text, ns[self.row] <= self.limit * ns[self.ref]


def build() -> tuple[list[Row], list[Target]]:
    rows = [
        Row("bare", model("Bare")()),
        Row("functools.wraps closure, 1 before", HandWritten()),
        Row("empty @wrapt.decorator", EmptyWrapt()),
        Row("woven: 1 before", woven("Before1", "before:save")()),
        Row("woven: 1 around", woven("Around1", "around:save")()),
        Row("woven: 5 before", woven("Before5", *["before:save"] * 5)()),
        Row("woven: 1 chain", woven("Chain1", "chain:save")()),
    ]
    targets = [
        Target("woven: 1 before", "empty @wrapt.decorator", 1.15),
        Target("woven: 5 before", "empty @wrapt.decorator", 1.60),
    ]

    # Async: driven with coro.send(None), compared with async baselines.
    a_bare, a_wrapt = "async bare", "async empty @wrapt.decorator"
    rows += [
        Row(a_bare, async_model("AsyncBare")(), bare=a_bare, wrapt=a_wrapt, is_async=True),
        Row(a_wrapt, AsyncEmptyWrapt(), bare=a_bare, wrapt=a_wrapt, is_async=True),
        Row(
            "async woven: 1 before",
            woven("AsyncBefore1", "before:save", make=async_model)(),
            bare=a_bare,
            wrapt=a_wrapt,
            is_async=True,
        ),
    ]

    # Unwoven, and every plugin disabled: the class attribute is the original again.
    unwoven = model("Unwoven")
    original = unwoven.__dict__["save"]
    weaver.weave(unwoven, Aspect.of("gone", [("before:save", before)]))
    weaver.unweave(unwoven, "gone")
    off = model("AllDisabled")
    off_original = off.__dict__["save"]
    off_aspect = Aspect.of("off", [("before:save", before)])
    weaver.weave(off, off_aspect)
    weaver.set_enabled(off_aspect.switch, False)
    rows += [Row("after unweave", unwoven()), Row("woven, plugin disabled", off())]
    targets += [
        Target("after unweave", "bare", 1.00, identity=unwoven.__dict__["save"] is original),
        Target("woven, plugin disabled", "bare", 1.00, identity=off.__dict__["save"] is off_original),
    ]

    # 3 plugins of which 2 are disabled globally: as cheap as 1 woven plugin.
    three = woven("ThreeTwoOff", *["before:save"] * 3)
    for aspect in weaver.effective_aspects(three)[1:]:
        weaver.set_enabled(aspect.switch, False)
    rows.append(Row("3 woven, 2 disabled", three()))
    targets.append(Target("3 woven, 2 disabled", "woven: 1 before", 1.05))

    # Context-local disable of plugin B on a model woven with A and B (1 before each).
    # "outside": the scope is open in another context, so the dispatcher checks it;
    # "inside": this context has B disabled, so only A runs.
    none_open = woven("CtxNone", "before:save", "before:save")
    outside = woven("CtxOutside", "before:save", "before:save")
    inside = woven("CtxInside", "before:save", "before:save")
    b_out = weaver.effective_aspects(outside)[1].switch
    b_in = weaver.effective_aspects(inside)[1].switch
    weaver.context_scope_opened({b_out, b_in})
    in_scope = contextvars.copy_context()
    in_scope.run(scope.DISABLED.set, frozenset({b_in}))
    rows += [
        Row("ctx: no disabled() anywhere (2 before)", none_open()),
        Row("ctx: outside disabled(B)", outside()),
        Row("ctx: inside disabled(B)", inside(), context=in_scope),
    ]
    targets += [
        Target("ctx: outside disabled(B)", "ctx: no disabled() anywhere (2 before)", 1.10),
        Target("ctx: inside disabled(B)", "ctx: no disabled() anywhere (2 before)", 1.10),
    ]

    hooked = pluggy_object()
    if hooked is not None:
        rows.append(Row("pluggy hook, 1 impl", hooked))
        targets.append(Target("woven: 1 before", "pluggy hook, 1 impl", 0.50))
    return rows, targets


def run(rows: list[Row], repeat: int, seconds: float) -> None:
    for row in rows:
        row.calibrate(seconds)
    for _ in range(repeat):
        for row in rows:
            row.measure()


def report(rows: list[Row], targets: list[Target]) -> str:
    ns = {row.label: row.best * 1e9 for row in rows}
    checks: dict[str, list[tuple[str, bool]]] = {}
    for target in targets:
        checks.setdefault(target.row, []).append(target.check(ns))
    width = max(len(row.label) for row in rows)
    lines = [
        f"{'case':<{width}}  {'ns/call':>8}  {'x bare':>6}  {'x wrapt':>7}  target",
        "-" * (width + 70),
    ]
    for row in rows:
        mine = ns[row.label]
        target = "; ".join(
            f"{text} {'PASS' if ok else 'MISS'}" for text, ok in checks.get(row.label, [])
        )
        lines.append(
            f"{row.label:<{width}}  {mine:8.1f}  {mine / ns[row.bare]:6.2f}  "
            f"{mine / ns[row.wrapt]:7.2f}  {target}".rstrip()
        )
    lines.append("")
    for target in targets:
        text, ok = target.check(ns)
        ratio = ns[target.row] / ns[target.ref]
        lines.append(
            f"{'PASS' if ok else 'MISS'}  {target.row}: {ratio:.2f}x {target.ref} (target {text})"
        )
    return "\n".join(lines)


def _wrapt_flavour() -> str:
    return "C extension" if wrapt.FunctionWrapper.__module__ == "_wrappers" else "pure Python"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=25, help="rounds; each row keeps its best")
    parser.add_argument("--ms", type=float, default=20.0, help="target milliseconds per timing")
    options = parser.parse_args(argv)
    rows, targets = build()
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}), "
        f"wrapt {version('wrapt')} ({_wrapt_flavour()}), {os.cpu_count()} CPUs, {platform.machine()}, "
        f"best of {options.repeat} interleaved rounds of ~{options.ms:g} ms per row",
    )
    run(rows, options.repeat, options.ms / 1000)
    print(report(rows, targets))


if __name__ == "__main__":
    main()
