"""OpenTelemetry metrics: what the SDK's in-memory reader collects from our instruments."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk.metrics", reason="opentelemetry-sdk is not installed")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from earnorm_aop import PluginRegistry, plugin, with_plugins
from earnorm_aop.integrations import opentelemetry as otel
from earnorm_aop.weaving import metering


def _points(reader: InMemoryMetricReader) -> dict[tuple[str, tuple[tuple[str, Any], ...]], Any]:
    data = reader.get_metrics_data()
    out: dict[tuple[str, tuple[tuple[str, Any], ...]], Any] = {}
    for rm in data.resource_metrics if data is not None else ():
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                for point in metric.data.data_points:
                    out[(metric.name, tuple(sorted(point.attributes.items())))] = point.value
    return out


def test_in_memory_reader_sees_runs_failures_and_state(reg: PluginRegistry) -> None:
    @plugin("stamp", registry=reg)
    class Stamp:
        def before_save(self, instance: Any) -> None:
            pass

    @plugin("flaky", registry=reg, on_error="disable", max_failures=1)
    class Flaky:
        def after_save(self) -> None:
            raise RuntimeError("boom")

    @with_plugins("stamp", "flaky", registry=reg)
    class Doc:
        def save(self) -> str:
            return "saved"

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    instruments = otel.instrument(reg, meter_provider=provider)
    try:
        assert metering.active()
        for _ in range(2):
            assert Doc().save() == "saved"
        points = _points(reader)
    finally:
        instruments.close()
        provider.shutdown()
    assert not metering.active()
    stamp = (("plugin", "stamp"),)
    assert points[("earnorm_aop.advice.runs", (("outcome", "ok"), *stamp))] == 2
    assert points[("earnorm_aop.advice.runs", (("outcome", "failed"), ("plugin", "flaky")))] == 1
    assert points[("earnorm_aop.advice.failures", (("plugin", "flaky"),))] == 1
    assert points[("earnorm_aop.plugin.auto_disables", (("plugin", "flaky"),))] == 1
    assert points[("earnorm_aop.plugin.enabled", (("plugin", "flaky"),))] == 0
    assert points[("earnorm_aop.plugin.enabled", stamp)] == 1
    assert points[("earnorm_aop.advice.duration", stamp)] > 0


def test_closed_instruments_report_nothing(reg: PluginRegistry) -> None:
    @plugin("stamp", registry=reg)
    class Stamp:
        def before_save(self) -> None:
            pass

    @with_plugins("stamp", registry=reg)
    class Doc:
        def save(self) -> None:
            pass

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    instruments = otel.instrument(reg, meter_provider=provider, start_metering=False)
    Doc().save()
    assert _points(reader)[("earnorm_aop.plugin.enabled", (("plugin", "stamp"),))] == 1
    instruments.close()
    try:
        assert _points(reader) == {}
    finally:
        provider.shutdown()
