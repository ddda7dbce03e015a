"""Plugin metrics in a Prometheus scrape: run ``python examples/metrics.py``.

A plugin with a flaky advice (the ``disable`` error policy switches it off
after two failures in a row) on a plain class; the Prometheus collector turns
metrics on; a few calls; then the scrape, as ``/metrics`` would serve it.
Needs the ``prometheus`` extra (prometheus-client).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from earnorm_aop import PluginRegistry, plugin, with_plugins
from earnorm_aop.integrations import prometheus

plugins = PluginRegistry(group=None)  # this example's own registry


@plugin("stamp", registry=plugins)
class Stamp:
    def before_save(self, instance: Any) -> None:
        instance.saved = True


@plugin("notify", registry=plugins, on_error="disable", max_failures=2)
class Notify:
    def after_save(self, instance: Any) -> None:
        if instance.title.startswith("!"):
            raise ConnectionError("the notification service is down")


@with_plugins("stamp", "notify", registry=plugins)
class Note:
    def __init__(self, title: str) -> None:
        self.title = title

    def save(self) -> str:
        return f"saved {self.title}"


def main() -> None:
    scrape = CollectorRegistry()
    collector = prometheus.register(plugins, into=scrape)  # also turns metrics on
    try:
        for title in ("a", "b", "!c", "!d", "e"):
            Note(title).save()  # the failures are logged; the saves go on
        text = generate_latest(scrape).decode()
    finally:
        collector.unregister()  # metrics off again
    for line in text.splitlines():
        if line.startswith("earnorm_aop_") and "_created" not in line:
            print(line)
    print("health:", plugins.health()["status"])


if __name__ == "__main__":
    main()
