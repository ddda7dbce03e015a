"""The tenant plugin for earnorm-aop: row-level multi-tenancy from the call context."""

from .plugin import NoTenantError, TenantError, TenantPlugin, TenantRowNotFound, all_tenants

__all__ = ["NoTenantError", "TenantError", "TenantPlugin", "TenantRowNotFound", "all_tenants"]
