from django.contrib import admin

from earnorm_aop.integrations.django.admin import AuditRecordAdmin, PluginAdmin
from earnorm_aop.integrations.django.models import AuditRecord

from .models import Note, Product

admin.site.register(AuditRecord, AuditRecordAdmin)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "price", "created_at")
    readonly_fields = ("created_at", "updated_at")  # plugin fields: not editable


@admin.register(Note)
class NoteAdmin(PluginAdmin):
    list_display = ("title", "updated_at")
    readonly_fields = ("created_at", "updated_at", "deleted_at")
