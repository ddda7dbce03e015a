"""Advice planning: resolve, once at weave time, what each advice is called with.

Advice parameters are injected by name.  For every (advice, woven method) pair this module decides
where each parameter comes from, so the dispatcher never inspects a signature per call; advice that
asks for a parameter of the target method has it read from the call's arguments (see
[`DirectBinding`][earnorm_aop.weaving.advice.DirectBinding]), and only a target taking
``*args``/``**kwargs`` makes the call bind them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import inspect
import operator
import types
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from ..errors import WeavingError
from .aspect import AdviceSpec, Aspect
from .pointcut import Kind

__all__ = [
    "NOTHING_PROVIDED",
    "REQUIRED",
    "RESERVED",
    "DirectBinding",
    "DirectParam",
    "Param",
    "PlannedAdvice",
    "Provided",
    "Source",
    "Subject",
    "Target",
    "plan_advice",
]

_EVERY_KIND = ("instance", "model", "args", "kwargs", "method", "joinpoint")
RESERVED = (*_EVERY_KIND, "result", "error", "proceed")
_COMMON = frozenset(_EVERY_KIND)
_BY_KIND: dict[Kind, frozenset[str]] = {
    Kind.BEFORE: _COMMON,
    Kind.AROUND: _COMMON | {"proceed"},
    Kind.AFTER: _COMMON | {"result"},
    Kind.CHAIN: _COMMON,
    Kind.ERROR: _COMMON | {"error"},
    Kind.AFTER_COMMIT: _COMMON | {"result"},
    Kind.AFTER_ROLLBACK: _COMMON | {"result"},
}
_RESERVED_FOR = {"result": "after", "error": "error", "proceed": "around"}


@dataclass(frozen=True, slots=True)
class Provided:
    """The names the layer above lets advice ask for on one model (see ``extensions``).

    ``getters``: name -> the getter each call evaluates (``context``); ``constants``:
    name -> ``factory(model)``, evaluated at weave time (``adapter``); ``per_call``: name ->
    ``factory(model, operation, target)``, evaluated at weave time, giving the maker
    ``make(instance, args, kwargs)`` of a value made once per call and given to every
    advice of that call (``write``), or None where the name does not apply; all win as
    reserved names.  ``operation``: the logical operation (or method) planned.
    ``memo``: where the planner keeps what the factories made while it plans one
    model, so the advice of one method share one value (one ``write`` maker per
    target, one adapter per model) instead of a copy each.
    """

    getters: Mapping[str, Callable[[], Any]]
    constants: Mapping[str, Callable[[type], Any]]
    model: type | None = None
    per_call: Mapping[str, Callable[[type, str, Target], Any]] = field(default_factory=dict)
    operation: str = ""
    memo: dict[tuple[Any, ...], Any] | None = field(default=None, compare=False, repr=False)
    # Every name given, in that order (part of the key advice resolutions are cached by).
    names: tuple[str, ...] = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", (*self.getters, *self.constants, *self.per_call))

    def constant(self, name: str, target: Target) -> Any:
        """The value of constant ``name`` for the model woven (the target's owner by default)."""
        model = self.model or target.model or target.owner
        memo = self.memo
        if memo is None:
            return self.constants[name](model)
        key = (name, model)
        if key not in memo:
            memo[key] = self.constants[name](model)
        return memo[key]

    def maker(self, name: str, target: Target) -> Any:
        """The per-call maker of ``name`` on ``target`` (None: not given on this operation)."""
        model = self.model or target.model or target.owner
        operation = self.operation or target.name
        memo = self.memo
        if memo is None:
            return self.per_call[name](model, operation, target)
        # (The target's identity: the memo lives while one model is planned.)
        key = (name, model, operation, id(target))
        if key not in memo:
            memo[key] = self.per_call[name](model, operation, target)
        return memo[key]


NOTHING_PROVIDED = Provided({}, {})


Binder = Callable[[Any, tuple[Any, ...], dict[str, Any]], dict[str, Any]]
_NO_SIGNATURE: Any = object()
_VARPOS = inspect.Parameter.VAR_POSITIONAL
_VARKW = inspect.Parameter.VAR_KEYWORD


def _function_of(raw: Any, owner: type) -> tuple[Any, str]:
    """The function a class-dict value stands for (its signature is read), and how it binds."""
    if isinstance(raw, classmethod):
        return raw.__func__, "classmethod"
    if isinstance(raw, staticmethod):
        return raw.__func__, "staticmethod"
    func = raw
    if not inspect.isfunction(raw) and hasattr(raw, "__get__"):
        # functools.partialmethod / singledispatchmethod: what the class
        # gives is the function their signature is read from.
        with contextlib.suppress(Exception):
            func = raw.__get__(None, owner)
    return func, "method"


def _plain_parameters(func: Any) -> list[tuple[str, bool]] | None:
    """A plain function's parameters from its code, as ``inspect.signature`` orders them.

    Reading the signature would also materialise the function's
    ``__annotations__`` dict (kept on the function for good); None when the
    function is not plain (``__wrapped__``, ``__signature__``, a callable
    object), so the caller asks [`inspect`][inspect].
    """
    if type(func) is not types.FunctionType:
        return None
    if getattr(func, "__wrapped__", None) is not None or getattr(func, "__signature__", None):
        return None
    code = func.__code__
    names = code.co_varnames
    n, k = code.co_argcount, code.co_kwonlyargcount
    out = [(name, False) for name in names[:n]]
    if code.co_flags & inspect.CO_VARARGS:
        out.append((names[n + k], True))
    out += [(name, False) for name in names[n : n + k]]
    if code.co_flags & inspect.CO_VARKEYWORDS:
        out.append(("**", True))
    return out


def _signature(func: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(func)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class Subject:
    """What ``instance`` is in advice on one method: the operation's subject.

    Decided at weave time by the model's adapter (a logical operation's
    meaning is the adapter's business), so a dispatcher only evaluates one
    fixed expression per call:

    - ``"called"``: the object the method was called on (a record for
      ``save``; the class for a classmethod);
    - ``"produced"``: in ``after`` and ``chain`` advice, the value the call
      produced (the record of ``get``, the queryset of ``get_queryset``); in
      the other phases, the object called;
    - ``"argument"``: the call's argument at position ``index``, or keyword
      ``name`` (the objects of ``save_many``, the queryset of a plain
      ``update_many(queryset, ...)``).
    """

    source: str = "called"
    index: int = 0
    name: str = ""

    def __post_init__(self) -> None:
        if self.source not in ("called", "produced", "argument"):
            raise ValueError(f"unknown subject source {self.source!r}")

    def resolve(
        self, called: Any, args: tuple[Any, ...], kwargs: dict[str, Any], result: Any, kind: Kind
    ) -> Any:
        """The subject of one call, as the generated dispatcher's expression computes it."""
        if self.source == "produced" and kind in (Kind.AFTER, Kind.CHAIN):
            return result
        if self.source == "argument":
            return args[self.index] if len(args) > self.index else kwargs.get(self.name)
        return called


CALLED = Subject()


@dataclass(frozen=True, slots=True)
class Target:
    """A woven method: where it lives and what it is, decided at weave time."""

    owner: type
    name: str
    raw: Any  # the class-dict object: function, classmethod or staticmethod
    binding: str  # "method", "classmethod" or "staticmethod"
    is_async: bool
    # The names of the target's own parameters (without ``self``/``cls`` and
    # ``*args``/``**kwargs``); the full signature is only read when a call
    # must bind its arguments, so a woven class does not keep one.
    param_names: tuple[str, ...]
    # For a method an adapter maps from a logical operation onto another
    # object (a model's manager): the model, which is what ``model`` injects.
    model: type | None = None
    # What ``instance`` means in advice on this method (set by planning).
    subject: Subject = CALLED
    _signature: Any = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def of(cls, owner: type, name: str, raw: Any, model: type | None = None) -> Target:
        func, binding = _function_of(raw, owner)
        # (name, is *args/**kwargs) in signature order; self/cls is the first.
        params = _plain_parameters(func)
        if params is None:
            sig = _signature(func)
            items = list(sig.parameters.values()) if sig is not None else []
            params = [(p.name, p.kind in (_VARPOS, _VARKW)) for p in items]
        if binding != "staticmethod":
            params = params[1:]
        names = tuple(n for n, var in params if not var)
        return cls(owner, name, raw, binding, inspect.iscoroutinefunction(func), names, model)

    def with_subject(self, subject: Subject) -> Target:
        """This target with ``subject`` (what the adapter says ``instance`` is on it)."""
        return Target(
            self.owner,
            self.name,
            self.raw,
            self.binding,
            self.is_async,
            self.param_names,
            self.model,
            subject,
        )

    @property
    def signature(self) -> inspect.Signature | None:
        """The target function's signature (read once per ``Target``, when asked for)."""
        sig = self._signature
        if sig is None:
            sig = _signature(_function_of(self.raw, self.owner)[0]) or _NO_SIGNATURE
            object.__setattr__(self, "_signature", sig)
        return None if sig is _NO_SIGNATURE else sig

    @property
    def params(self) -> dict[str, inspect.Parameter]:
        """The target's own parameters, without ``self``/``cls``."""
        sig = self.signature
        if sig is None:
            return {}
        return {n: p for n, p in sig.parameters.items() if n in self.param_names}

    def direct_binding(self, names: tuple[str, ...]) -> DirectBinding | None:
        """How calls give the parameters ``names`` without binding; None if they can't.

        Only for a signature of named parameters: with ``*args`` or
        ``**kwargs`` (or none readable) the dispatcher binds each call.
        """
        sig = self.signature
        if sig is None:
            return None
        items = list(sig.parameters.values())
        if self.binding != "staticmethod":
            if not items or items[0].kind is _KWONLY:
                return None
            items = items[1:]
        if any(p.kind in (_VARPOS, _VARKW) for p in items):
            return None
        positional = [p for p in items if p.kind is not _KWONLY]
        by_name = {p.name: p for p in items}
        if any(n not in by_name for n in names):
            return None
        params = tuple(
            DirectParam(
                n,
                positional.index(by_name[n]) if by_name[n].kind is not _KWONLY else None,
                by_name[n].default,
            )
            for n in names
        )
        code = _native_code(tuple((p.name, p.kind) for p in items), names)
        native = types.FunctionType(code, {"__builtins__": {}}, "bind")
        native.__defaults__ = tuple(p.default for p in positional if p.default is not p.empty)
        native.__kwdefaults__ = {
            p.name: p.default for p in items if p.kind is _KWONLY and p.default is not p.empty
        }
        return DirectBinding(
            required=sum(1 for p in positional if p.default is p.empty),
            positional=len(positional),
            keyword_required=any(p.kind is _KWONLY and p.default is p.empty for p in items),
            params=params,
            native=native,
        )

    def binder(self) -> Binder:
        """A function binding one call's arguments to the target's parameters."""
        sig = self.signature
        static = self.binding == "staticmethod"
        skip = None if static or sig is None else next(iter(sig.parameters), None)

        def bind(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            if sig is None:
                return {}
            bound = sig.bind(*args, **kwargs) if static else sig.bind(instance, *args, **kwargs)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            if skip is not None:
                arguments.pop(skip, None)
            return arguments

        return bind


REQUIRED: Any = inspect.Parameter.empty  # a DirectParam's default when it has none


@dataclass(frozen=True, slots=True)
class DirectParam:
    """A target parameter advice asks for, as a call's arguments give it without binding."""

    name: str
    position: int | None  # its index in the call's ``args``; None when keyword-only
    default: Any  # REQUIRED when it has none


@dataclass(frozen=True, slots=True)
class DirectBinding:
    """How a call gives the target parameters advice asks for, without ``Signature.bind``.

    For a target whose parameters are all named (no ``*args``/``**kwargs``), a
    call without keywords and with between ``required`` and ``positional``
    arguments binds by position, with the defaults for the rest: the
    generated dispatcher reads each value straight from ``args``.  Any other
    call goes through ``native``, a function with the target's own parameters
    (without ``self``/``cls``) returning the asked-for values, so Python's
    argument binding checks it; when that fails the dispatcher calls the
    ``Signature.bind`` binder, which raises the error the interpreted
    dispatcher raises.
    """

    required: int  # positional parameters without a default
    positional: int  # positional parameters
    keyword_required: bool  # a keyword-only parameter without a default
    params: tuple[DirectParam, ...]  # the ones asked for, in the order ``native`` returns them
    native: Callable[..., tuple[Any, ...]]


_POSONLY = inspect.Parameter.POSITIONAL_ONLY
_KWONLY = inspect.Parameter.KEYWORD_ONLY


@functools.lru_cache(maxsize=256)
def _native_code(
    params: tuple[tuple[str, inspect._ParameterKind], ...], names: tuple[str, ...]
) -> types.CodeType:
    """The code of ``def bind(<params>): return (<names>,)``: parameter names only."""
    parts: list[str] = []
    for k, (name, kind) in enumerate(params):
        if kind is _KWONLY and (k == 0 or params[k - 1][1] is not _KWONLY):
            parts.append("*")
        parts.append(name)
        if kind is _POSONLY and (k + 1 == len(params) or params[k + 1][1] is not _POSONLY):
            parts.append("/")
    text = f"def bind({', '.join(parts)}):\n    return ({''.join(n + ', ' for n in names)})\n"
    module = compile(text, "<earnorm_aop target binding>", "exec")
    return next(c for c in module.co_consts if isinstance(c, types.CodeType))


class Source(enum.StrEnum):
    """Where an advice parameter's value comes from: a closed set, each dispatcher covers all.

    A reserved name is its own source; ``VALUE`` is a chain advice's first
    parameter; ``PROVIDED`` an injectable (its getter in ``Param.default``);
    ``TARGET`` a parameter of the woven method (``Param.key``); ``DEFAULT``
    the advice's own default or a weave-time constant (its value in
    ``Param.default``); ``VARARGS`` / ``VARKW`` the call's ``*args`` / ``**kwargs``;
    ``CALL`` a value made once per call and shared by its advice (the maker in
    ``Param.default``, the name in ``Param.key``).
    """

    INSTANCE = "instance"
    MODEL = "model"
    ARGS = "args"
    KWARGS = "kwargs"
    METHOD = "method"
    JOINPOINT = "joinpoint"
    RESULT = "result"
    ERROR = "error"
    PROCEED = "proceed"
    VALUE = "value"
    PROVIDED = "provided"
    TARGET = "target"
    DEFAULT = "default"
    VARARGS = "varargs"
    VARKW = "varkw"
    CALL = "call"


_CALL = Source.CALL
_DEFAULT = Source.DEFAULT


@dataclass(frozen=True, slots=True)
class Param:
    """One advice parameter and where its value comes from (``Source``).

    A source given as a string is checked here: an unknown one is a
    ``ValueError`` when the advice is planned, never a failure per call.
    """

    name: str
    kind: inspect._ParameterKind
    source: Source
    key: str = ""
    default: Any = None

    def __post_init__(self) -> None:
        if type(self.source) is not Source:
            object.__setattr__(self, "source", Source(self.source))


@dataclass(frozen=True, slots=True)
class PlannedAdvice:
    """An advice ready to dispatch on one target, with its parameters resolved."""

    aspect: Aspect
    spec: AdviceSpec
    kind: Kind
    func: Callable[..., Any]
    params: tuple[Param, ...]
    is_async: bool
    needs_binding: bool
    # A sync advice on an async target whose result may be awaitable, decided at
    # weave time (its return annotation; an around advice's always may: it returns
    # what proceed() gives): only then do the dispatchers test the result per call.
    may_await: bool = False

    @property
    def label(self) -> str:
        return f"{self.aspect.name}.{self.spec.name}"

    def __repr__(self) -> str:
        return f"<{self.kind.value} {self.label}>"


# Resolved parameters by advice function, then by what of the target they
# depend on: advice planned for a thousand models reads its signature once.
# Weak on the function; entries hold only ``Param`` tuples, and only when every
# default value is a plain constant (so the cache cannot keep a class alive).
_resolved: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], tuple[tuple[Param, ...], bool]]] = (
    weakref.WeakKeyDictionary()
)
_CONSTANTS = (type(None), bool, int, float, complex, str, bytes)


def plan_advice(
    aspect: Aspect,
    spec: AdviceSpec,
    kind: Kind,
    target: Target,
    provided: Provided = NOTHING_PROVIDED,
) -> PlannedAdvice:
    """Resolve ``spec``'s parameters for ``target``; raise ``WeavingError`` if one can't be."""
    func = spec.func
    is_async = inspect.iscoroutinefunction(func)
    if is_async and not target.is_async:
        raise WeavingError(
            f"{_where(aspect, spec, kind, target)}: the advice is 'async def' but "
            f"{target.owner.__qualname__}.{target.name} is synchronous; make the advice a "
            "plain 'def' (or the method async)"
        )
    # Everything of the target that resolution reads (keep in step with _resolve).
    key = (
        kind,
        isinstance(func, types.MethodType),
        target.name,
        target.binding,
        target.model is not None,
        target.param_names,
        provided.names,
    )
    underlying = signature_key(func)
    try:
        per_func = _resolved.get(underlying)
    except TypeError:  # not weakly referenceable: no caching
        per_func = None
    found = per_func.get(key) if per_func is not None else None
    shareable = False
    if found is None:
        found = _resolve(aspect, spec, kind, target, provided)
        # Only when every default is a plain constant (never a class); a per-model
        # constant (the adapter) or a per-call maker (write) is kept out and given
        # again to each model below.
        shared = tuple(_without_constant(p, provided) for p in found[0])
        if all(isinstance(p.default, _CONSTANTS) for p in shared):
            with contextlib.suppress(TypeError):  # not weakly referenceable
                _resolved.setdefault(underlying, {})[key] = (shared, found[1])
    else:
        params, missing = _given_constants(found[0], provided, target)
        # A per-call value not given on this operation: resolving again says why.
        found = _resolve(aspect, spec, kind, target, provided) if missing else (params, found[1])
        shareable = not missing and not any(p.source is _CALL for p in params)
    params, needs_binding = found
    may_await = (
        target.is_async and not is_async and (kind is Kind.AROUND or may_return_awaitable(func))
    )
    # The models of one shape plan the same advice from one spec: the last one
    # planned is handed out again when it is the same in every part (kept on
    # the spec only when its parameters hold no model's own maker).
    last = spec._planned
    if (
        last is not None
        and last.params is params
        and last.aspect is aspect
        and last.kind is kind
        and last.func is func
        and last.is_async is is_async
        and last.needs_binding is needs_binding
        and last.may_await is may_await
    ):
        return last  # type: ignore[no-any-return]
    made = PlannedAdvice(aspect, spec, kind, func, params, is_async, needs_binding, may_await)
    if shareable:
        spec._planned = made
    return made


# Return annotations that say a sync advice never hands back an awaitable.
_PLAIN_RETURNS = frozenset(
    {"None", "bool", "bool | None", "None | bool", "Optional[bool]", "typing.Optional[bool]"}
)


def may_return_awaitable(func: Callable[..., Any]) -> bool:
    """Whether sync ``func``'s result may be awaitable: unless annotated ``None`` / ``bool``.

    Read once at weave time, so the dispatcher of an async target tests the
    result of a sync advice (``inspect.isawaitable``) only where it may be a
    coroutine (a built-in writing through an async ORM returns ``Any``).  An
    advice without a return annotation may return anything: it is tested.
    """
    underlying = getattr(func, "__func__", func)
    try:
        annotation = underlying.__annotations__.get("return", inspect.Parameter.empty)
    except AttributeError:
        return True
    if annotation is None or annotation is bool or annotation is type(None):
        return False
    if isinstance(annotation, str):
        return " ".join(annotation.split()) not in _PLAIN_RETURNS
    args = getattr(annotation, "__args__", None)
    if args and getattr(annotation, "__origin__", type(annotation)) in (types.UnionType, Union):
        return not all(a is bool or a is type(None) for a in args)
    return True


def signature_key(func: Any) -> Any:
    """What ``func``'s signature is a function of, to cache what is read from it (weakly).

    A plain function without defaults, ``__signature__`` or ``__wrapped__`` has
    the signature of its code object: the closures one factory makes per
    model (a plugin's advice specialised at weave time) share it, so weaving
    one more model reads no signature.  Anything else is its own key.
    """
    underlying = getattr(func, "__func__", func)
    if (
        type(underlying) is types.FunctionType
        and underlying.__defaults__ is None
        and underlying.__kwdefaults__ is None
        and "__signature__" not in vars(underlying)
        and "__wrapped__" not in vars(underlying)
    ):
        return underlying.__code__
    return underlying


def _where(aspect: Aspect, spec: AdviceSpec, kind: Kind, target: Target) -> str:
    return (
        f"plugin {aspect.name!r}, advice {spec.name!r} ({kind.value}:{target.name}) "
        f"on {target.owner.__qualname__}"
    )


# Cached parameters with the per-model constants given, by the cached tuple and the
# constants' identities: the models of one adapter share one tuple (bounded).
_given: dict[tuple[int, tuple[int, ...]], tuple[tuple[Param, ...], tuple[Any, ...], Any]] = {}


def _given_constants(
    shared: tuple[Param, ...], provided: Provided, target: Target
) -> tuple[tuple[Param, ...], bool]:
    """``shared`` (as cached) with this model's constants; one tuple per distinct value.

    A per-call maker is the model's own (it holds the model): the tuple made
    with one is not kept for another model, which could never use it.  Also
    whether a per-call value has no maker on this operation (an error).
    """
    constants = provided.constants
    params: list[Param] | None = None
    per_model = missing = False
    for j, p in enumerate(shared):
        source = p.source
        if source is _CALL:
            value = provided.maker(str(p.key), target)
            per_model = True
            missing = missing or value is None
        elif source is _DEFAULT and p.key and p.key in constants:
            value = provided.constant(str(p.key), target)
        else:
            continue
        if params is None:
            params = list(shared)
        params[j] = Param(p.name, p.kind, source, p.key, value)
    if params is None:
        return shared, False
    if per_model:
        return tuple(params), missing
    # Only weave-time constants (the adapter): the models of one adapter share a tuple.
    values = tuple(p.default for p, q in zip(params, shared, strict=True) if p is not q)
    key = (id(shared), tuple(map(id, values)))
    found = _given.get(key)
    if found is not None and found[0] is shared and all(map(operator.is_, found[2], values)):
        return found[1], False
    made = tuple(params)
    if len(_given) > 4096:
        _given.clear()
    _given[key] = (shared, made, values)
    return made, False


def _is_constant(p: Param, provided: Provided) -> bool:
    """A per-model value: a weave-time constant, or a per-call value's maker."""
    if p.source is Source.CALL:
        return True
    return p.source is Source.DEFAULT and bool(p.key) and p.key in provided.constants


def _without_constant(p: Param, provided: Provided) -> Param:
    """``p`` as cached: a per-model constant's value left out (another model gets another)."""
    return dataclasses.replace(p, default=None) if _is_constant(p, provided) else p


def _resolve(
    aspect: Aspect, spec: AdviceSpec, kind: Kind, target: Target, provided: Provided
) -> tuple[tuple[Param, ...], bool]:
    """Where each parameter of ``spec``'s function comes from, and whether the call must bind."""
    where = _where(aspect, spec, kind, target)
    try:
        sig = inspect.signature(spec.func)
    except (TypeError, ValueError) as exc:
        raise WeavingError(f"{where}: cannot read the advice's signature ({exc})") from exc
    target_params = target.param_names
    available = _BY_KIND[kind]
    params: list[Param] = []
    needs_binding = False
    first = True
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            params.append(Param(p.name, p.kind, Source.VARARGS))
            continue
        if p.kind is p.VAR_KEYWORD:
            params.append(Param(p.name, p.kind, Source.VARKW))
            continue
        if kind is Kind.CHAIN and first and p.kind is not p.KEYWORD_ONLY:
            params.append(Param(p.name, p.kind, Source.VALUE))
            first = False
            continue
        first = False
        name = p.name
        if name in available:
            params.append(Param(name, p.kind, Source(name)))
        elif name in provided.getters:
            params.append(
                Param(name, p.kind, Source.PROVIDED, key=name, default=provided.getters[name])
            )
        elif name in provided.constants:
            value = provided.constant(name, target)
            params.append(Param(name, p.kind, Source.DEFAULT, key=name, default=value))
        elif name in provided.per_call:
            maker = provided.maker(name, target)
            if maker is None:
                raise WeavingError(
                    f"{where}: parameter {name!r} is given to advice on write operations "
                    f"only, and {provided.operation or target.name!r} is not one; "
                    f"available names are {_describe(available, target_params, provided)}"
                )
            params.append(Param(name, p.kind, Source.CALL, key=name, default=maker))
        elif name in _RESERVED_FOR:
            raise WeavingError(
                f"{where}: parameter {name!r} is only given to {_RESERVED_FOR[name]} advice; "
                f"a {kind.value} advice can take {_describe(available, target_params, provided)} "
                "(a target parameter of that name is reachable as joinpoint.arguments)"
            )
        elif name in target_params:
            params.append(Param(name, p.kind, Source.TARGET, key=name))
            needs_binding = True
        elif p.default is not p.empty:
            params.append(Param(name, p.kind, Source.DEFAULT, default=p.default))
        else:
            raise WeavingError(
                f"{where}: cannot inject parameter {name!r}; available names are "
                f"{_describe(available, target_params, provided)}"
            )
    if kind is Kind.CHAIN and not any(x.source is Source.VALUE for x in params):
        raise WeavingError(
            f"{where}: chain advice must take the value being transformed as its first "
            "positional parameter"
        )
    return tuple(params), needs_binding


def _describe(available: frozenset[str], target_params: tuple[str, ...], provided: Provided) -> str:
    names = [n for n in RESERVED if n in available]
    names += list(provided.names)
    names += [n for n in target_params if n not in available]
    return ", ".join(names)
