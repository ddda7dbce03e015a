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
    """The validation methods of :class:`~earnorm_aop.adapters.base.Adapter`."""

    def validate(self, instance: Any) -> dict[str, list[str]]:
        """The ORM's own validation errors of ``instance``: field -> messages (empty: valid).

        Plain: a pydantic model is validated again from its current values (an
        assignment without ``validate_assignment`` is otherwise never checked);
        other classes have no rules.  Django: ``full_clean()``'s ``message_dict``.
        """
        validate = getattr(type(instance), "model_validate", None)
        if validate is None:
            return {}
        import pydantic

        try:
            validate(self.snapshot(instance))
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
        Plain: no such step, the call is unchanged.  Django: ``clean_fields(exclude)``
        (which ``full_clean()`` and so ModelForms and the admin call) raises one
        ``ValidationError`` with Django's errors and the plugin's.
        """
        return proceed()
