"""The table the ``audit`` plugin writes to with its ``table`` sink."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models


class AuditEncoder(DjangoJSONEncoder):  # type: ignore[misc]
    """Django's encoder (datetimes, decimals, UUIDs), and ``str()`` for anything else."""

    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            return str(o)


class AuditRecord(models.Model):  # type: ignore[misc]
    """One audited write: which row of which model, what changed, by whom, when."""

    model = models.CharField(max_length=200, db_index=True)
    object_id = models.CharField(max_length=64, db_index=True, blank=True)
    action = models.CharField(max_length=32)
    changes = models.JSONField(default=dict, encoder=AuditEncoder)
    actor = models.CharField(max_length=200, null=True, blank=True)
    time = models.DateTimeField(db_index=True)
    # Of the call context (earnorm_aop.context; Django: ContextMiddleware).
    request_id = models.CharField(max_length=200, null=True, blank=True, db_index=True)
    client = models.CharField(max_length=200, null=True, blank=True)
    reason = models.CharField(max_length=500, null=True, blank=True)

    class Meta:
        app_label = "earnorm_aop"
        ordering = ("time", "id")

    @classmethod
    def of(cls, record: Mapping[str, Any], label: str) -> AuditRecord:
        """An unsaved row holding ``record`` (the audit plugin's dictionary) of model ``label``."""
        pk = record.get("id")
        return cls(
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

    def __str__(self) -> str:
        return f"{self.action} {self.model}#{self.object_id} by {self.actor or '-'}"
