"""A rollout shared through Redis: 10% of 10,000 actors, the same actors in every process.

Three worker processes (``tests/_rollout_worker.py``) share their registries
through a real redis-server and wait; this process sets the rollout on its own
shared registry; each worker receives it, calls its woven method once per
actor and reports for which actors the plugin ran.  Every worker must report
the same actors, about a tenth of them, and the same as this process decides.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _builtin_backends import redis_server, redis_url  # noqa: F401

from earnorm_aop import PluginRegistry, RedisSwitchboard, plugin
from earnorm_aop.plugin_system.rollout import Rollout

WORKER = Path(__file__).parents[1] / "_rollout_worker.py"
ACTORS = 10_000


@pytest.fixture
def registry() -> Iterator[PluginRegistry]:
    reg = PluginRegistry(group=None)

    @plugin("probe", registry=reg)
    class Probe:
        def before_work(self) -> None:
            pass

    yield reg
    reg.unshare()


def test_every_process_decides_the_same_for_each_actor(
    redis_url: str,  # noqa: F811
    registry: PluginRegistry,
    capsys: pytest.CaptureFixture[str],
) -> None:
    workers = [
        subprocess.Popen(
            [sys.executable, str(WORKER), redis_url, "rollout", str(ACTORS)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    try:
        for w in workers:
            assert w.stdout is not None
            assert w.stdout.readline().strip() == "ready", w.stderr.read()  # type: ignore[union-attr]
        registry.share(RedisSwitchboard(redis_url, "rollout"))
        registry.rollout("probe", percent=10, by="actor")
        reports = []
        for w in workers:
            out, err = w.communicate(timeout=300)
            assert w.returncode == 0, err
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    assert all("ran" in r for r in reports), reports
    assert len({r["pid"] for r in reports}) == 3
    decisions = {r["ran"] for r in reports}
    assert len(decisions) == 1  # each actor the same decision in every process
    (ran,) = decisions
    assert len(ran) == ACTORS
    assert 8.0 <= ran.count("1") * 100 / ACTORS <= 12.0  # 10% +- 2
    here = Rollout("probe", 10, "actor")
    assert ran == "".join("1" if here.includes(f"user-{i}") else "0" for i in range(ACTORS))
    shared = RedisSwitchboard(redis_url, "rollout").rollouts()
    assert shared == {"probe": {"percent": 10, "by": "actor", "salt": ""}}
    # the CLI shows it from the board, to a process that has no rollout of its own
    from earnorm_aop.cli import main

    assert (
        main(
            ["health", "--json", "--redis", redis_url, "--namespace", "rollout"],
            reg=PluginRegistry(group=None),
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["plugins"]["probe"]["rollout"] == {"percent": 10, "by": "actor", "salt": ""}
    registry.rollout("probe", None)  # ended: everywhere
    assert RedisSwitchboard(redis_url, "rollout").rollouts() == {}
