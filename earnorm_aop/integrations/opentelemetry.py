"""OpenTelemetry export of per-plugin metrics (extra ``opentelemetry``).

[`instrument`][earnorm_aop.integrations.opentelemetry.instrument] creates asynchronous (observable)
instruments on a meter of the given provider (the global one by default): their callbacks read
[`health`][earnorm_aop.plugin_system.registry.PluginRegistry.health] when the SDK
collects, so nothing is done per woven call on their behalf.  Advice runs and
time are counted by the engine while metrics are on; ``instrument`` turns
them on and
[`PluginInstruments.close`][earnorm_aop.integrations.opentelemetry.PluginInstruments.close] off
again.

Instruments (attribute ``plugin``; runs also ``outcome``):
``earnorm_aop.advice.runs``, ``earnorm_aop.advice.duration`` (seconds),
``earnorm_aop.advice.failures``, ``earnorm_aop.plugin.auto_disables``
(observable counters) and ``earnorm_aop.plugin.enabled`` (observable gauge).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from opentelemetry import metrics as otel
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

from ..plugin_system.registry import PluginRegistry
from ..plugin_system.registry import registry as default_registry
from ..weaving import metering

__all__ = ["PluginInstruments", "instrument"]


class PluginInstruments:
    """The observable instruments reporting one plugin registry."""

    def __init__(
        self, registry: PluginRegistry | None = None, meter_provider: MeterProvider | None = None
    ) -> None:
        self.registry = registry if registry is not None else default_registry
        self._open = True
        self._metering = False
        meter = otel.get_meter("earnorm_aop", meter_provider=meter_provider)
        meter.create_observable_counter(
            "earnorm_aop.advice.runs",
            callbacks=[self._observe(self._runs)],
            unit="{run}",
            description="Advice runs per plugin and outcome, counted while metrics are on.",
        )
        meter.create_observable_counter(
            "earnorm_aop.advice.duration",
            callbacks=[self._observe(lambda n, m: [(m["seconds"], {"plugin": n})])],
            unit="s",
            description="Time spent in each plugin's advice while metrics are on.",
        )
        meter.create_observable_counter(
            "earnorm_aop.advice.failures",
            callbacks=[self._observe(lambda n, m: [(m["failures"], {"plugin": n})])],
            unit="{failure}",
            description="Advice failures handled by the plugin's error policy.",
        )
        meter.create_observable_counter(
            "earnorm_aop.plugin.auto_disables",
            callbacks=[self._observe(lambda n, m: [(m["auto_disables"], {"plugin": n})])],
            unit="{event}",
            description="Times max_failures switched the plugin off.",
        )
        meter.create_observable_gauge(
            "earnorm_aop.plugin.enabled",
            callbacks=[self._observe(lambda n, m: [(int(m["enabled"]), {"plugin": n})])],
            description="1 while the plugin is switched on.",
        )

    @staticmethod
    def _runs(name: str, m: dict[str, Any]) -> list[tuple[float, dict[str, str]]]:
        return [(n, {"plugin": name, "outcome": o}) for o, n in sorted(m["runs"].items())]

    def _observe(
        self, values: Callable[[str, dict[str, Any]], list[tuple[float, dict[str, str]]]]
    ) -> Callable[[CallbackOptions], Iterable[Observation]]:
        def callback(options: CallbackOptions) -> Iterable[Observation]:
            if not self._open:
                return []
            plugins = self.registry.health()["plugins"]
            return [
                Observation(value, attributes)
                for name, m in plugins.items()
                for value, attributes in values(name, m)
            ]

        return callback

    def close(self) -> None:
        """Stop reporting, and undo the ``start_metering`` of
        [`instrument`][earnorm_aop.integrations.opentelemetry.instrument]."""
        self._open = False
        if self._metering:
            self._metering = False
            metering.stop()


def instrument(
    registry: PluginRegistry | None = None,
    *,
    meter_provider: MeterProvider | None = None,
    start_metering: bool = True,
) -> PluginInstruments:
    """Report ``registry`` (the default one) through OpenTelemetry metrics; metrics on."""
    instruments = PluginInstruments(registry, meter_provider)
    if start_metering:
        metering.start()
        instruments._metering = True
    return instruments
