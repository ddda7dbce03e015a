"""The ``validation`` plugin: invalid data is refused before it is written.

Before ``save`` and ``update`` the instance (with the update's values applied,
on a copy) is checked against every source configured: a pydantic model
(``schema_model``), per-field constraints (``fields``), the model's own
``is_valid()``, and optionally the ORM's own rules (``native``: pydantic
re-validation, Django's ``full_clean``).  Bulk writes are checked too: each
object of ``save_many``, and the values of ``update_many`` field by field.  A
value the database computes (Django's ``F("views") + 1``, ``bulk_update()``'s
``Case(When(...))``) is checked by its result for each matched row, which the
adapter evaluates with a read before anything is written (one extra query,
only when such a field has constraints).

The save a soft delete makes is not checked: deleting a row never depends
on its data being valid.  Every problem of every source is collected, then one
[`ValidationFailed`][earnorm_aop.plugins.validation.ValidationFailed] is raised listing each invalid
field; it is raised before the method runs, so nothing is written.

``is_valid()`` may return a bool, or a mapping of field -> message(s) (empty:
valid), or raise [`ValidationFailed`][earnorm_aop.plugins.validation.ValidationFailed] itself.

Where the ORM validates before a save (Django's ``full_clean()``, which
ModelForms and the admin call), the same rules are reported there as the
ORM's own errors (``adapter.clean``), so a form shows them instead of the save
failing.
"""

from __future__ import annotations

import copy
import inspect
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from ..adapters import tracking
from ..adapters.base import Adapter, adapter_for
from ..errors import PluginError, WeavingError
from ..plugin_system.masking import redact_messages
from ..plugin_system.spec import hook
from ._common import ClassOption, action_for, call_with

__all__ = ["FieldRule", "ValidationFailed", "ValidationPlugin"]

Errors = dict[str, list[str]]


class ValidationFailed(PluginError, ValueError):
    """A write was refused because data is invalid; ``errors`` maps each field to its problems."""

    def __init__(
        self, model: str, errors: Mapping[str, Sequence[str]], operation: str = "save"
    ) -> None:
        self.model = model
        self.operation = operation
        self.errors: Errors = {name: list(msgs) for name, msgs in errors.items()}
        listing = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in self.errors.items())
        count = len(self.errors)
        super().__init__(
            f"{model}.{operation} refused, nothing was written: "
            f"{count} invalid field{'s' if count != 1 else ''} ({listing})"
        )


class FieldRule(BaseModel):
    """Constraints on one field; ``None`` passes every check but ``required``."""

    model_config = ConfigDict(extra="forbid")

    required: bool = Field(False, description="Must not be None or empty.")
    min_length: int | None = Field(None, ge=0, description="Shortest length allowed.")
    max_length: int | None = Field(None, ge=0, description="Longest length allowed.")
    pattern: str | None = Field(
        None, description="Regular expression the text must contain (anchor with ^...$)."
    )
    ge: float | None = Field(None, description="Smallest value allowed.")
    gt: float | None = Field(None, description="Values must be greater.")
    le: float | None = Field(None, description="Largest value allowed.")
    lt: float | None = Field(None, description="Values must be smaller.")
    choices: list[Any] | None = Field(None, description="The only values allowed.")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regular expression {value!r}: {exc}") from None
        return value

    def check(self, value: Any) -> list[str]:
        """The problems of ``value`` (empty: it passes)."""
        if value is None or (self.required and _empty(value)):
            return ["is required"] if self.required else []
        problems: list[str] = []
        if self.min_length is not None or self.max_length is not None:
            try:
                size = len(value)
            except TypeError:
                problems.append(f"has no length ({type(value).__name__})")
            else:
                if self.min_length is not None and size < self.min_length:
                    problems.append(f"must have at least {self.min_length} characters/items")
                if self.max_length is not None and size > self.max_length:
                    problems.append(f"must have at most {self.max_length} characters/items")
        if self.pattern is not None:
            if not isinstance(value, str):
                problems.append(f"must be text matching {self.pattern!r}")
            elif re.search(self.pattern, value) is None:
                problems.append(f"must match {self.pattern!r}")
        bounds: tuple[tuple[float | None, Callable[[Any, float], bool], str], ...] = (
            (self.ge, operator.ge, "greater than or equal to"),
            (self.gt, operator.gt, "greater than"),
            (self.le, operator.le, "less than or equal to"),
            (self.lt, operator.lt, "less than"),
        )
        for bound, op, text in bounds:
            if bound is None:
                continue
            try:
                ok = op(value, bound)
            except TypeError:
                problems.append(f"must be a number {text} {bound:g}")
                continue
            if not ok:
                problems.append(f"must be {text} {bound:g}")
        if self.choices is not None and value not in self.choices:
            problems.append(f"must be one of {', '.join(map(repr, self.choices))}")
        return problems


def _empty(value: Any) -> bool:
    try:
        return len(value) == 0
    except TypeError:
        return False


def _add(errors: Errors, field: str, messages: Sequence[str]) -> None:
    bucket = errors.setdefault(field, [])
    bucket.extend(m for m in messages if m not in bucket)


class ValidationPlugin:
    """Refuse writes of invalid data, listing every invalid field; nothing is written."""

    name = "validation"
    version = "1.0.0"
    priority = 100  # first: nothing else runs (no stamping, no soft delete) for invalid data

    class Config(BaseModel):
        """Options of the ``validation`` plugin."""

        model_config = ConfigDict(extra="forbid")

        schema_model: ClassOption | None = Field(
            None,
            description=(
                "A pydantic model (or its dotted import path) the instance's field values "
                "must validate against; extra fields are its own business."
            ),
        )
        fields: dict[str, FieldRule] = Field(
            default_factory=dict,
            description="Constraints per field: {'title': {'required': true}}.",
        )
        is_valid: bool = Field(True, description="Call the model's own is_valid() when it has one.")
        changed_only: bool = Field(
            False,
            description=(
                "On a save of a loaded (or saved) instance, check the per-field rules "
                "('fields') only on the fields the save changes: the others hold what is "
                "stored. schema_model, is_valid() and native rules still see the whole "
                "instance (they may relate fields)."
            ),
        )
        native: bool = Field(
            False,
            description=(
                "Also apply the ORM's own rules (adapter.validate: pydantic models are "
                "validated again, Django runs full_clean)."
            ),
        )

        @field_validator("schema_model")
        @classmethod
        def _pydantic(cls, value: Any) -> Any:
            if value is not None and not (
                isinstance(value, type) and issubclass(value, pydantic.BaseModel)
            ):
                raise ValueError(f"schema_model must be a pydantic model class, not {value!r}")
            return value

    config: Config

    def __init__(self) -> None:
        self._field_adapters: dict[str, TypeAdapter[Any] | None] = {}

    def check_model(self, model: type) -> None:
        """Refuse, at weave time, a rule on a field ``model`` does not have (``"titel"``).

        A model whose fields the adapter cannot list (a plain class with no
        annotations) is not checked: its fields are whatever its instances set.
        """
        adapter = adapter_for(model)
        known = adapter.field_names(model)
        unknown = [n for n in self.config.fields if not adapter.has_field(model, n)]
        if unknown and known:
            names = ", ".join(repr(n) for n in unknown)
            raise WeavingError(
                f"plugin 'validation' on {model.__qualname__}: 'fields' has a rule on "
                f"{names}, which {model.__qualname__} does not have; its fields are "
                f"{', '.join(known)}"
            )

    @property
    def tracks_changes(self) -> bool:
        """``changed_only`` reads the shared change tracking: weave ``changes`` with it."""
        return self.config.changed_only

    # -- checks ------------------------------------------------------------------------

    def _errors_of(
        self,
        adapter: Adapter,
        instance: Any,
        *,
        native: bool = True,
        changed: Callable[[str], bool] | None = None,
    ) -> Errors:
        """Every problem of ``instance`` under every configured source (``native``: if set).

        ``changed(field)``: whether the write changes it; the per-field rules
        skip the fields it says are unchanged (``changed_only``).
        """
        cfg = self.config
        errors: Errors = {}
        data = adapter.snapshot(instance)
        if cfg.schema_model is not None:
            try:
                cfg.schema_model.model_validate(data)
            except pydantic.ValidationError as exc:
                for err in exc.errors():
                    _add(errors, ".".join(str(x) for x in err["loc"]) or "__all__", [err["msg"]])
        for name, rule in cfg.fields.items():
            if changed is not None and not changed(name):
                continue
            problems = rule.check(data.get(name, adapter.get_field(instance, name)))
            if problems:
                _add(errors, name, problems)
        if cfg.is_valid:
            self._ask_model(instance, errors)
        if cfg.native and native:
            for name, messages in adapter.validate(instance).items():
                _add(errors, name, messages)
        # The ORM's messages (Django: "Value 'x' is not a valid choice.") and a
        # model's own may quote a value: a masked field's never leaves in clear.
        return redact_messages(type(instance), data, errors) if errors else errors

    def _ask_model(self, instance: Any, errors: Errors) -> None:
        # Looked up statically first: an EarnORM record answers every attribute
        # with a coroutine (its __getattr__ is async), so getattr alone would "find" it.
        if inspect.getattr_static(instance, "is_valid", None) is None:
            return
        method = getattr(instance, "is_valid", None)
        if not callable(method):
            return
        try:
            verdict = method()
        except ValidationFailed as exc:
            for name, messages in exc.errors.items():
                _add(errors, name, messages)
            return
        if verdict is True or verdict is None:
            return
        if verdict is False:
            _add(errors, "__all__", ["is_valid() returned False"])
        elif isinstance(verdict, Mapping):
            for name, messages in verdict.items():
                _add(errors, str(name), [messages] if isinstance(messages, str) else messages)
        elif not verdict:
            _add(errors, "__all__", [f"is_valid() returned {verdict!r}"])

    def _errors_of_values(self, model: type, values: Mapping[str, Any]) -> Errors:
        """Problems of the values of a bulk update, field by field (no instance to ask)."""
        errors: Errors = {}
        for name, value in values.items():
            rule = self.config.fields.get(name)
            if rule is not None and (problems := rule.check(value)):
                _add(errors, name, problems)
            checker = self._field_adapter(name)
            if checker is not None:
                try:
                    checker.validate_python(value)
                except pydantic.ValidationError as exc:
                    _add(errors, name, [err["msg"] for err in exc.errors()])
        return redact_messages(model, values, errors) if errors else errors

    def _constrained(self, name: str) -> bool:
        """Whether a value written to ``name`` is checked at all (a rule or a schema field)."""
        return name in self.config.fields or self._field_adapter(name) is not None

    def _field_adapter(self, name: str) -> TypeAdapter[Any] | None:
        """A validator for one field of ``schema_model`` (cached), or None."""
        if name not in self._field_adapters:
            schema = self.config.schema_model
            info = None if schema is None else schema.model_fields.get(name)
            checker: TypeAdapter[Any] | None = None
            if info is not None:
                annotated: Any = Annotated[info.annotation, *info.metadata]
                checker = TypeAdapter(annotated)
            self._field_adapters[name] = checker
        return self._field_adapters[name]

    def _refuse(self, adapter: Adapter, model: type, errors: Errors, operation: str) -> None:
        if errors:
            raise ValidationFailed(adapter.model_label(model), errors, operation)

    # -- advice ------------------------------------------------------------------------

    @property
    def unused_hooks(self) -> frozenset[str]:
        """One save check is woven: the one reading the write's changes with ``changed_only``."""
        return frozenset({"validate_save" if self.config.changed_only else "validate_changed_save"})

    @hook("before:save", optional=True)
    def validate_save(self, instance: Any, model: type, adapter: Adapter) -> None:
        """Refuse to save an invalid instance (not the save a soft delete makes)."""
        if action_for(instance) == "soft_delete":
            return  # deleting a row must not depend on its data being valid
        self._refuse(adapter, model, self._errors_of(adapter, instance), "save")

    @hook("before:save", optional=True)
    def validate_changed_save(
        self, instance: Any, model: type, adapter: Adapter, write: tracking.Write
    ) -> None:
        """With ``changed_only``: the per-field rules check the fields the save changes.

        What it changes is the write's record's (built once for the write's advice).
        """
        if action_for(instance) == "soft_delete":
            return
        changed = None
        rec = write.instance_record()
        if not rec.created:
            found = rec.diff()  # as now: the record is shared by the write's advice
            changed = lambda name: adapter.attname(model, name) in found  # noqa: E731
        self._refuse(adapter, model, self._errors_of(adapter, instance, changed=changed), "save")

    @hook("around:clean_fields", optional=True)
    def validate_clean_fields(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[[], Any],
        adapter: Adapter,
    ) -> Any:
        """Django's ``full_clean()`` / ``clean_fields()`` report the rules too (forms, the admin).

        The ORM's own rules are ``proceed`` itself here, so ``native`` is not applied twice.
        """

        def rules() -> Errors:
            return self._errors_of(adapter, instance, native=False)

        return adapter.clean(instance, args, kwargs, proceed, rules)

    @hook("before:update", optional=True)
    def validate_update(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        adapter: Adapter,
    ) -> None:
        """Refuse an update that would make the instance invalid (checked on a copy)."""
        candidate = copy.copy(instance)
        for name, value in adapter.update_values(args, kwargs).items():
            adapter.set_field(candidate, name, value)
        self._refuse(adapter, model, self._errors_of(adapter, candidate), "update")

    @hook("around:save_many", optional=True)
    def validate_save_many(
        self,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        proceed: Callable[..., Any],
        adapter: Adapter,
    ) -> Any:
        """Refuse a bulk insert if any object is invalid (fields named ``[index].field``)."""
        objs, args, kwargs = adapter.bulk_objects(args, kwargs)
        errors: Errors = {}
        for i, obj in enumerate(objs):
            for name, messages in self._errors_of(adapter, obj).items():
                _add(errors, f"[{i}].{name}", messages)
        self._refuse(adapter, model, errors, "save_many")
        return call_with(proceed, args, kwargs)

    @hook("before:update_many", optional=True)
    def validate_update_many(
        self,
        instance: Any,
        model: type,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        adapter: Adapter,
    ) -> None:
        """Refuse a bulk update whose values break a field constraint or the schema."""
        queryset = adapter.bulk_queryset(instance, args, kwargs)
        if action_for(queryset) == "soft_delete":
            return
        values = adapter.update_values(args, kwargs)
        computed = {n: v for n, v in values.items() if adapter.is_expression(v)}
        errors = self._errors_of_values(
            model, {n: v for n, v in values.items() if n not in computed}
        )
        # An expression (F("views") + 1, bulk_update's Case(When(...))) is checked
        # by its result for each row, which the database computes without writing:
        # one extra read, only when a field it writes has constraints.
        checked = {n: v for n, v in computed.items() if self._constrained(n)}
        if checked:
            for row in adapter.evaluate(queryset, checked).values():
                for name, messages in self._errors_of_values(model, row).items():
                    _add(errors, name, messages)
        self._refuse(adapter, model, errors, "update_many")
