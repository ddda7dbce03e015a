"""Plugin configuration: one pydantic model per plugin class, validated per model.

A plugin states its options either as a nested ``class Config(BaseModel)`` or
through ``__init__``'s signature (annotations and defaults; an unannotated
parameter accepts any value).  Either way the options are checked when a model
names the plugin, so a typo fails at class creation with the plugin, the model
and the field in the message.

pydantic is imported when the first plugin is registered, not with this
package: importing it is slow, and a program that only imports the package
(a CLI, a test collection) should not pay for it.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
import typing
from typing import TYPE_CHECKING, Any, Literal

from ..errors import PluginConfigError

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["config_model", "freeze", "is_config_class", "json_schema", "validate_config"]


def config_model(cls: type) -> type[BaseModel]:
    """The pydantic model of ``cls``'s configuration (nested ``Config`` or ``__init__``)."""
    import pydantic

    nested = cls.__dict__.get("Config") or getattr(cls, "Config", None)
    if is_config_class(nested):
        model: Any = nested
        if "extra" in model.model_config:
            return model  # type: ignore[no-any-return]  # the plugin chose what unknown options do
        # pydantic ignores unknown keys by default; a misspelt option must fail.
        return type(
            model.__name__,
            (model,),
            {
                "__module__": model.__module__,
                "__qualname__": model.__qualname__,
                "__doc__": model.__doc__,
                "model_config": pydantic.ConfigDict(extra="forbid"),
            },
        )
    init = cls.__dict__.get("__init__") or getattr(cls, "__init__")  # noqa: B009
    fields: dict[str, Any] = {}
    extra: Literal["allow", "forbid"] = "forbid"
    if init is not object.__init__:
        try:
            hints = typing.get_type_hints(init)
        except Exception:  # one unresolvable annotation: resolve the others one by one
            hints = _each_hint(init)
        params = list(inspect.signature(init).parameters.values())[1:]
        for p in params:
            if p.kind is p.VAR_KEYWORD:
                extra = "allow"
                continue
            if p.kind is p.VAR_POSITIONAL:
                continue
            annotation = hints.get(p.name, Any)
            default = ... if p.default is p.empty else p.default
            fields[p.name] = (annotation, default)
    return pydantic.create_model(
        f"{cls.__name__}Config",
        __config__=pydantic.ConfigDict(extra=extra, arbitrary_types_allowed=True),
        **fields,
    )


def is_config_class(value: object) -> bool:
    """Whether ``value`` is a pydantic model class (never true before pydantic is imported)."""
    pydantic = sys.modules.get("pydantic")
    return (
        pydantic is not None and isinstance(value, type) and issubclass(value, pydantic.BaseModel)
    )


@functools.cache
def _lenient_json_schema() -> type:
    import pydantic.json_schema

    class _LenientJsonSchema(pydantic.json_schema.GenerateJsonSchema):
        """Leaves out what JSON Schema cannot say (an option typed as an arbitrary class)."""

        def handle_invalid_for_json_schema(self, schema: Any, error_info: str) -> dict[str, Any]:
            return {}

    return _LenientJsonSchema


def json_schema(config: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a plugin's configuration; options of arbitrary types accept any value."""
    return config.model_json_schema(schema_generator=_lenient_json_schema())


def _each_hint(func: Any) -> dict[str, Any]:
    """The annotations of ``func`` that resolve; an unresolvable one accepts any value."""
    hints: dict[str, Any] = {}
    for name, annotation in getattr(func, "__annotations__", {}).items():
        try:
            hints[name] = typing.get_type_hints(
                _Annotated(name, annotation), globalns=getattr(func, "__globals__", None)
            )[name]
        except Exception:
            continue
    return hints


class _Annotated:
    """A stand-in holding one annotation, so ``typing.get_type_hints`` resolves just that one."""

    def __init__(self, name: str, annotation: Any) -> None:
        self.__annotations__ = {name: annotation}


def validate_config(
    plugin: str, model_name: str, schema: type[BaseModel], values: dict[str, Any]
) -> BaseModel:
    """Validate ``values``; raise [`PluginConfigError`][earnorm_aop.errors.PluginConfigError] naming
    plugin, model and fields."""
    if not isinstance(values, dict):
        raise PluginConfigError(
            f"plugin {plugin!r} on {model_name}: configuration must be a dict of options, "
            f"not {values!r}"
        )
    import pydantic

    try:
        return schema.model_validate(values)
    except pydantic.ValidationError as exc:
        known = ", ".join(schema.model_fields) or "(none)"
        problems = []
        for err in exc.errors():
            field = ".".join(str(x) for x in err["loc"]) or "(config)"
            if err["type"] == "extra_forbidden":
                problems.append(f"unknown option {field!r}")
            elif err["type"] == "missing":
                problems.append(f"option {field!r} is required")
            else:
                problems.append(f"option {field!r}: {err['msg']} (got {err.get('input')!r})")
        raise PluginConfigError(
            f"plugin {plugin!r} on {model_name}: "
            + "; ".join(problems)
            + f". Known options: {known}"
        ) from None


def freeze(config: BaseModel) -> str:
    """A stable key for a validated configuration (one plugin instance per key and model)."""
    from pydantic_core import PydanticSerializationError

    # Interned: the key is kept with each model's instance, and models configured
    # alike (most) then keep one string.
    try:
        return sys.intern(json.dumps(config.model_dump(mode="json"), sort_keys=True))
    except (TypeError, ValueError, PydanticSerializationError):
        return repr(config)
