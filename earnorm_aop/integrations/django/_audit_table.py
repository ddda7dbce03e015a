"""The audit plugin's ``audit store`` on Django: rows of ``AuditRecord`` in the model's database.

Provided for ``DjangoAdapter`` by the package's ``__init__`` (see
``earnorm_aop/adapters/capabilities.py``).  The model of the table is asked
for only once the app is known installed: importing ``models.py`` of an app
that is not in ``INSTALLED_APPS`` fails with Django's own error; this says
what to do instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...errors import PluginError


def audit_model(label: str, app: str) -> Any:
    """``AuditRecord``, or why the ``table`` sink cannot write the records of model ``label``."""
    from django.apps import apps

    if not apps.is_installed(app):
        raise _not_installed(label, app)
    from .models import AuditRecord

    return AuditRecord


def _not_installed(label: str, app: str) -> PluginError:
    return PluginError(
        f"audit records of {label} go to a table: add {app!r} to "
        "INSTALLED_APPS and run migrate (or use the audit plugin's 'log' or callable sink)"
    )


def write_audit_record(store: Any, model: type, record: Mapping[str, Any]) -> None:
    """A row of ``AuditRecord`` (app ``earnorm_aop.integrations.django``) in the model's DB.

    ``DjangoAuditStore.write_audit_record`` itself (a save's hot path: the check inline); the
    row is ``AuditRecord.of`` the record, as a bulk write's rows are.
    """
    from django.apps import apps
    from django.db import router

    label = model._meta.label  # type: ignore[attr-defined]
    if not apps.is_installed(APP):
        raise _not_installed(label, APP)
    from .models import AuditRecord

    AuditRecord.of(record, label).save(using=router.db_for_write(model), force_insert=True)


class DjangoAuditStore:
    """Audit records as rows of ``AuditRecord``, in the database the model writes to."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter

    write_audit_record = write_audit_record

    def write_audit_records(self, model: type, records: Sequence[Mapping[str, Any]]) -> list[Any]:
        """The records of one bulk write as rows of ``AuditRecord``: one ``bulk_create``."""
        from django.db import router

        label = model._meta.label  # type: ignore[attr-defined]
        audit, using = audit_model(label, APP), router.db_for_write(model)
        rows = [audit.of(record, label) for record in records]
        if len(rows) == 1:  # bulk_create would open a transaction of its own for one row
            rows[0].save(using=using, force_insert=True)
        else:
            audit.objects.using(using).bulk_create(rows)
        return []


APP = "earnorm_aop.integrations.django"
