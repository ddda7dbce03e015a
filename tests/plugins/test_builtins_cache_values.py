"""What the ``cache`` plugin stores: field values, copied deeply in memory, typed JSON in Redis."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnorm_aop.plugins import cache_codec
from earnorm_aop.plugins.cache import CachePlugin
from earnorm_aop.weaving import weaver


def plugin_of(model: type) -> CachePlugin:
    (aspect,) = [a for a in weaver.effective_aspects(model) if a.name == "cache"]
    assert isinstance(aspect.plugin, CachePlugin)
    return aspect.plugin


def test_a_caller_changing_a_mutable_field_changes_nothing_for_the_next(backend: Any) -> None:
    Article = backend.model("cache", fields={"tags": (list, None)})
    a = backend.create(Article, title="a", tags=["x", {"nested": [1]}])
    first = backend.get(Article, a.id)
    first.tags.append("leaked")
    first.tags[1]["nested"].append(2)
    second = backend.get(Article, a.id)  # a hit
    assert second.tags == ["x", {"nested": [1]}]
    second.tags.clear()
    assert backend.get(Article, a.id).tags == ["x", {"nested": [1]}]


def test_redis_entries_are_typed_json_and_read_back_as_the_same_values(
    backend: Any, redis_url: str
) -> None:
    Article = backend.model(
        "cache",
        fields={"when": (dt.datetime, None), "code": (uuid.UUID, None)},
        cache={"backend": "redis", "url": redis_url, "prefix": "j:"},
    )
    when = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.UTC)
    code = uuid.UUID(int=7)
    a = backend.create(Article, title="a", when=when, code=code)
    backend.get(Article, a.id)
    client = plugin_of(Article).backend.client  # type: ignore[attr-defined]
    (key,) = client.keys("j:[^\x1f]*")
    document = json.loads(client.get(key))
    assert document["values"]["title"] == "a"
    assert document["values"]["code"] == {"$": "uuid", "v": str(code)}
    assert document["values"]["when"]["$"] == "datetime"
    with backend.queries() as queries:
        hit = backend.get(Article, a.id)
    assert queries == []
    assert (hit.when, hit.code, hit.title) == (when, code, "a")


def test_redis_never_unpickles_what_it_reads(backend: Any, redis_url: str) -> None:
    """A key written by someone else with a pickle payload is refused, not executed."""
    import pickle

    Article = backend.model("cache", cache={"backend": "redis", "url": redis_url, "prefix": "p:"})
    a = backend.create(Article, title="a")
    backend.get(Article, a.id)
    client = plugin_of(Article).backend.client  # type: ignore[attr-defined]
    (key,) = client.keys("p:[^\x1f]*")
    client.set(key, pickle.dumps({"values": {"title": "injected"}}))
    with backend.queries() as queries:
        assert backend.get(Article, a.id).title == "a"  # the database, not the payload
    assert any(q.startswith("SELECT") for q in queries)


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text()
    | st.binary()
    | st.datetimes(timezones=st.none() | st.just(dt.UTC))
    | st.dates()
    | st.times()
    | st.timedeltas()
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.uuids(),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(st.dictionaries(st.text(min_size=1, max_size=8), _values, max_size=6))
def test_the_json_format_round_trips_every_supported_value(values: dict[str, Any]) -> None:
    entry = {"fresh": 12.5, "values": values}
    assert cache_codec.loads(cache_codec.dumps(entry)) == entry


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_floats_round_trip(value: float) -> None:
    (back,) = cache_codec.loads(cache_codec.dumps({"fresh": 0, "values": {"x": value}}))[
        "values"
    ].values()
    assert repr(back) == repr(value)


def test_a_value_json_cannot_hold_is_refused_and_unknown_tags_are_errors() -> None:
    with pytest.raises(TypeError, match="set value cannot be cached"):
        cache_codec.dumps({"fresh": 0, "values": {"x": {1, 2}}})
    with pytest.raises(ValueError, match="unknown cached value type"):
        cache_codec.loads(b'{"fresh": 0, "values": {"x": {"$": "pickle", "v": ""}}}')
    assert cache_codec.loads(cache_codec.dumps({"fresh": 1, "values": {"u": uuid.UUID(int=1)}}))[
        "values"
    ]["u"] == uuid.UUID(int=1)
    assert (
        cache_codec.loads(
            cache_codec.dumps({"fresh": 0, "values": {"d": decimal.Decimal("12.50")}})
        )["values"]["d"].as_tuple()
        == decimal.Decimal("12.50").as_tuple()
    )
