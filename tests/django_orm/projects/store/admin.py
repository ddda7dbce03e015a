from django.contrib import admin

from .models import Product


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "price", "created_at")
    readonly_fields = ("created_at", "updated_at")  # plugin fields: not editable
