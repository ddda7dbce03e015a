"""``instance`` on Django: the record ``objects.get`` produced, the collection of bulk writes.

The operations are woven on a private manager and QuerySet (see
``integrations/django/managers.py``); advice still gets the operation's
subject as ``instance``, and the object called as ``joinpoint.target``.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.test.utils import isolate_apps

from earnorm_aop import JoinPoint, PluginRegistry, hook, plugin, with_plugins

seen: list[tuple[str, Any, Any]] = []
registry = PluginRegistry(group=None)


@plugin("subjects", registry=registry)
class Subjects:
    def _see(self, op: str, instance: Any, joinpoint: JoinPoint) -> None:
        seen.append((op, instance, joinpoint.target))

    @hook("before:get")
    def before_get(self, instance: Any, joinpoint: JoinPoint) -> None:
        self._see("before:get", instance, joinpoint)

    @hook("after:get")
    def after_get(self, instance: Any, joinpoint: JoinPoint) -> None:
        self._see("after:get", instance, joinpoint)

    @hook("after:get_queryset")
    def after_get_queryset(self, instance: Any, joinpoint: JoinPoint) -> None:
        self._see("after:get_queryset", instance, joinpoint)

    @hook("before:save")
    def before_save(self, instance: Any, joinpoint: JoinPoint) -> None:
        self._see("before:save", instance, joinpoint)

    @hook("before:save_many")
    def before_save_many(self, instance: Any, joinpoint: JoinPoint) -> None:
        self._see("before:save_many", instance, joinpoint)

    @hook("before:update_many|delete_many")
    def before_bulk(self, instance: Any, joinpoint: JoinPoint, method: str) -> None:
        self._see(f"before:{method}", instance, joinpoint)


def test_subjects_of_the_django_operations(dispatch: str, create_tables: Any) -> None:
    with isolate_apps("djangoapp"):

        @with_plugins("subjects", registry=registry)
        class Memo(models.Model):
            text = models.CharField(max_length=10)

            class Meta:
                app_label = "djangoapp"

    create_tables(Memo)
    seen.clear()
    memo = Memo(text="a")
    memo.save()
    got = Memo.objects.get(pk=memo.pk)
    objs = [Memo(text="b")]
    Memo.objects.bulk_create(objs)
    queryset = Memo.objects.filter(text="b")
    queryset.update(text="c")
    by_op = {op: (instance, target) for op, instance, target in seen}

    assert by_op["before:save"] == (memo, memo)
    manager = by_op["before:get"][0]
    assert isinstance(manager, models.Manager) and by_op["before:get"][1] is manager
    # the page's after_get(self, instance): instance is the record fetched
    assert by_op["after:get"][0] is got and got.pk == memo.pk
    assert by_op["after:get"][1] is manager
    produced, called = by_op["after:get_queryset"]
    assert isinstance(produced, models.QuerySet) and called is manager
    assert by_op["before:save_many"][0] is objs
    assert isinstance(by_op["before:save_many"][1], models.QuerySet)
    # QuerySet.update is the queryset's own method: the collection is the object called
    bulk, target = by_op["before:update"]
    assert bulk is target and isinstance(bulk, models.QuerySet)
    assert bulk.model is Memo
    assert list(Memo.objects.order_by("text").values_list("text", flat=True)) == ["a", "c"]
