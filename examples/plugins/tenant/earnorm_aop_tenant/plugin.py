"""The tenant plugin: row-level multi-tenancy from earnorm-aop's call context.

The tenant is the call context's ``tenant`` (``with context(tenant="acme"):``,
set per request by a middleware).  A model the plugin is woven onto gets a
``tenant_id`` field; then

- a create is stamped with the current tenant;
- every query sees only the tenant's rows: the default queryset is filtered,
  ``get`` of another tenant's row is not found, and bulk writes (which start
  from the default queryset) touch only the tenant's rows; where the ORM
  follows relations (Django), lookups through them are narrowed too
  (``visible_rows``, as softdelete does);
- a save or delete of another tenant's row is refused with :class:`TenantError`;
- outside any tenant, reads and writes are refused (:class:`NoTenantError`),
  unless inside ``with all_tenants():``, the escape hatch for admin work,
  where nothing is filtered or stamped.

The tenant lives in a context variable, so each thread and each asyncio task
sees its own (anchors: django-multitenant, SQLAlchemy's loader criteria).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from earnorm_aop import context as call_context
from earnorm_aop import hook
from earnorm_aop.integrations import FieldSpec, adapter_for

__all__ = ["NoTenantError", "TenantError", "TenantPlugin", "TenantRowNotFound", "all_tenants"]

_ALL = ContextVar("earnorm_aop_tenant_all", default=False)


@contextmanager
def all_tenants() -> Iterator[None]:
    """Inside the block (this thread / task only): every tenant's rows, nothing stamped."""
    token = _ALL.set(True)
    try:
        yield
    finally:
        _ALL.reset(token)


class TenantError(PermissionError):
    """A write to another tenant's row, or work outside any tenant."""


class NoTenantError(TenantError):
    """No tenant in the call context, and not inside ``all_tenants()``."""


class TenantRowNotFound(LookupError):
    """``get`` of a row of another tenant: for this tenant it does not exist."""


class TenantPlugin:
    """Row-level multi-tenancy: rows are stamped with, and filtered by, the context's tenant."""

    version = "0.1.0"
    requires: ClassVar[dict[str, str]] = {}
    config_version = 1
    priority = 100  # outermost: the other plugins see the tenant's rows only

    class Config(BaseModel):
        field: str = Field("tenant_id", description="The field holding a row's tenant.")
        context_key: str = Field(
            "tenant", description="The call context's value naming the tenant: context(tenant=...)."
        )

    config: Config  # the validated options, set by the registry

    def fields(self) -> list[FieldSpec]:
        return [FieldSpec(self.config.field, str | None, None, index=True)]

    def _tenant(self, model: type) -> Any:
        """The current tenant; ``None`` inside ``all_tenants()``; :class:`NoTenantError` if none."""
        if _ALL.get():
            return None
        tenant = call_context.current().extra.get(self.config.context_key)
        if tenant is None:
            raise NoTenantError(
                f"{model.__qualname__} is tenant-scoped, but the call context names no "
                f"{self.config.context_key!r}: work inside `with context("
                f"{self.config.context_key}=...)`, or `with all_tenants():` for admin work"
            )
        return tenant

    def _check_owner(self, instance: Any, model: type, tenant: Any, action: str) -> None:
        adapter = adapter_for(model)
        owner = adapter.get_field(instance, self.config.field)
        if owner not in (None, "") and owner != tenant:
            raise TenantError(
                f"{model.__qualname__} {adapter.pk(instance)!r} belongs to tenant {owner!r}; "
                f"tenant {tenant!r} cannot {action} it (admin work: `with all_tenants():`)"
            )

    def visible_rows(self, model: type) -> dict[str, Any]:
        """What lookups through relations may match: the tenant's rows (all in all_tenants())."""
        if _ALL.get():
            return {}
        tenant = call_context.current().extra.get(self.config.context_key)
        return {} if tenant is None else {self.config.field: tenant}

    def before_save(self, instance: Any, model: type) -> None:
        """Stamp a new row with the tenant; refuse to save another tenant's row."""
        tenant = self._tenant(model)
        if tenant is None:
            return
        self._check_owner(instance, model, tenant, "save")
        adapter_for(model).set_field(instance, self.config.field, tenant)

    @hook("before:save_many", optional=True)
    def stamp_many(self, instance: Any, model: type) -> None:
        """Stamp every row of a bulk insert with the tenant."""
        tenant = self._tenant(model)
        if tenant is None:
            return
        for obj in instance:
            if isinstance(obj, model):
                self._check_owner(obj, model, tenant, "save")
                adapter_for(model).set_field(obj, self.config.field, tenant)

    def before_delete(self, instance: Any, model: type) -> None:
        """Refuse to delete another tenant's row."""
        tenant = self._tenant(model)
        if tenant is not None:
            self._check_owner(instance, model, tenant, "delete")

    @hook("chain:get_queryset", optional=True)
    def only_tenant_rows(self, queryset: Any, model: type) -> Any:
        """The default queryset narrowed to the tenant's rows (so are bulk writes on it)."""
        tenant = self._tenant(model)
        if tenant is None:
            return queryset
        return adapter_for(model).filter(queryset, **{self.config.field: tenant})

    @hook("chain:get", optional=True)
    def only_tenant_row(self, row: Any, model: type) -> Any:
        """``get`` of another tenant's row is not found (a plain class's get reads no queryset)."""
        tenant = self._tenant(model)
        if tenant is None or not isinstance(row, model):
            return row
        adapter = adapter_for(model)
        if adapter.get_field(row, self.config.field) != tenant:
            raise TenantRowNotFound(f"{model.__qualname__} {adapter.pk(row)!r}")
        return row
