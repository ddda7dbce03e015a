"""The ``validation`` built-in: every invalid field listed, nothing written."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from earnorm_aop import PluginConfigError, PluginError, registry
from earnorm_aop.plugins.validation import FieldRule, ValidationFailed

RULES = {
    "title": {"required": True, "max_length": 5, "pattern": "^[a-z]+$"},
    "views": {"ge": 0, "lt": 100},
}


class ArticleSchema(pydantic.BaseModel):
    """A schema for ``schema_model`` (also reachable by dotted path)."""

    title: str = pydantic.Field(min_length=2)
    views: int = pydantic.Field(ge=0)


def writes(queries: list[str]) -> list[str]:
    return [q for q in queries if not q.startswith("SELECT")]


def test_every_invalid_field_is_listed_and_nothing_written(backend: Any) -> None:
    Article = backend.model("validation", validation={"fields": RULES})
    with backend.queries() as queries, pytest.raises(ValidationFailed) as info:
        backend.create(Article, title="", views=-1)
    assert writes(queries) == []
    assert backend.rows(Article) == {}
    assert info.value.errors == {
        "title": ["is required"],
        "views": ["must be greater than or equal to 0"],
    }
    assert "title: is required" in str(info.value)
    assert "views: must be greater than or equal to 0" in str(info.value)
    assert "2 invalid fields" in str(info.value)


def test_a_field_with_several_problems_lists_them_all(backend: Any) -> None:
    Article = backend.model("validation", validation={"fields": RULES})
    with pytest.raises(ValidationFailed) as info:
        backend.create(Article, title="TOO LONG", views=500)
    assert info.value.errors["title"] == [
        "must have at most 5 characters/items",
        "must match '^[a-z]+$'",
    ]
    assert info.value.errors["views"] == ["must be less than 100"]


def test_valid_data_is_written(backend: Any) -> None:
    Article = backend.model("validation", validation={"fields": RULES})
    a = backend.create(Article, title="ok", views=3)
    assert backend.rows(Article)[a.id]["title"] == "ok"


def test_an_invalid_change_leaves_the_row_unchanged(backend: Any) -> None:
    Article = backend.model("validation", validation={"fields": RULES})
    a = backend.create(Article, title="ok")
    a.title = "NOT OK"
    with pytest.raises(ValidationFailed):
        a.save()
    assert backend.rows(Article)[a.id]["title"] == "ok"


@pytest.mark.parametrize("schema", [ArticleSchema, "test_builtins_validation.ArticleSchema"])
def test_a_pydantic_schema(backend: Any, schema: Any) -> None:
    Article = backend.model("validation", validation={"schema_model": schema})
    with pytest.raises(ValidationFailed) as info:
        backend.create(Article, title="x", views=-5)
    assert set(info.value.errors) == {"title", "views"}
    assert "at least 2" in info.value.errors["title"][0]
    assert backend.rows(Article) == {}
    backend.create(Article, title="xy", views=5)
    assert len(backend.rows(Article)) == 1


def test_the_models_own_is_valid(backend: Any) -> None:
    def is_valid(self: Any) -> Any:
        if self.views > 10:
            return {"views": "too many for a draft", "title": ["needs a title", "really"]}
        return self.title != "bad"

    Article = backend.model("validation", methods={"is_valid": is_valid})
    with pytest.raises(ValidationFailed) as info:
        backend.create(Article, title="bad")
    assert info.value.errors == {"__all__": ["is_valid() returned False"]}
    with pytest.raises(ValidationFailed) as info:
        backend.create(Article, views=11)
    assert info.value.errors == {
        "views": ["too many for a draft"],
        "title": ["needs a title", "really"],
    }
    assert backend.rows(Article) == {}
    backend.create(Article, title="good")
    assert len(backend.rows(Article)) == 1


def test_is_valid_may_raise_validation_failed_itself(backend: Any) -> None:
    def is_valid(self: Any) -> bool:
        if self.title == "bad":
            raise ValidationFailed("Article", {"title": ["is banned"]})
        return True

    Article = backend.model(
        "validation", validation={"fields": {"views": {"le": 5}}}, methods={"is_valid": is_valid}
    )
    with pytest.raises(ValidationFailed) as info:
        backend.create(Article, title="bad", views=9)
    # merged with the other sources' problems into one error, not raised on its own
    assert info.value.errors == {
        "views": ["must be less than or equal to 5"],
        "title": ["is banned"],
    }
    assert backend.rows(Article) == {}


@pytest.mark.parametrize("verdict", [0, "", []])
def test_a_falsy_is_valid_result_refuses_the_write(backend: Any, verdict: Any) -> None:
    Article = backend.model("validation", methods={"is_valid": lambda self: verdict})
    with pytest.raises(ValidationFailed) as info:
        backend.create(Article, title="a")
    assert info.value.errors == {"__all__": [f"is_valid() returned {verdict!r}"]}
    assert backend.rows(Article) == {}


def test_is_valid_can_be_switched_off(backend: Any) -> None:
    Article = backend.model(
        "validation", validation={"is_valid": False}, methods={"is_valid": lambda self: False}
    )
    backend.create(Article, title="a")
    assert len(backend.rows(Article)) == 1


def test_sources_are_combined(backend: Any) -> None:
    Article = backend.model(
        "validation",
        validation={"fields": {"views": {"le": 5}}, "schema_model": ArticleSchema},
        methods={"is_valid": lambda self: {"extra": "from the model"}},
    )
    with pytest.raises(ValidationFailed) as info:
        backend.create(Article, title="a", views=9)
    assert set(info.value.errors) == {"title", "views", "extra"}


def test_instance_update_is_validated_on_a_copy(backend: Any) -> None:
    Article = backend.model("validation", validation={"fields": RULES})
    a = backend.create(Article, title="ok")
    with pytest.raises(ValidationFailed) as info:
        backend.update(a, title="", views=-1)
    assert info.value.operation == "update"
    assert set(info.value.errors) == {"title", "views"}
    assert a.title == "ok"  # the instance itself was not touched
    assert backend.rows(Article)[a.id]["title"] == "ok"


def test_bulk_create_refuses_every_object_if_one_is_invalid(backend: Any) -> None:
    Article = backend.model("validation", validation={"fields": RULES})
    objs = [backend.new(Article, title="ok"), backend.new(Article, title="", views=-1)]
    with backend.queries() as queries, pytest.raises(ValidationFailed) as info:
        backend.bulk_create(Article, objs)
    assert writes(queries) == []
    assert backend.rows(Article) == {}
    assert set(info.value.errors) == {"[1].title", "[1].views"}


def test_bulk_update_values_are_checked_field_by_field(backend: Any) -> None:
    Article = backend.model(
        "validation", validation={"fields": RULES, "schema_model": ArticleSchema}
    )
    a = backend.create(Article, title="ok", views=1)
    with pytest.raises(ValidationFailed) as info:
        backend.bulk_update(backend.query(Article), title="", views=-3)
    assert set(info.value.errors) == {"title", "views"}
    assert backend.rows(Article)[a.id]["title"] == "ok"
    assert backend.bulk_update(backend.query(Article), views=4) == 1


def test_native_validation_revalidates_pydantic_models(backend: Any) -> None:
    Article = backend.model("validation", validation={"native": True})
    a = backend.new(Article, title="a")
    a.views = "many"  # pydantic: no validate_assignment, so nothing checked it yet
    if backend.name == "memory":  # a plain class has no rules of its own
        a.save()
        assert backend.rows(Article)[a.id]["views"] == "many"
        return
    with pytest.raises(ValidationFailed) as info:
        a.save()
    assert set(info.value.errors) == {"views"}
    assert backend.rows(Article) == {}


def test_validation_does_not_block_a_soft_delete(backend: Any) -> None:
    Article = backend.model("softdelete", "validation", validation={"fields": RULES})
    a = backend.create(Article, title="ok")
    backend.raw_update(Article, a.id, title="")  # invalid data already in the table
    loaded = backend.get(Article, a.id)
    loaded.delete()
    assert backend.rows(Article)[a.id]["deleted_at"] is not None
    backend.create(Article, title="ok")
    backend.bulk_delete(backend.query(Article))
    assert backend.visible(Article) == []


def test_the_error_is_a_plugin_error_and_a_value_error() -> None:
    err = ValidationFailed("app.Article", {"title": ["is required"]})
    assert isinstance(err, PluginError) and isinstance(err, ValueError)
    assert str(err) == (
        "app.Article.save refused, nothing was written: 1 invalid field (title: is required)"
    )


def test_field_rules() -> None:
    assert FieldRule(required=True).check(None) == ["is required"]
    assert FieldRule(min_length=2).check(None) == []
    assert FieldRule(min_length=2).check("a") == ["must have at least 2 characters/items"]
    assert FieldRule(choices=["a", "b"]).check("c") == ["must be one of 'a', 'b'"]
    assert FieldRule(gt=0).check("x") == ["must be a number greater than 0"]
    assert FieldRule(max_length=1).check(5) == ["has no length (int)"]


@pytest.mark.parametrize(
    "config",
    [
        {"fields": {"title": {"pattern": "("}}},
        {"fields": {"title": {"longest": 3}}},
        {"schema_model": "builtins.dict"},
    ],
)
def test_bad_configuration(backend: Any, config: dict[str, Any]) -> None:
    with pytest.raises(PluginConfigError, match="validation"):
        backend.model("validation", validation=config)


def test_config_schema() -> None:
    props = registry.get_plugin("validation").config_schema["properties"]
    assert set(props) == {"schema_model", "fields", "is_valid", "changed_only", "native"}


def test_a_rule_on_a_field_the_model_lacks_is_refused_at_weave_time(backend: Any) -> None:
    """``{"titel": ...}`` is a WeavingError naming the field and the model's fields."""
    from earnorm_aop import WeavingError

    with pytest.raises(WeavingError) as refused:
        backend.model("validation", validation={"fields": {"titel": {"required": True}}})
    text = str(refused.value)
    assert "'titel'" in text and "does not have" in text
    assert "title" in text.split("its fields are", 1)[1]  # the fields it has, to pick from


def test_a_rule_may_name_a_field_another_plugin_of_the_weave_adds(backend: Any) -> None:
    Article = backend.model(
        "softdelete", "validation", validation={"fields": {"deleted_at": {"required": False}}}
    )
    assert backend.create(Article, title="ok").deleted_at is None


def test_a_refused_rule_leaves_the_class_unwoven() -> None:
    from earnorm_aop import WeavingError, with_plugins
    from earnorm_aop.weaving import weaver

    class Note:
        title: str | None = None

        def save(self) -> None:
            pass

    with pytest.raises(WeavingError, match=r"'titel', 'bdy'.*its fields are title"):
        with_plugins(validation={"fields": {"titel": {}, "title": {}, "bdy": {}}})(Note)
    assert not weaver.is_woven(Note, "validation") and "save" in vars(Note)
    assert vars(Note)["save"].__qualname__.endswith("<locals>.Note.save")  # the original

    class Loose:  # no annotations: its fields are what its instances set, not checked
        def save(self) -> None:
            pass

    with_plugins(validation={"fields": {"anything": {"required": True}}})(Loose)
    assert weaver.is_woven(Loose, "validation")
