"""Pointcut parsing and matching, and the PointcutError / WeavingError they raise."""

from __future__ import annotations

import pytest

from earnorm_aop import (
    AdviceSpec,
    Aspect,
    Kind,
    PointcutError,
    WeavingError,
    parse_pointcut,
)
from earnorm_aop.weaving import weaver
from earnorm_aop.weaving.pointcut import check_event_name, split_event

VALID_KINDS = ("before", "after", "around", "chain", "error")


@pytest.mark.parametrize(
    ("spec", "kind", "patterns"),
    [
        ("before:save", Kind.BEFORE, ("save",)),
        ("after:get_*", Kind.AFTER, ("get_*",)),
        ("around:*", Kind.AROUND, ("*",)),
        ("chain:get_queryset", Kind.CHAIN, ("get_queryset",)),
        ("error:save|update", Kind.ERROR, ("save", "update")),
        ("before: save | update ", Kind.BEFORE, ("save", "update")),
        ("after:_private", Kind.AFTER, ("_private",)),
        ("before:save_?", Kind.BEFORE, ("save_?",)),
        ("before:[sd]ave", Kind.BEFORE, ("[sd]ave",)),
    ],
)
def test_parse_valid(spec: str, kind: Kind, patterns: tuple[str, ...]) -> None:
    pc = parse_pointcut(spec)
    assert pc.kind is kind
    assert pc.patterns == patterns
    assert str(pc) == f"{kind.value}:{'|'.join(patterns)}"


def test_exact_name_matches_only_itself() -> None:
    pc = parse_pointcut("before:save")
    assert pc.matches("save")
    assert not pc.matches("save_many")
    assert not pc.matches("_save")
    assert pc.exact_names == ("save",)


def test_alternatives_match_each_name() -> None:
    pc = parse_pointcut("before:save|update|get_*")
    assert pc.select(["save", "update", "delete", "get_one", "get"]) == [
        "save",
        "update",
        "get_one",
    ]
    assert pc.exact_names == ("save", "update")


def test_glob_matches_public_names_only() -> None:
    pc = parse_pointcut("after:*")
    names = ["save", "_helper", "__init__", "get", "__repr__"]
    assert pc.select(names) == ["save", "get"]


def test_glob_starting_with_underscore_matches_underscore_names() -> None:
    pc = parse_pointcut("after:_*")
    assert pc.select(["save", "_helper", "__init__"]) == ["_helper", "__init__"]
    assert parse_pointcut("before:__*__").select(["__init__", "_x", "save"]) == ["__init__"]


def test_exact_underscore_name_matches() -> None:
    assert parse_pointcut("before:_helper").matches("_helper")


def test_prefix_glob() -> None:
    pc = parse_pointcut("before:get_*")
    assert pc.select(["get_one", "get", "get_", "getter", "_get_x", "forget_x"]) == [
        "get_one",
        "get_",
    ]


@pytest.mark.parametrize("spec", ["save", "before_save", "", "   "])
def test_no_colon_is_rejected_by_parse(spec: str) -> None:
    with pytest.raises(PointcutError) as info:
        parse_pointcut(spec)
    message = str(info.value)
    assert "KIND:METHODS" in message
    for kind in VALID_KINDS:
        assert kind in message


@pytest.mark.parametrize("spec", ["befor:save", "during:save", ":save", "BEFORE:save"])
def test_unknown_kind(spec: str) -> None:
    with pytest.raises(PointcutError) as info:
        parse_pointcut(spec)
    message = str(info.value)
    assert "unknown kind" in message
    assert repr(spec.partition(":")[0]) in message
    assert "valid kinds: before, after, around, chain, error" in message


@pytest.mark.parametrize(
    ("spec", "bad"),
    [
        ("before:", ""),
        ("before:save|", ""),
        ("before:|save", ""),
        ("before:save||update", ""),
        ("before:sa ve", "sa ve"),
        ("before:save.x", "save.x"),
        ("before:save-all", "save-all"),
        ("before:save:update", "save:update"),
    ],
)
def test_bad_method_pattern(spec: str, bad: str) -> None:
    with pytest.raises(PointcutError) as info:
        parse_pointcut(spec)
    message = str(info.value)
    assert f"bad method pattern {bad!r}" in message
    assert repr(spec) in message
    assert "get_*" in message  # says what a valid pattern looks like


@pytest.mark.parametrize("spec", [None, 3, ["before:save"], b"before:save"])
def test_non_string_pointcut(spec: object) -> None:
    with pytest.raises(PointcutError, match="must be a string"):
        parse_pointcut(spec)  # type: ignore[arg-type]


def test_pointcut_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_pointcut("nope:save")


def test_split_event() -> None:
    assert split_event("before_save") == (Kind.BEFORE, "save")
    assert split_event("after_get_queryset") == (Kind.AFTER, "get_queryset")
    assert split_event("around_save") == (Kind.AROUND, "save")
    assert split_event("error_save") == (Kind.ERROR, "save")
    assert split_event("chain_get") == (Kind.CHAIN, "get")
    assert split_event("save") is None
    assert split_event("before_") is None
    assert split_event("on_change") is None


@pytest.mark.parametrize("spec", ["after change", "get_*", "", "1abc"])
def test_bad_event_name(spec: str) -> None:
    with pytest.raises(PointcutError) as info:
        check_event_name(spec)
    message = str(info.value)
    assert "neither a pointcut" in message
    for kind in VALID_KINDS:
        assert kind in message


def test_advice_spec_parses_at_construction() -> None:
    def f() -> None:
        pass

    assert AdviceSpec(f, "before:save").target == parse_pointcut("before:save")
    assert AdviceSpec(f, "after_change").target == "after_change"
    assert AdviceSpec(f, "before:save").name == "f"
    with pytest.raises(PointcutError, match="unknown kind"):
        AdviceSpec(f, "befor:save")
    with pytest.raises(PointcutError, match="neither a pointcut"):
        AdviceSpec(f, "not an event")
    with pytest.raises(PointcutError, match="unknown kind"):
        Aspect.of("x", [("whenever:save", f)])


def test_aspect_validates_its_options() -> None:
    with pytest.raises(PointcutError, match="non-empty string name"):
        Aspect("", ())
    with pytest.raises(ValueError, match="on_error must be one of raise, log, disable"):
        Aspect("x", (), on_error="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_failures"):
        Aspect("x", (), max_failures=0)


# --------------------------------------------------------------------------
# Matching against a model
# --------------------------------------------------------------------------


class Repo:
    def save(self) -> str:
        return "save"

    def save_many(self) -> str:
        return "save_many"

    def get_one(self) -> str:
        return "get_one"

    def get_all(self) -> str:
        return "get_all"

    def _helper(self) -> str:
        return "_helper"

    def __len__(self) -> int:
        return 0


def _woven_methods(model: type) -> set[str]:
    return {chain.method for chain in weaver.describe(model)}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("before:save", {"save"}),
        ("before:save|get_one", {"save", "get_one"}),
        ("before:get_*", {"get_one", "get_all"}),
        ("before:save*", {"save", "save_many"}),
        ("before:*", {"save", "save_many", "get_one", "get_all"}),
        ("before:_*", {"_helper", "__len__"}),
        ("before:_helper", {"_helper"}),
        ("before:__len__", {"__len__"}),
    ],
)
def test_pointcut_selects_model_methods(spec: str, expected: set[str]) -> None:
    class Model(Repo):
        pass

    aspect = Aspect.of("sel", [(spec, lambda: None)])
    weaver.weave(Model, aspect)
    try:
        assert _woven_methods(Model) == expected
    finally:
        weaver.unweave(Model)


def test_glob_does_not_match_object_methods() -> None:
    class Plain:
        def run(self) -> int:
            return 1

    aspect = Aspect.of("all", [("before:*", lambda: None)])
    weaver.weave(Plain, aspect)
    try:
        assert _woven_methods(Plain) == {"run"}
        assert not isinstance(vars(Plain).get("__init__"), weaver.Woven)
    finally:
        weaver.unweave(Plain)


def test_pointcut_matching_nothing_is_a_weaving_error() -> None:
    class Model(Repo):
        pass

    before = dict(vars(Model))
    aspect = Aspect.of("nothing", [("before:delete", lambda: None)])
    with pytest.raises(WeavingError) as info:
        weaver.weave(Model, aspect)
    message = str(info.value)
    assert "'nothing'" in message
    assert "before:delete" in message
    assert "matches no method of" in message
    assert "Model" in message
    assert "save" in message  # lists the methods that exist
    assert "optional=True" in message
    # Nothing was changed.
    assert dict(vars(Model)) == before
    assert weaver.effective_aspects(Model) == []


def test_glob_matching_nothing_is_a_weaving_error() -> None:
    class Model(Repo):
        pass

    with pytest.raises(WeavingError, match="matches no method"):
        weaver.weave(Model, Aspect.of("g", [("after:delete_*", lambda: None)]))


def test_optional_pointcut_matching_nothing_is_fine() -> None:
    class Model(Repo):
        pass

    log: list[str] = []
    aspect = Aspect(
        "opt",
        (
            AdviceSpec(lambda: log.append("delete"), "before:delete", optional=True),
            AdviceSpec(lambda: log.append("save"), "before:save"),
        ),
    )
    weaver.weave(Model, aspect)
    try:
        assert Model().save() == "save"
        assert log == ["save"]
        assert _woven_methods(Model) == {"save"}
    finally:
        weaver.unweave(Model)


def test_event_name_is_woven_when_the_model_has_the_method() -> None:
    class Model(Repo):
        pass

    log: list[str] = []
    aspect = Aspect.of(
        "ev",
        [
            ("before_save", lambda: log.append("before_save")),
            ("after_change", lambda: log.append("after_change")),
            ("before_update", lambda: log.append("before_update")),
        ],
    )
    weaver.weave(Model, aspect)
    try:
        Model().save()
        assert log == ["before_save"]
        assert _woven_methods(Model) == {"save"}
        assert [spec.name for _, spec in weaver.event_handlers(Model, "after_change")] == [
            "<lambda>"
        ]
        assert weaver.event_handlers(Model, "before_save") == ()
    finally:
        weaver.unweave(Model)
