"""Validation: the ORM's own field validation, and reporting plugin rules through it.

The validation plugin reports its rules where the ORM reports its own (forms,
the admin), not only by refusing a save; these methods are that bridge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._fields import AdapterFields

__all__ = ["AdapterValidation"]


class AdapterValidation(AdapterFields):
    """The validation methods of [`Adapter`][earnorm_aop.adapters.base.Adapter]."""

    def validate(self, instance: Any) -> dict[str, list[str]]:
        """The ORM's own validation errors of ``instance``: field -> messages (empty: valid).

        Plain: a pydantic model is validated again from its current values (an
        assignment without ``validate_assignment`` is otherwise never checked);
        other classes have no rules.  An ORM: its own full validation's messages.
        """
        model = type(instance)
        if getattr(model, "model_validate", None) is None:
            return {}
        import pydantic

        try:
            _revalidate(model, self.snapshot(instance))
        except pydantic.ValidationError as exc:
            errors: dict[str, list[str]] = {}
            for err in exc.errors():
                field = ".".join(str(x) for x in err["loc"]) or "__all__"
                errors.setdefault(field, []).append(err["msg"])
            return errors
        return {}

    def clean(
        self,
        instance: Any,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        proceed: Callable[[], Any],
        errors: Callable[[], Mapping[str, Sequence[str]]],
    ) -> Any:
        """Run the ORM's own field validation (``proceed``) and report ``errors()`` with it.

        Where forms validate a model before saving it, a plugin's rules must be
        reported there, as the ORM reports its own, not only by refusing the save.
        Plain: no such step, the call is unchanged.  An ORM whose forms validate
        fields raises one error with its own messages and the plugin's.
        """
        return proceed()


def _revalidate(model: Any, data: dict[str, Any]) -> None:
    """Validate pydantic ``model``'s field values ``data``, keyed by field name.

    A field with an alias (``Field(alias="Title")``) is accepted only under
    its alias unless the model populates by name too, so the values are
    validated by name (pydantic 2.11+: ``by_name=True``) or, with an older
    pydantic, given under each field's alias (a plain string one).
    """
    import pydantic

    if tuple(int(p) for p in pydantic.VERSION.split(".")[:2]) >= (2, 11):
        model.model_validate(data, by_alias=False, by_name=True)
        return
    fields: dict[str, Any] = getattr(model, "__pydantic_fields__", {})
    keyed = {}
    for name, value in data.items():
        info = fields.get(name)
        alias = None if info is None else (info.validation_alias or info.alias)
        keyed[alias if isinstance(alias, str) else name] = value
    model.model_validate(keyed)
