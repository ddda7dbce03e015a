"""Gradual rollout: ``registry.rollout(name, percent=..., by=...)`` on one process.

The share is a property of the keys (hypothesis: sticky, monotone in the
percentage, 0 and 100 exact); the plugin runs for the calls whose context key
is in the share and is skipped (as if off) for the others, on every kind of
advice; ``disable()`` is still the kill switch; explain and health show it; a
plugin without a rollout is woven exactly as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnorm_aop import PluginConfigError, PluginRegistry, context, explain, plugin, with_plugins
from earnorm_aop.cli import health_report
from earnorm_aop.plugin_system.rollout import Rollout
from earnorm_aop.weaving import weaver

ran: list[str] = []


@pytest.fixture
def shop() -> Iterator[tuple[PluginRegistry, type]]:
    reg = PluginRegistry(group=None)

    @plugin("probe", registry=reg)
    class Probe:
        def before_save(self) -> None:
            ran.append("before")

        def around_save(self, proceed: Any) -> Any:
            ran.append("around")
            return proceed()

        def after_save(self, result: Any) -> None:
            ran.append("after")

        def get_title(self, title: str) -> str:  # chain advice: transforms the value
            return title.upper()

        async def around_asave(self, proceed: Any) -> Any:
            ran.append("async around")
            return await proceed()

    @with_plugins("probe", registry=reg)
    class Order:
        def save(self) -> str:
            return "saved"

        def get_title(self) -> str:
            return "draft"

        async def asave(self) -> str:
            return "saved"

    ran.clear()
    try:
        yield reg, Order
    finally:
        weaver.unweave(Order)


def _inside(rollout: Rollout) -> tuple[str, str]:
    """One key in the share and one outside it (searched, bounded)."""
    keys = [f"user-{i}" for i in range(1000)]
    inside = next(k for k in keys if rollout.includes(k))
    outside = next(k for k in keys if not rollout.includes(k))
    return inside, outside


def test_on_for_keys_in_the_share_and_skipped_for_the_others(
    shop: tuple[PluginRegistry, type],
) -> None:
    reg, Order = shop
    rollout = reg.rollout("probe", percent=30, by="actor")
    assert rollout is not None and reg.rollouts() == {"probe": rollout}
    yes, no = _inside(rollout)
    with context(actor=yes):
        assert Order().save() == "saved"
        assert Order().get_title() == "DRAFT"
        assert asyncio.run(Order().asave()) == "saved"
    assert ran == ["before", "around", "after", "async around"]
    ran.clear()
    with context(actor=no):
        assert Order().save() == "saved"  # around skipped: proceed() still runs the method
        assert Order().get_title() == "draft"  # chain skipped: the value goes on unchanged
        assert asyncio.run(Order().asave()) == "saved"
    assert Order().save() == "saved"  # no actor: outside the share
    assert ran == []


def test_disable_is_still_the_kill_switch_and_enable_brings_the_rollout_back(
    shop: tuple[PluginRegistry, type],
) -> None:
    reg, Order = shop
    rollout = reg.rollout("probe", percent=50, by="actor")
    assert rollout is not None
    yes, _ = _inside(rollout)
    reg.disable("probe")
    with context(actor=yes):
        Order().save()
    assert ran == []
    reg.enable("probe")
    with context(actor=yes):
        Order().save()
    assert ran == ["before", "around", "after"]


def test_clearing_the_rollout_weaves_the_plugin_as_before(
    shop: tuple[PluginRegistry, type],
) -> None:
    reg, Order = shop
    before = [a.spec.func for c in weaver.describe(Order) for a in c.advice]
    rollout = reg.rollout("probe", percent=10)
    gated = [
        getattr(a.spec.func, "rollout", None) for c in weaver.describe(Order) for a in c.advice
    ]
    assert gated == [rollout] * len(before)  # every advice behind the gate
    reg.rollout("probe", None)
    assert reg.rollouts() == {}
    after = [a.spec.func for c in weaver.describe(Order) for a in c.advice]
    assert after == before  # the plugin's own functions again, no gate
    Order().save()  # everyone again, with no context at all
    assert ran == ["before", "around", "after"]


def test_by_tenant_request_id_or_a_callable(shop: tuple[PluginRegistry, type]) -> None:
    reg, Order = shop
    for by, make in (
        ("tenant", lambda k: context(tenant=k)),
        ("request_id", lambda k: context(request_id=k)),
        (lambda ctx: getattr(ctx, "shop", None), lambda k: context(shop=k)),
    ):
        rollout = reg.rollout("probe", percent=40, by=by)
        assert rollout is not None
        yes, no = _inside(rollout)
        ran.clear()
        with make(no):
            Order().save()
        assert ran == []
        with make(yes):
            Order().save()
        assert ran == ["before", "around", "after"]


def test_explain_and_health_show_the_rollout(shop: tuple[PluginRegistry, type]) -> None:
    reg, Order = shop
    reg.rollout("probe", percent=12.5, by="tenant")
    assert "probe (rollout 12.5% by tenant)" in explain(Order)
    report = health_report(reg)
    assert report["plugins"]["probe"]["rollout"] == {"percent": 12.5, "by": "tenant", "salt": ""}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"percent": 150}, "from 0 to 100"),
        ({"percent": "10"}, "must be a number"),
        ({"percent": 10, "by": "user"}, "by must be one of actor, tenant, request_id"),
    ],
)
def test_bad_rollouts_are_refused_naming_what_is_wrong(
    shop: tuple[PluginRegistry, type], kwargs: dict[str, Any], message: str
) -> None:
    reg, Order = shop
    with pytest.raises(PluginConfigError, match=message):
        reg.rollout("probe", **kwargs)
    assert reg.rollouts() == {}
    Order().save()
    assert ran == ["before", "around", "after"]


@given(
    key=st.text(min_size=1, max_size=20),
    low=st.floats(0, 100, allow_nan=False),
    high=st.floats(0, 100, allow_nan=False),
)
def test_the_share_is_sticky_and_grows_with_the_percentage(
    key: str, low: float, high: float
) -> None:
    low, high = sorted((low, high))
    small, large = Rollout("p", low), Rollout("p", high)
    assert small.includes(key) == Rollout("p", low).includes(key)  # the same every time
    if small.includes(key):
        assert large.includes(key)  # who had it keeps it
    assert Rollout("p", 100).includes(key) and not Rollout("p", 0).includes(key)
    assert not Rollout("p", 99.99).includes(None)


def test_the_share_of_10_000_keys_is_the_percentage() -> None:
    rollout = Rollout("audit", 10)
    share = sum(rollout.includes(f"user-{i}") for i in range(10_000)) / 100
    assert 8 <= share <= 12
