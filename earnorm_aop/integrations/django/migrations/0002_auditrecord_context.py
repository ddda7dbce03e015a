# The call context of each audited write: request id, client address, reason (issue 17).
from typing import Any

from django.db import migrations, models


class Migration(migrations.Migration):  # type: ignore[misc]
    dependencies: list[tuple[str, str]] = [("earnorm_aop", "0001_initial")]  # noqa: RUF012

    operations: list[Any] = [  # noqa: RUF012
        migrations.AddField(
            model_name="auditrecord",
            name="request_id",
            field=models.CharField(blank=True, db_index=True, max_length=200, null=True),
        ),
        migrations.AddField(
            model_name="auditrecord",
            name="client",
            field=models.CharField(blank=True, max_length=200, null=True),
        ),
        migrations.AddField(
            model_name="auditrecord",
            name="reason",
            field=models.CharField(blank=True, max_length=500, null=True),
        ),
    ]
