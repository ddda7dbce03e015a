"""The validation plugin's rules in Django's ``full_clean()``: ModelForms show them as errors.

The admin, on a real admin site, is checked in a subprocess by
``test_django_admin.py``; here a ``ModelForm`` and ``full_clean()`` in this process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models
from django.test.utils import isolate_apps
from djangoapp.models import Story

from earnorm_aop import unweave
from earnorm_aop.plugins.validation import ValidationFailed
from earnorm_aop.weaving import weaver

RULES = {
    "title": {"min_length": 3},
    "price": {"ge": 1},
    "code": {"pattern": "^[A-Z]*$"},
    "maker_id": {"required": True},
}


@pytest.fixture
def product(create_tables: Callable[..., None]) -> Iterator[Any]:
    """A model with validation rules (and its own ``is_valid``), on a real table."""
    with isolate_apps("djangoapp"):

        class Maker(models.Model):
            name = models.CharField(max_length=20)

            class Meta:
                app_label = "djangoapp"

        class Product(models.Model):
            title = models.CharField(max_length=20)
            price = models.IntegerField(default=0)
            code = models.CharField(max_length=10, blank=True)
            maker = models.ForeignKey(Maker, null=True, blank=True, on_delete=models.CASCADE)

            plugins = {"validation": {"fields": RULES}, "timestamp": {}}  # noqa: RUF012

            class Meta:
                app_label = "djangoapp"

            def is_valid(self) -> Any:
                return self.title != "forbidden" or {"__all__": "this title is reserved"}

        create_tables(Maker, Product)
        yield Product
    for model in (Product, Maker):
        if model in weaver.woven_classes():
            unweave(model)


def form_for(model: Any, **options: Any) -> type[forms.ModelForm]:  # type: ignore[type-arg]
    meta = type("Meta", (), {"model": model, "fields": "__all__", **options})
    return type("ProductForm", (forms.ModelForm,), {"Meta": meta})


def valid_data(product: Any) -> dict[str, Any]:
    maker = product._meta.get_field("maker").related_model.objects.create(name="m")
    return {"title": "Lamp", "price": "5", "code": "AB", "maker": str(maker.pk)}


def test_a_model_form_shows_each_rule_as_a_field_error(product: Any) -> None:
    data = {**valid_data(product), "title": "ab", "price": "0", "code": "ab", "maker": ""}
    form = form_for(product)(data=data)
    assert not form.is_valid()
    assert form.errors == {
        "title": ["must have at least 3 characters/items"],
        "price": ["must be greater than or equal to 1"],
        "code": ["must match '^[A-Z]*$'"],
        "maker": ["is required"],  # the rule names the attname maker_id: the field is maker
    }
    assert product.objects.count() == 0


def test_a_valid_form_saves_and_the_plugin_fields_are_not_in_it(product: Any) -> None:
    form = form_for(product)(data=valid_data(product))
    assert form.is_valid(), form.errors
    assert sorted(form.fields) == ["code", "maker", "price", "title"]
    saved = form.save()
    assert saved.pk is not None and saved.created_at is not None


def test_djangos_own_error_on_a_field_comes_alone(product: Any) -> None:
    form = form_for(product)(data={**valid_data(product), "price": "many"})
    assert not form.is_valid()
    assert form.errors == {"price": ["Enter a whole number."]}


def test_is_valid_answers_are_non_field_errors(product: Any) -> None:
    form = form_for(product)(data={**valid_data(product), "title": "forbidden"})
    assert not form.is_valid()
    assert form.errors == {NON_FIELD_ERRORS: ["this title is reserved"]}
    assert form.non_field_errors() == ["this title is reserved"]


def test_a_field_the_form_leaves_out_is_left_to_the_save(product: Any) -> None:
    """As Django does for its own rules: excluded fields are not validated by the form."""
    form = form_for(product, fields=["title", "maker"])(
        data={"title": "Lamp", "maker": valid_data(product)["maker"]}
    )
    assert form.is_valid(), form.errors  # price=0 breaks a rule, but the form has no price
    with pytest.raises(ValidationFailed, match="price"):
        form.save()
    assert product.objects.count() == 0


def test_full_clean_and_clean_fields_raise_djangos_validation_error(product: Any) -> None:
    item = product(title="ab", price=5, code="AB")
    with pytest.raises(ValidationError) as info:
        item.full_clean()
    assert info.value.message_dict == {
        "title": ["must have at least 3 characters/items"],
        "maker": ["is required"],
    }
    with pytest.raises(ValidationError) as info:
        item.clean_fields(exclude=["maker"])
    assert info.value.message_dict == {"title": ["must have at least 3 characters/items"]}
    item.clean_fields(exclude=["title", "maker"])  # nothing left to complain about


def test_native_validation_runs_full_clean_once_without_recursion() -> None:
    """Story has ``native: True``: the save-time check calls full_clean, which reports the rule."""
    story = Story(title="a")
    with pytest.raises(ValidationError) as info:
        story.full_clean()
    assert info.value.message_dict == {"title": ["must have at least 2 characters/items"]}
    with pytest.raises(ValidationFailed) as failed:
        story.save()
    assert failed.value.errors == {"title": ["must have at least 2 characters/items"]}
