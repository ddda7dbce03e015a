"""The adapter protocol: how a model's ORM maps logical operations onto methods.

An [`Adapter`][earnorm_aop.adapters.base.Adapter] names the methods that implement ``save``,
``delete``, ``get_queryset``, ... on one kind of model, reads and writes its fields, keeps
what a record looked like when it was loaded (change tracking), and says when
its transactions commit.  This layer sits between the engine (`weaving/`) and
the plugin layer (`plugin_system/`): it knows no plugin and no particular ORM;
each ORM's adapter lives in `earnorm_aop.integrations`.
"""

from .base import OPERATIONS, Adapter, FieldSpec, adapter_for, register_adapter

__all__ = ["OPERATIONS", "Adapter", "FieldSpec", "adapter_for", "register_adapter"]
