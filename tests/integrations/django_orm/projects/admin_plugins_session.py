"""Drive the admin pages of ``store.Note`` (softdelete + audit) with Django's test client.

Run by ``test_django_admin_plugins.py`` in its own interpreter (the settings
of ``admin_settings.py``, an in-memory database): migrate, log users in, then
list, filter, restore, delete permanently and read the history of notes.
Prints what it saw as JSON.  A request that fails answers 500 here
(``raise_request_exception=False``), as a real server would.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import django

django.setup()

from django.contrib import admin  # noqa: E402
from django.contrib.auth.models import Permission, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from store.models import Note, Product  # noqa: E402

from earnorm_aop import context as call_context  # noqa: E402
from earnorm_aop.integrations.django.admin import (  # noqa: E402
    AuditHistoryAdmin,
    PluginAdmin,
    SoftDeleteAdmin,
)
from earnorm_aop.integrations.django.models import AuditRecord  # noqa: E402

LIST = "/admin/store/note/"


def listing(client: Client, query: str = "") -> dict[str, Any]:
    response = client.get(LIST + query)
    context = response.context
    cl = context["cl"] if context and "cl" in context else None
    html = response.content.decode()
    return {
        "status": response.status_code,
        "titles": sorted(str(n) for n in cl.result_list) if cl is not None else None,
        "columns": list(cl.list_display) if cl is not None else None,
        "filters": [
            [c["display"] for c in spec.choices(cl)] for spec in (cl.filter_specs if cl else [])
        ],
        "actions": [name for name, _ in context["action_form"].fields["action"].choices if name]
        if context and context.get("action_form")
        else [],
        "marked": html.count('class="earnorm-deleted"'),
    }


def act(client: Client, query: str, action: str, notes: list[Note], **extra: str) -> Any:
    data = {"action": action, "index": "0", "_selected_action": [str(n.pk) for n in notes]}
    data.update(extra)
    return client.post(LIST + query, data)


def history(client: Client, note: Note, query: str = "") -> dict[str, Any]:
    response = client.get(f"{LIST}{note.pk}/history/{query}")
    records = (response.context or {}).get("records") if response.status_code == 200 else None
    return {
        "status": response.status_code,
        "records": [
            {
                "actor": r["actor"],
                "action": r["action"],
                "changes": {c["field"]: [c["old"], c["new"]] for c in r["changes"]},
                "request": [r["request_id"], r["client"], r["reason"]],
            }
            for r in records or []
        ],
        "html_has_table": 'id="audit-records"' in response.content.decode(),
        "html_shows_request": 'class="audit-request-id"><code>req-42</code>'
        in response.content.decode(),
    }


def main() -> None:
    setup_test_environment()  # response.context, and "testserver" allowed
    call_command("migrate", verbosity=0)
    out: dict[str, Any] = {}
    with call_context(actor="alice"):
        alpha = Note.objects.create(title="Alpha")
        beta = Note.objects.create(title="Beta")
        gamma = Note.objects.create(title="Gamma")
        delta = Note.objects.create(title="Delta")
    with call_context(actor="bob", request_id="req-42", reason="typo", client="10.1.2.3"):
        alpha.title = "Alpha v2"
        alpha.save()
        beta.delete()  # soft
        delta.delete()

    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "pw"))
    out["default"] = listing(client)
    out["deleted_only"] = listing(client, "?deleted=yes")
    out["all"] = listing(client, "?deleted=all")

    response = act(client, "?deleted=yes", "restore_selected", [beta])
    beta_row = Note.with_deleted().get(pk=beta.pk)
    out["restore"] = {
        "status": response.status_code,
        "deleted_at_after": beta_row.deleted_at is not None,
        "audit_actions": list(
            AuditRecord.objects.filter(object_id=str(beta.pk)).values_list("action", flat=True)
        ),
    }
    out["deleted_after_restore"] = listing(client, "?deleted=yes")

    gamma.delete()
    confirm = act(client, "?deleted=yes", "hard_delete_selected", [gamma])
    out["hard_delete_confirm"] = {
        "status": confirm.status_code,
        "still_there": Note.with_deleted().filter(pk=gamma.pk).exists(),
        "lists_gamma": "<li>Gamma</li>" in confirm.content.decode(),
    }
    done = act(client, "?deleted=yes", "hard_delete_selected", [gamma], post="yes")
    out["hard_delete"] = {
        "status": done.status_code,
        "still_there": Note.with_deleted().filter(pk=gamma.pk).exists(),
        "audit_actions": list(
            AuditRecord.objects.filter(object_id=str(gamma.pk)).values_list("action", flat=True)
        ),
    }

    out["history_alpha"] = history(client, alpha)
    kept = "?_changelist_filters=" + quote("deleted=yes")
    out["history_deleted_kept_filter"] = history(client, delta, kept)
    out["history_deleted_no_filter"] = history(client, delta)
    change = client.get(f"{LIST}{delta.pk}/change/{kept}")
    out["change_deleted_kept_filter"] = change.status_code
    out["change_deleted_warns"] = "This note was deleted on" in change.content.decode()
    out["change_live_warns"] = "was deleted on" in (
        client.get(f"{LIST}{alpha.pk}/change/").content.decode()
    )

    # A staff user who may view and change notes, but not delete them.
    clerk = User.objects.create_user("clerk", "clerk@example.org", "pw", is_staff=True)
    clerk.user_permissions.set(
        Permission.objects.filter(
            content_type__app_label="store", codename__in=["view_note", "change_note"]
        )
    )
    clerk_client = Client(raise_request_exception=False)
    clerk_client.force_login(clerk)
    out["clerk_deleted"] = listing(clerk_client, "?deleted=yes")
    out["clerk_hard_delete"] = act(
        clerk_client, "?deleted=yes", "hard_delete_selected", [delta], post="yes"
    ).status_code
    out["delta_after_clerk"] = Note.with_deleted().filter(pk=delta.pk).exists()

    records = client.get("/admin/earnorm_aop/auditrecord/?action__exact=soft_delete")
    out["audit_table"] = {
        "status": records.status_code,
        "rows": len(records.context["cl"].result_list) if records.status_code == 200 else None,
        "add": client.get("/admin/earnorm_aop/auditrecord/add/").status_code,
        "total": AuditRecord.objects.count(),
    }
    out["checks"] = {
        "note_plugin_admin": [e.id for e in admin.site._registry[Note].check()],
        "product_softdelete_admin": [e.id for e in SoftDeleteAdmin(Product, admin.site).check()],
        "product_audit_admin": [e.id for e in AuditHistoryAdmin(Product, admin.site).check()],
        "product_plugin_admin": [e.id for e in PluginAdmin(Product, admin.site).check()],
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
