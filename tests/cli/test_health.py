"""``earnorm-aop health``: runs, failures, auto-disabled state; the exit code checks read.

In-process (``main([...], reg=...)``) on a registry of the test's own, and
against a real redis-server for the switchboard's view.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from _builtin_backends import free_port, redis_server, redis_url  # noqa: F401

from earnorm_aop import PluginRegistry, plugin, with_plugins
from earnorm_aop.cli import main
from earnorm_aop.runtime.redis_switchboard import RedisSwitchboard
from earnorm_aop.weaving import metering, weaver


@pytest.fixture
def fragile() -> Iterator[tuple[PluginRegistry, type]]:
    """A registry with ``steady`` and ``fragile`` (off after 2 failures) woven on ``Job``."""
    reg = PluginRegistry(group=None)

    @plugin("steady", registry=reg)
    class Steady:
        def before_work(self) -> None:
            pass

    @plugin("fragile", on_error="disable", max_failures=2, registry=reg)
    class Fragile:
        def before_work(self) -> None:
            raise RuntimeError("backend down")

    @with_plugins("steady", "fragile", registry=reg)
    class Job:
        def work(self) -> str:
            return "done"

    try:
        yield reg, Job
    finally:
        weaver.unweave(Job)


def _quiet_calls(job: type, n: int) -> None:
    logging.getLogger("earnorm_aop").disabled = True
    try:
        for _ in range(n):
            assert job().work() == "done"
    finally:
        logging.getLogger("earnorm_aop").disabled = False


def test_healthy_plugins_exit_0_with_runs_counted_while_metering(
    fragile: tuple[PluginRegistry, type], capsys: pytest.CaptureFixture[str]
) -> None:
    reg, Job = fragile
    reg.disable("fragile")
    with metering.metering():
        for _ in range(3):
            Job().work()
        assert main(["health", "--json"], reg=reg) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "ok"
    assert report["auto_disabled"] == []
    steady = report["plugins"]["steady"]
    assert (steady["runs"], steady["runs_by_outcome"], steady["failures"]) == (3, {"ok": 3}, 0)
    assert steady["models"] == ["fragile.<locals>.Job"]
    assert report["plugins"]["fragile"]["enabled"] is False
    assert report["plugins"]["fragile"]["auto_disabled"] is False  # switched off by hand: fine


def test_an_auto_disabled_plugin_exits_1_and_is_named(
    fragile: tuple[PluginRegistry, type], capsys: pytest.CaptureFixture[str]
) -> None:
    reg, Job = fragile
    _quiet_calls(Job, 2)
    assert main(["health"], reg=reg) == 1
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("fragile"))
    assert row.split()[1:4] == ["AUTO-DISABLED", "-", "2"]  # not metered: runs unknown
    assert out.rstrip().endswith("status: auto-disabled")
    assert main(["health", "--json"], reg=reg) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["auto_disabled"] == ["fragile"]
    assert "backend down" in report["plugins"]["fragile"]["last_error"]
    reg.enable("fragile")  # an operator switches it back on: healthy again
    assert main(["health", "--json"], reg=reg) == 0


def test_no_plugins_in_use_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["health"], reg=PluginRegistry(group=None)) == 0
    assert "no plugins in use" in capsys.readouterr().out


def test_an_auto_disable_in_another_process_shows_through_the_switchboard(
    redis_url: str,  # noqa: F811
    fragile: tuple[PluginRegistry, type],
    capsys: pytest.CaptureFixture[str],
) -> None:
    reg, _Job = fragile
    # What a process whose "fragile" tripped writes (RedisSwitchboard.publish of max_failures).
    RedisSwitchboard(redis_url, "shop").set("fragile", False, origin="max_failures")
    assert main(["health", "--json"], reg=reg) == 0  # this process alone knows nothing of it
    capsys.readouterr()
    assert main(["health", "--json", "--redis", redis_url, "--namespace", "shop"], reg=reg) == 1
    report = json.loads(capsys.readouterr().out)
    fragile_row = report["plugins"]["fragile"]
    assert fragile_row["sources"] == ["process", "switchboard"]
    assert fragile_row["shared"]["origin"] == "max_failures"
    assert report["auto_disabled"] == ["fragile"]
    # Another namespace shares nothing of it.
    assert main(["health", "--redis", redis_url, "--namespace", "other"], reg=reg) == 0


def test_an_unreachable_switchboard_exits_3(
    fragile: tuple[PluginRegistry, type], capsys: pytest.CaptureFixture[str]
) -> None:
    reg, _Job = fragile
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["health", "--redis", url, "--timeout", "0.2"], reg=reg) == 3
    assert "cannot reach Redis" in capsys.readouterr().err


def test_a_bad_redis_url_is_a_usage_error(
    fragile: tuple[PluginRegistry, type], capsys: pytest.CaptureFixture[str]
) -> None:
    reg, _Job = fragile
    assert main(["health", "--redis", "http://nowhere"], reg=reg) == 2
    assert "error" in capsys.readouterr().err
