"""The generated dispatcher: compiled once per chain shape, shown in tracebacks.

[`compile_chain`][earnorm_aop.weaving.generated.compile_chain] turns a
[`ChainPlan`][earnorm_aop.weaving.chain.ChainPlan] into the wrapt wrapper function that runs it.
The source comes from [`Generator`][earnorm_aop.weaving.codegen.Generator]; this module compiles it,
registers it with [`linecache`][linecache] so tracebacks and debuggers show its lines, and shares
one code object between chains of the same shape, each chain getting its own small namespace of
cells (its advice, switches and gate).  Its
[`ChainShape`][earnorm_aop.weaving.codegen.ChainShape] is the key the code is cached under.
"""

from __future__ import annotations

import itertools
import linecache
import types
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from types import CellType
from typing import Any

from .aspect import Switch
from .chain import ChainPlan, Dispatcher
from .codegen import GLOBALS, ChainShape, Generator

__all__ = ["compile_chain", "sharing_cells", "source_of"]

_counter = itertools.count()


# --------------------------------------------------------------------------
# The generated dispatcher
# --------------------------------------------------------------------------
class _Compiled:
    """One compiled dispatcher module, shared by every chain of its shape."""

    __slots__ = ("__weakref__", "code", "functions")

    def __init__(self, text: str, filename: str) -> None:
        self.code = compile(text, filename, "exec")
        factory = next(c for c in self.code.co_consts if isinstance(c, types.CodeType))
        # The around levels and dispatch, in definition order (dispatch last).
        self.functions = [c for c in factory.co_consts if isinstance(c, types.CodeType)]


# Compiled dispatcher modules, by generated source and by chain shape (the
# frozen record the source is written from), so an identical chain neither
# compiles nor even generates its source again.  Shapes hold strings, ints and
# enums: no class.  Values are weak: an entry (and its linecache lines) goes
# when the last dispatcher made from it does; each dispatcher's namespace keeps its own.
_by_source: weakref.WeakValueDictionary[str, _Compiled] = weakref.WeakValueDictionary()
_by_shape: weakref.WeakValueDictionary[ChainShape, _Compiled] = weakref.WeakValueDictionary()
# The code used most recently, held a while after its last dispatcher is gone:
# switching a plugin off and on again (or a subclass coming and going) then
# finds its code instead of compiling it again.  Bounded; it holds no class.
_recent: deque[_Compiled] = deque(maxlen=64)


# The same, by the plain key a shape is cached by (``Generator.key``): hashed in C,
# where hashing the shape's records calls Python for each of them.
_by_key: weakref.WeakValueDictionary[tuple[Any, ...], _Compiled] = weakref.WeakValueDictionary()


def _compiled_for(plan: ChainPlan, gen: Generator) -> _Compiled:
    key = gen.key
    found = _by_key.get(key) if key is not None else None
    if found is None:
        found = _compiled_of_shape(plan, gen)
        if key is not None:
            _by_key[key] = found
    _recent.append(found)
    return found


def _compiled_of_shape(plan: ChainPlan, gen: Generator) -> _Compiled:
    found = _by_shape.get(gen.shape)
    if found is not None:
        return found
    _, text = gen.generate()
    found = _by_source.get(text)
    if found is None:
        target = plan.target
        filename = (
            f"<earnorm_aop dispatch #{next(_counter)}, "
            f"first woven on {target.owner.__qualname__}.{target.name}>"
        )
        found = _by_source[text] = _Compiled(text, filename)
        # Register the source so tracebacks and debuggers show the generated
        # lines, for as long as some dispatcher runs this code.
        linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
        weakref.finalize(found, linecache.cache.pop, filename, None)
    _by_shape[gen.shape] = found
    return found


# Cells shared by the dispatchers closing over one value, since no generated
# code rebinds them (only ``_memo`` is ``nonlocal``, and it gets a cell of its
# own): a woven class then makes only the cells of its own objects.
# - plain immutable values (a method or plugin name, an advice kind, None),
#   by value;
_SHARED_CELLS: dict[tuple[type, Any], CellType] = {}
_SHAREABLE = (str, int, bool, type(None))
# - ``type``, what ``model`` is for an instance method (``model_of``);
_TYPE_CELL = CellType(type)
# - a plugin's switch: its own cell, kept on it (it lives as long as the switch);
# - any other value while one rebuild installs its chains (``sharing_cells``): the
#   chains of one class close over one cell of its model, its adapter, an advice
#   function two of its methods run.  By identity, for that rebuild only, so no
#   table outlives the values.
_rebuild_cells: dict[int, CellType] | None = None


@contextmanager
def sharing_cells() -> Iterator[None]:
    """While the block runs, chains compiled close over one cell per distinct value."""
    global _rebuild_cells
    outer = _rebuild_cells
    if outer is None:
        _rebuild_cells = {}
    try:
        yield
    finally:
        if outer is None:
            _rebuild_cells = None


def _cell(value: Any) -> CellType:
    kind = type(value)
    if kind in _SHAREABLE:
        key = (kind, value)
        found = _SHARED_CELLS.get(key)
        if found is None:
            if len(_SHARED_CELLS) > 8192:  # bounded: names of classes come and go
                _SHARED_CELLS.clear()
            found = _SHARED_CELLS[key] = CellType(value)
        return found
    if value is type:
        return _TYPE_CELL
    if kind is Switch:
        cell: CellType | None = value.cell
        if cell is None:
            cell = value.cell = CellType(value)
        return cell
    memo = _rebuild_cells
    if memo is None:
        return CellType(value)
    found = memo.get(id(value))
    if found is None:
        found = memo[id(value)] = CellType(value)
    return found


def compile_chain(plan: ChainPlan) -> Dispatcher:
    """The wrapt wrapper function for ``plan``, from code compiled once per chain shape.

    Chains of the same shape (the same kinds, parameters, policies and guard,
    whichever plugins and classes they belong to) share one code object; each
    chain gets its own small namespace holding its advice functions, switches
    and the gate it closes over.
    """
    gen = Generator(plan)
    compiled = _compiled_for(plan, gen)
    extras = gen.extras
    extras.code = compiled  # keeps the shared code and its linecache entry alive
    values = gen.ns
    cells: dict[str, CellType] = {"_g": extras.gate.cell}
    made: dict[str, Any] = {}
    for code in compiled.functions:
        for var in code.co_freevars:
            if var in cells:
                continue
            if var == "_bind":  # only then read the target's signature
                cells[var] = CellType(plan.target.binder())
            elif var == "_memo":  # rebound by the dispatcher: the chain's own
                cells[var] = CellType(values[var])
            elif var in values:
                cells[var] = _cell(values[var])
            else:  # an around level, made before or after this function
                cells[var] = CellType(made[var]) if var in made else CellType()
        fn = types.FunctionType(
            code, GLOBALS, code.co_name, None, tuple(cells[v] for v in code.co_freevars)
        )
        made[code.co_name] = fn
        if code.co_name in cells:
            cells[code.co_name].cell_contents = fn
    dispatcher: Dispatcher = made["dispatch"]
    return dispatcher


def source_of(dispatcher: Any) -> str:
    """The generated source a dispatcher runs (kept once per distinct source, in linecache)."""
    return "".join(linecache.getlines(dispatcher.__code__.co_filename))
