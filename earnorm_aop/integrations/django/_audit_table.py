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
        raise PluginError(
            f"audit records of {label} go to a table: add {app!r} to "
            "INSTALLED_APPS and run migrate (or use the audit plugin's 'log' or callable sink)"
        )
    from .models import AuditRecord

    return AuditRecord


def write_audit_record(store: Any, model: type, record: Mapping[str, Any]) -> None:
    """A row of ``AuditRecord`` (app ``earnorm_aop.integrations.django``) in the model's DB.

    ``DjangoAuditStore.write_audit_record`` itself (a save's hot path: no helper call).
    """
    from django.apps import apps
    from django.db import router

    label = model._meta.label  # type: ignore[attr-defined]
    if not apps.is_installed(APP):
        raise PluginError(
            f"audit records of {label} go to a table: add {APP!r} to "
            "INSTALLED_APPS and run migrate (or use the audit plugin's 'log' or callable sink)"
        )
    from .models import AuditRecord

    pk = record.get("id")
    AuditRecord.objects.using(router.db_for_write(model)).create(
        model=record.get("model") or label,
        object_id="" if pk is None else str(pk),
        action=record.get("action", ""),
        changes=record.get("changes") or {},
        actor=record.get("actor"),
        time=record["time"],
        request_id=record.get("request_id"),
        client=record.get("client"),
        reason=record.get("reason"),
    )


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
