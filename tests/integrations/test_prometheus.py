"""The Prometheus collector: the registry's metrics as a scrape shows them.

Read two ways: ``generate_latest`` on a registry of our own (what any exporter
serialises), and a real HTTP scrape of ``start_http_server`` on a free
loopback port.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("prometheus_client", reason="the prometheus extra is not installed")

from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.parser import text_string_to_metric_families

from earnorm_aop import PluginRegistry, plugin, with_plugins
from earnorm_aop.integrations import prometheus
from earnorm_aop.weaving import metering


@pytest.fixture
def model(reg: PluginRegistry) -> type:
    @plugin("stamp", registry=reg)
    class Stamp:
        def before_save(self, instance: Any) -> None:
            instance.stamped = True

    @plugin("flaky", registry=reg, on_error="disable", max_failures=1)
    class Flaky:
        def after_save(self, instance: Any) -> None:
            if getattr(instance, "explode", False):
                raise RuntimeError("boom")

    @with_plugins("stamp", "flaky", registry=reg)
    class Doc:
        def save(self) -> str:
            return "saved"

    return Doc


@pytest.fixture
def scraped(reg: PluginRegistry) -> Iterator[CollectorRegistry]:
    into = CollectorRegistry()
    collector = prometheus.register(reg, into=into)
    try:
        yield into
    finally:
        collector.unregister()
    assert not metering.active()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_generate_latest_shows_runs_failures_auto_disables_and_time(
    model: type, scraped: CollectorRegistry
) -> None:
    for _ in range(3):
        model().save()
    doc = model()
    doc.explode = True
    doc.save()
    samples = _samples(generate_latest(scraped).decode())
    stamp, flaky = (("plugin", "stamp"),), (("plugin", "flaky"),)
    assert samples[("earnorm_aop_advice_runs_total", (("outcome", "ok"), *stamp))] == 4
    assert samples[("earnorm_aop_advice_runs_total", (("outcome", "ok"), *flaky))] == 3
    assert samples[("earnorm_aop_advice_runs_total", (("outcome", "failed"), *flaky))] == 1
    assert samples[("earnorm_aop_advice_failures_total", flaky)] == 1
    assert samples[("earnorm_aop_plugin_auto_disables_total", flaky)] == 1
    assert samples[("earnorm_aop_plugin_enabled", flaky)] == 0
    assert samples[("earnorm_aop_plugin_enabled", stamp)] == 1
    assert samples[("earnorm_aop_plugin_models", stamp)] == 1
    assert samples[("earnorm_aop_advice_seconds_total", stamp)] > 0
    assert samples[("earnorm_aop_healthy", ())] == 0
    assert samples[("earnorm_aop_metering", ())] == 1


def test_a_real_http_scrape(model: type, scraped: CollectorRegistry) -> None:
    server, thread = start_http_server(0, addr="127.0.0.1", registry=scraped)
    try:
        model().save()
        port = server.server_address[1]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
            assert resp.status == 200
            text = resp.read().decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    samples = _samples(text)
    assert samples[("earnorm_aop_advice_runs_total", (("outcome", "ok"), ("plugin", "stamp")))] == 1
    assert samples[("earnorm_aop_healthy", ())] == 1


def test_namespace_and_no_metering(reg: PluginRegistry, model: type) -> None:
    into = CollectorRegistry()
    collector = prometheus.register(reg, into=into, namespace="shop", start_metering=False)
    try:
        model().save()
        samples = _samples(generate_latest(into).decode())
    finally:
        collector.unregister()
    assert samples[("shop_metering", ())] == 0
    assert samples[("shop_plugin_enabled", (("plugin", "stamp"),))] == 1
    assert not any(name == "shop_advice_runs_total" for name, _ in samples)
    collector.unregister()  # twice is harmless
    assert generate_latest(into) == b""
