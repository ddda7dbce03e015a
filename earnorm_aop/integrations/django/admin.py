"""Django admin support for the built-in plugins: soft-deleted rows and audit history.

Reusable pieces for a project's ``admin.py``:

- [`SoftDeleteAdminMixin`][earnorm_aop.integrations.django.admin.SoftDeleteAdminMixin] (for models
  woven with ``softdelete``): a "deleted" list filter (not deleted / deleted / all); deleted rows
  are shown, marked in a "deleted" column, only when the filter asks for them (the filter
  is kept on the change and history pages reached from that list); a
  "restore" action (change permission) and a "delete permanently" action
  (delete permission, after a confirmation page).  Restoring and hard deleting
  go row by row through ``restore()`` / ``hard_delete()``, so the other
  plugins (audit, cache, timestamp) see them as they see any write.
- [`AuditHistoryAdminMixin`][earnorm_aop.integrations.django.admin.AuditHistoryAdminMixin] (for
  models woven with ``audit`` and its ``table`` sink): the change form's "History" page lists the
  row's audit records, newest first: when, who, what, and each changed field's old and
  new value.
- [`SoftDeleteAdmin`][earnorm_aop.integrations.django.admin.SoftDeleteAdmin],
  [`AuditHistoryAdmin`][earnorm_aop.integrations.django.admin.AuditHistoryAdmin]: each mixin on
  ``ModelAdmin``; [`PluginAdmin`][earnorm_aop.integrations.django.admin.PluginAdmin]: both, each
  used when the model weaves its plugin;
  [`AuditRecordAdmin`][earnorm_aop.integrations.django.admin.AuditRecordAdmin]: a read-only admin
  for the audit table.

A mixin put on a model without its plugin is reported by Django's system
checks (``earnorm_aop.E101`` / ``E102``), as a misconfigured admin is.
The plugins' options are read from what the woven plugins declare (the field
softdelete hides rows by, ``hidden_while_set``; audit's sink, ``history_sink``),
so a renamed field needs no admin setting.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.core import checks
from django.core.exceptions import PermissionDenied
from django.db import router
from django.http import HttpRequest, HttpResponse, QueryDict
from django.template.response import TemplateResponse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timezone import is_aware, localtime

from ...adapters.visibility import including_hidden
from ...weaving import weaver

__all__ = [
    "AuditHistoryAdmin",
    "AuditHistoryAdminMixin",
    "AuditRecordAdmin",
    "DeletedFilter",
    "PluginAdmin",
    "SoftDeleteAdmin",
    "SoftDeleteAdminMixin",
]

# The value of the "deleted" filter's query parameter that shows only deleted
# rows, and the one that shows every row; absent, the default queryset (no
# deleted rows) is shown.
DELETED_ONLY = "yes"
DELETED_TOO = "all"


def _declared(model: type, attribute: str) -> Any:
    """``attribute`` of the first plugin in force on ``model`` that has it, or None.

    The admin knows a plugin by what it declares, never by its name: the
    field rows are hidden by (``hidden_while_set``: softdelete's
    ``deleted_at``), the sink audit records go to (``history_sink``).
    """
    for aspect in weaver.effective_aspects(model):
        if aspect.switch.enabled:
            found = getattr(aspect.plugin, attribute, None)
            if isinstance(found, str):
                return found
    return None


class DeletedFilter(admin.SimpleListFilter):  # type: ignore[misc]
    """Not deleted (the default) / deleted only / all rows of a soft-deleted model."""

    title = "deletion"  # the sidebar says "By deletion"
    parameter_name = "deleted"

    def __init__(self, request: HttpRequest, params: Any, model: type, model_admin: Any) -> None:
        super().__init__(request, params, model, model_admin)
        self.field: str | None = _declared(model, "hidden_while_set")

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(DELETED_ONLY, "Deleted only"), (DELETED_TOO, "All, deleted included")]

    def choices(self, changelist: Any) -> Any:
        # Django lists "All" first and selects it when the parameter is absent;
        # absent here means the default queryset, without deleted rows.
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Not deleted",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        # get_queryset already widened the queryset when the filter asks for
        # deleted rows; "deleted only" narrows it to them.
        if self.value() == DELETED_ONLY and self.field is not None:
            return queryset.filter(**{f"{self.field}__isnull": False})
        return queryset


class SoftDeleteAdminMixin:
    """The deleted-rows filter, marker and actions for a ``softdelete`` model (module doc)."""

    # Whether a model without the plugin is a configuration error (system check).
    require_softdelete = True
    hard_delete_template: str | None = None

    model: type
    admin_site: Any

    # -- what the plugin says ------------------------------------------------------

    def soft_delete_field(self) -> str | None:
        """The model's ``deleted_at`` field, or None when ``softdelete`` is not woven on it."""
        found: str | None = _declared(self.model, "hidden_while_set")
        return found

    def shows_deleted(self, request: HttpRequest) -> bool:
        """Whether the "deleted" filter (here, or kept from the list) asks for deleted rows."""
        if self.soft_delete_field() is None:
            return False
        wanted = (DELETED_ONLY, DELETED_TOO)
        if request.GET.get(DeletedFilter.parameter_name) in wanted:
            return True
        kept = QueryDict(request.GET.get("_changelist_filters", ""))
        return kept.get(DeletedFilter.parameter_name) in wanted

    # -- the list ---------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> Any:
        if self.shows_deleted(request):
            with including_hidden():
                return super().get_queryset(request)  # type: ignore[misc]
        return super().get_queryset(request)  # type: ignore[misc]

    def get_list_filter(self, request: HttpRequest) -> Any:
        filters = list(super().get_list_filter(request))  # type: ignore[misc]
        if self.soft_delete_field() is not None and DeletedFilter not in filters:
            filters.append(DeletedFilter)
        return filters

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = list(super().get_list_display(request))  # type: ignore[misc]
        if self.shows_deleted(request) and "deleted_marker" not in shown:
            shown.append("deleted_marker")
        return shown

    def deleted_marker(self, obj: Any) -> str:
        """The "deleted" column: when the row was deleted, or a dash."""
        field = self.soft_delete_field()
        when = None if field is None else getattr(obj, field)
        if when is None:
            return "-"
        return str(
            format_html(
                '<span class="earnorm-deleted" title="soft-deleted">Deleted {}</span>',
                self._when(when),
            )
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> Any:
        """The change form of a deleted row (opened from the filtered list) says it is deleted."""
        field = self.soft_delete_field()
        when = None if obj is None or field is None else getattr(obj, field)
        if when is not None and request.method == "GET":
            self.message_user(  # type: ignore[attr-defined]
                request,
                f"This {self.model._meta.verbose_name} was deleted on "  # type: ignore[attr-defined]
                f"{self._when(when)}; restore it from the list's actions.",
                messages.WARNING,
            )
        return super().render_change_form(  # type: ignore[misc]
            request, context, add=add, change=change, form_url=form_url, obj=obj
        )

    @staticmethod
    def _when(value: Any) -> str:
        if is_aware(value):
            value = localtime(value)
        return str(date_format(value, "DATETIME_FORMAT"))

    # -- actions -----------------------------------------------------------------------

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)  # type: ignore[misc]
        if (
            self.soft_delete_field() is None
            or getattr(self, "actions", ()) is None
            or IS_POPUP_VAR in request.GET
        ):
            return actions
        wanted = []
        if self.shows_deleted(request) and self.has_change_permission(request):  # type: ignore[attr-defined]
            wanted.append("restore_selected")
        if self.has_delete_permission(request):  # type: ignore[attr-defined]
            wanted.append("hard_delete_selected")
        for name in wanted:
            func: Any = getattr(type(self), name)
            actions[name] = (func, name, func.short_description)
        return actions

    def restore_selected(self, request: HttpRequest, queryset: Any) -> None:
        """Undo the soft delete of the selected rows, one ``restore()`` each."""
        field = self.soft_delete_field()
        restored = 0
        for obj in queryset:
            if getattr(obj, str(field)) is not None:
                obj.restore()
                restored += 1
        self.message_user(  # type: ignore[attr-defined]
            request, f"Restored {restored} of {len(queryset)} selected row(s).", messages.SUCCESS
        )

    def hard_delete_selected(self, request: HttpRequest, queryset: Any) -> HttpResponse | None:
        """Delete the selected rows for real (``hard_delete()``), after a confirmation page."""
        if not self.has_delete_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        if request.POST.get("post") == "yes":
            count = 0
            for obj in queryset:
                obj.hard_delete()
                count += 1
            self.message_user(  # type: ignore[attr-defined]
                request, f"Permanently deleted {count} row(s).", messages.SUCCESS
            )
            return None
        opts = self.model._meta  # type: ignore[attr-defined]
        context = {
            **self.admin_site.each_context(request),
            "title": "Delete permanently?",
            "subtitle": None,
            "opts": opts,
            "objects": list(queryset),
            "queryset": queryset,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,  # type: ignore[attr-defined]
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            self.hard_delete_template or "earnorm_aop/admin/hard_delete_confirmation.html",
            context,
        )

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors: list[checks.CheckMessage] = super().check(**kwargs)  # type: ignore[misc]
        if self.require_softdelete and self.soft_delete_field() is None:
            name = self.model._meta.label  # type: ignore[attr-defined]
            errors.append(
                checks.Error(
                    f"{type(self).__qualname__} shows soft-deleted rows, but {name} is not "
                    "woven with the 'softdelete' plugin.",
                    hint=f"Add 'softdelete' to {name}'s plugins, or use PluginAdmin, which "
                    "only adds what the model's plugins support.",
                    obj=type(self),
                    id="earnorm_aop.E101",
                )
            )
        return errors


# What admin.display / admin.action would set (they are untyped for mypy).
SoftDeleteAdminMixin.deleted_marker.short_description = "deleted"  # type: ignore[attr-defined]
SoftDeleteAdminMixin.restore_selected.short_description = (  # type: ignore[attr-defined]
    "Restore selected %(verbose_name_plural)s"
)
SoftDeleteAdminMixin.hard_delete_selected.short_description = (  # type: ignore[attr-defined]
    "Delete selected %(verbose_name_plural)s permanently"
)


def _changes(changes: Any) -> list[dict[str, Any]]:
    """An audit record's ``changes`` (field -> [old, new]) as rows for the template."""
    out = []
    for field, pair in (changes or {}).items():
        old, new = [*pair, None, None][:2] if isinstance(pair, list) else (None, pair)
        out.append({"field": field, "old": old, "new": new})
    return out


class AuditHistoryAdminMixin:
    """The "History" page of an ``audit`` model lists its audit records (module doc)."""

    require_audit = True
    audit_history_template: str | None = None

    model: type
    admin_site: Any

    def audit_sink(self) -> str | None:
        """The audit plugin's sink on this model (``"table"`` keeps a history), or None."""
        found: str | None = _declared(self.model, "history_sink")
        return found

    def audit_records(self, obj: Any) -> Any:
        """The audit records of ``obj``, newest first (a queryset of ``AuditRecord``)."""
        from .adapter import adapter
        from .models import AuditRecord

        return (
            AuditRecord.objects.using(router.db_for_read(self.model))
            .filter(model=adapter.model_label(self.model), object_id=str(obj.pk))
            .order_by("-time", "-id")
        )

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        sink = self.audit_sink()
        if sink is None:
            return super().history_view(request, object_id, extra_context)  # type: ignore[misc]
        opts = self.model._meta  # type: ignore[attr-defined]
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, opts, object_id)  # type: ignore[attr-defined]
        if not self.has_view_or_change_permission(request, obj):  # type: ignore[attr-defined]
            raise PermissionDenied
        records = (
            [
                {
                    "time": r.time,
                    "actor": r.actor,
                    "action": r.action,
                    "changes": _changes(r.changes),
                    "request_id": r.request_id,
                    "client": r.client,
                    "reason": r.reason,
                }
                for r in self.audit_records(obj)
            ]
            if sink == "table"
            else []
        )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Audit history: {obj}",
            "subtitle": None,
            "object": obj,
            "opts": opts,
            "module_name": str(opts.verbose_name_plural).capitalize(),
            "records": records,
            "sink": sink,
            "preserved_filters": self.get_preserved_filters(request),  # type: ignore[attr-defined]
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            self.audit_history_template or "earnorm_aop/admin/audit_history.html",
            context,
        )

    def check(self, **kwargs: Any) -> list[checks.CheckMessage]:
        errors: list[checks.CheckMessage] = super().check(**kwargs)  # type: ignore[misc]
        if not self.require_audit:
            return errors
        name = self.model._meta.label  # type: ignore[attr-defined]
        sink = self.audit_sink()
        if sink is None:
            errors.append(
                checks.Error(
                    f"{type(self).__qualname__} shows audit history, but {name} is not woven "
                    "with the 'audit' plugin.",
                    hint=f"Add 'audit' (with sink='table') to {name}'s plugins, or use "
                    "PluginAdmin.",
                    obj=type(self),
                    id="earnorm_aop.E102",
                )
            )
        elif sink != "table":
            errors.append(
                checks.Warning(
                    f"{name}'s audit records go to the {sink!r} sink, not a table, so its "
                    "admin history page has none to show.",
                    hint="Configure the audit plugin with sink='table' on this model.",
                    obj=type(self),
                    id="earnorm_aop.W103",
                )
            )
        return errors


class SoftDeleteAdmin(SoftDeleteAdminMixin, admin.ModelAdmin):  # type: ignore[misc]
    """``ModelAdmin`` for a ``softdelete`` model."""


class AuditHistoryAdmin(AuditHistoryAdminMixin, admin.ModelAdmin):  # type: ignore[misc]
    """``ModelAdmin`` for an ``audit`` model."""


class PluginAdmin(SoftDeleteAdminMixin, AuditHistoryAdminMixin, admin.ModelAdmin):  # type: ignore[misc]
    """``ModelAdmin`` with what the model's plugins support: soft-deleted rows, audit history."""

    require_softdelete = False
    require_audit = False


class AuditRecordAdmin(admin.ModelAdmin):  # type: ignore[misc]
    """The audit table, read-only: ``admin.site.register(AuditRecord, AuditRecordAdmin)``."""

    list_display = ("time", "model", "object_id", "action", "actor", "request_id", "client")
    list_filter = ("action", "model")
    search_fields = ("object_id", "actor", "request_id", "client")
    date_hierarchy = "time"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
