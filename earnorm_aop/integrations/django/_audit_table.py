"""The model of the audit ``table`` sink, asked for only once the app is known installed.

Importing ``models.py`` of an app that is not in ``INSTALLED_APPS`` fails with
Django's own error; this says what to do instead.
"""

from __future__ import annotations

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
