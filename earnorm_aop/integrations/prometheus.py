"""Prometheus export of the registry's health and per-plugin metrics (extra ``prometheus``).

A [`PluginCollector`][earnorm_aop.integrations.prometheus.PluginCollector] is a custom
prometheus-client collector: it reads
[`health`][earnorm_aop.plugin_system.registry.PluginRegistry.health] when scraped, so
nothing is done per woven call on its behalf.  Advice runs and time are
counted by the engine while metrics are on
([`earnorm_aop.start_metering`][earnorm_aop.start_metering]);
[`register`][earnorm_aop.integrations.prometheus.register] adds the collector to a prometheus
registry and turns them on.

Exported, labelled by ``plugin`` (metric names take the ``namespace`` prefix,
``earnorm_aop`` by default):

- ``earnorm_aop_advice_runs_total{plugin,outcome}``: advice runs by outcome
  (``ok``, ``veto``, ``recovered``, ``raised``, ``failed``);
- ``earnorm_aop_advice_seconds_total{plugin}``: time spent in the plugin's advice;
- ``earnorm_aop_advice_failures_total{plugin}``: advice failures its error
  policy handled (``log``/``disable``);
- ``earnorm_aop_plugin_auto_disables_total{plugin}``: times ``max_failures``
  switched it off;
- ``earnorm_aop_plugin_enabled{plugin}`` and ``earnorm_aop_plugin_models{plugin}``;
- ``earnorm_aop_healthy``: 1 while ``health()`` says ``ok``, 0 when degraded;
- ``earnorm_aop_metering``: 1 while metrics are on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..plugin_system.registry import PluginRegistry
from ..plugin_system.registry import registry as default_registry
from ..weaving import metering

__all__ = ["PluginCollector", "register"]


class PluginCollector(Collector):
    """Collects ``registry.health()`` as Prometheus metrics at each scrape."""

    def __init__(
        self, registry: PluginRegistry | None = None, *, namespace: str = "earnorm_aop"
    ) -> None:
        self.registry = registry if registry is not None else default_registry
        self.namespace = namespace
        self._into: CollectorRegistry | None = None
        self._metering = False

    def collect(self) -> Iterable[Metric]:
        ns = self.namespace
        health = self.registry.health()
        plugins: dict[str, dict[str, Any]] = health["plugins"]
        runs = CounterMetricFamily(
            f"{ns}_advice_runs",
            "Advice runs per plugin and outcome, counted while metrics are on.",
            labels=["plugin", "outcome"],
        )
        seconds = CounterMetricFamily(
            f"{ns}_advice_seconds",
            "Seconds spent in each plugin's advice while metrics are on "
            "(an around advice's time includes the call it wraps).",
            labels=["plugin"],
        )
        failures = CounterMetricFamily(
            f"{ns}_advice_failures",
            "Advice failures handled by the plugin's error policy (log or disable).",
            labels=["plugin"],
        )
        auto_disables = CounterMetricFamily(
            f"{ns}_plugin_auto_disables",
            "Times the plugin was switched off after max_failures consecutive failures.",
            labels=["plugin"],
        )
        enabled = GaugeMetricFamily(
            f"{ns}_plugin_enabled", "1 while the plugin is switched on.", labels=["plugin"]
        )
        models = GaugeMetricFamily(
            f"{ns}_plugin_models", "Models that weave the plugin.", labels=["plugin"]
        )
        for name, m in plugins.items():
            for outcome, n in sorted(m["runs"].items()):
                runs.add_metric([name, outcome], n)
            seconds.add_metric([name], m["seconds"])
            failures.add_metric([name], m["failures"])
            auto_disables.add_metric([name], m["auto_disables"])
            enabled.add_metric([name], 1 if m["enabled"] else 0)
            models.add_metric([name], len(m["models"]))
        yield from (runs, seconds, failures, auto_disables, enabled, models)
        yield GaugeMetricFamily(
            f"{ns}_healthy",
            "1 while registry.health() is ok; 0 when a plugin failed or was auto-disabled.",
            value=1 if health["status"] == "ok" else 0,
        )
        yield GaugeMetricFamily(
            f"{ns}_metering", "1 while advice runs are being counted.", value=int(metering.active())
        )

    def unregister(self) -> None:
        """Take the collector out of the registry
        [`register`][earnorm_aop.integrations.prometheus.PluginCollector.register] put it in;
        metrics off."""
        if self._into is not None:
            self._into.unregister(self)
            self._into = None
        if self._metering:
            self._metering = False
            metering.stop()


def register(
    registry: PluginRegistry | None = None,
    *,
    into: CollectorRegistry = REGISTRY,
    namespace: str = "earnorm_aop",
    start_metering: bool = True,
) -> PluginCollector:
    """Export ``registry`` (the default one) to the Prometheus registry ``into``.

    Also turns metrics on (unless ``start_metering=False``), so advice runs and
    time are counted; ``collector.unregister()`` undoes both.
    """
    collector = PluginCollector(registry, namespace=namespace)
    into.register(collector)
    collector._into = into
    if start_metering:
        metering.start()
        collector._metering = True
    return collector
