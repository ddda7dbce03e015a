"""Shared switchboards: one switch for every process, through a real redis-server.

Registries in this process stand for processes where that is enough (each
board has its own connection and listener thread); the convergence test runs
real worker processes (``tests/_switch_worker.py``) while this process and
the CLI toggle, and kills and restarts redis-server in the middle.  Every
wait polls a bounded number of times; nothing asserts on elapsed time.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import subprocess
import sys
from typing import Any

import pytest
from _builtin_backends import RedisServer, free_port, redis_binary
from _subprocess import run_json
from _switch_worker import CALLS, ERRORS, HALF, OFF, ON, STATE, WIDTH, Probe
from _switch_worker import run as run_worker
from _switchboards import (
    ALL,
    FAST,
    Tag,
    eventually,
    fragile_registry,
    probe_registry,
    seen,
    tagged_job,
)
from hypothesis import given
from hypothesis import strategies as st

from earnorm_aop import (
    PluginConfigError,
    PluginRegistry,
    RedisSwitchboard,
    Switchboard,
    SwitchState,
)
from earnorm_aop.cli import main
from earnorm_aop.runtime.switchboard import model_path
from earnorm_aop.weaving import weaver


def test_a_process_reads_the_shared_state_before_share_returns(
    redis_url: str, boards: list[PluginRegistry]
) -> None:
    RedisSwitchboard(redis_url, "ns1").set("probe", False)
    reg, Job = probe_registry(boards)
    original = vars(Job)["work"].__wrapped__
    assert seen(Job) == ALL
    reg.share(RedisSwitchboard(redis_url, "ns1", **FAST))
    assert reg.get_plugin("probe").enabled is False
    assert seen(Job) == []
    # Applied by re-weaving, as a local toggle: the method is the original function
    # again, so a process that shares its switches pays nothing per call for it.
    assert vars(Job)["work"] is original
    assert weaver.is_woven(Job, "probe")


def test_a_toggle_in_one_process_reaches_the_others(
    redis_url: str, boards: list[PluginRegistry]
) -> None:
    a, JobA = probe_registry(boards)
    b, JobB = probe_registry(boards)
    board_a = a.share(RedisSwitchboard(redis_url, "ns2", **FAST))
    b.share(RedisSwitchboard(redis_url, "ns2", **FAST))
    a.disable("probe")
    assert seen(JobA) == []  # at once here
    assert eventually(lambda: seen(JobB) == [])
    state = board_a.states()["probe"]
    assert (state.enabled, state.origin) == (False, "disable")
    b.enable("probe")
    assert eventually(lambda: seen(JobA) == ALL)
    assert board_a.states()["probe"].version > state.version
    # Another namespace is another deployment: untouched.
    c, JobC = probe_registry(boards)
    c.share(RedisSwitchboard(redis_url, "other", **FAST))
    a.disable("probe")
    assert eventually(lambda: seen(JobB) == [])
    assert seen(JobC) == ALL


def test_a_max_failures_auto_disable_reaches_every_process(
    redis_url: str, boards: list[PluginRegistry]
) -> None:
    a, JobA = fragile_registry(boards, max_failures=2)
    b, JobB = fragile_registry(boards, max_failures=2)
    a.share(RedisSwitchboard(redis_url, "ns3", **FAST))
    b.share(RedisSwitchboard(redis_url, "ns3", **FAST))
    logging.getLogger("earnorm_aop").disabled = True
    try:
        assert [JobA().work(), JobA().work()] == ["done", "done"]  # logged, then tripped
    finally:
        logging.getLogger("earnorm_aop").disabled = False
    assert a.metrics("fragile")["auto_disabled"] is True
    assert eventually(lambda: not b.get_plugin("fragile").enabled)
    assert b.metrics("fragile")["auto_disabled"] is True
    assert b.health()["status"] == "degraded"
    assert JobB().work() == "done"
    assert b.metrics("fragile")["failures"] == 0  # switched off there before it ever ran
    state = RedisSwitchboard(redis_url, "ns3").states()["fragile"]
    assert (state.enabled, state.auto_disabled, state.origin) == (False, True, "max_failures")
    b.enable("fragile")  # an operator switches it back on: everywhere
    assert eventually(lambda: a.get_plugin("fragile").enabled)
    assert a.metrics("fragile")["auto_disabled"] is False


def test_unreachable_redis_keeps_local_state_logs_once_and_catches_up(
    boards: list[PluginRegistry], caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    reg, Job = probe_registry(boards)
    with caplog.at_level(logging.WARNING, logger="earnorm_aop.switchboard"):
        board = reg.share(RedisSwitchboard(url, "ns4", **FAST))
        assert seen(Job) == ALL  # model operations go on
        reg.disable("probe")  # applied here, written later
        assert seen(Job) == []
        assert board.pending() == {"probe": False}
        assert eventually(lambda: board.connected is False)
        for _ in range(5):  # several failed retries...
            assert seen(Job) == []
        eventually(lambda: False, attempts=10)
        warnings = [r for r in caplog.records if "unreachable" in r.getMessage()]
        assert len(warnings) == 1  # ...one warning
        server = RedisServer(redis_binary(), port=port)
        try:
            assert eventually(lambda: board.connected and not board.pending())
            assert board.states()["probe"].enabled is False
            assert any("reachable again" in r.getMessage() for r in caplog.records)
        finally:
            reg.unshare()
            server.stop()


def test_a_local_change_made_against_an_old_version_yields_to_the_shared_one(
    redis_url: str, boards: list[PluginRegistry]
) -> None:
    reg, Job = probe_registry(boards)
    board = reg.share(RedisSwitchboard(redis_url, "ns5", **FAST))
    reg.disable("probe")
    assert eventually(lambda: not board.pending())
    base = board.known_version("probe")
    # Another process wrote a newer state; this one does not know it yet, and its
    # own change is made as during an outage (written only over what it knew).
    other = SwitchState("probe", False, base + 1, origin="cli", by="elsewhere")
    with board._switching:
        board.client.hset(
            board.key, mapping={"probe": json.dumps(other.as_dict()), "__version__": base + 1}
        )
        board.connected = False
        reg.enable("probe")  # made against ``base``
    assert eventually(lambda: not board.pending())
    assert board.states()["probe"] == other  # not overwritten
    assert eventually(lambda: seen(Job) == [])  # the shared state is in force here too


def test_a_local_change_made_while_connected_is_written_over_a_state_it_had_not_seen(
    redis_url: str, boards: list[PluginRegistry]
) -> None:
    """Connected, the last toggle wins: its process does not lose it to an earlier one."""
    reg, Job = probe_registry(boards)
    board = reg.share(RedisSwitchboard(redis_url, "ns5b", **FAST))
    reg.disable("probe")
    assert eventually(lambda: not board.pending())
    base = board.known_version("probe")
    other = SwitchState("probe", False, base + 1, origin="cli", by="elsewhere")
    with board._switching:  # its announcement has not been read here yet
        board.client.hset(
            board.key, mapping={"probe": json.dumps(other.as_dict()), "__version__": base + 1}
        )
        reg.enable("probe")
    assert eventually(lambda: not board.pending())
    written = board.states()["probe"]
    assert (written.enabled, written.origin) == (True, "enable")
    assert written.version > other.version
    assert seen(Job) == ALL


def test_a_process_forked_after_share_listens_on_its_own(
    redis_url: str, boards: list[PluginRegistry]
) -> None:
    reg, Job = probe_registry(boards)
    reg.share(RedisSwitchboard(redis_url, "ns8", **FAST))
    ctx = multiprocessing.get_context("fork")
    ready, toggled = ctx.Event(), ctx.Event()

    def child() -> None:
        ready.set()
        toggled.wait(30)
        # Only this child's own listener can apply what was written after the fork.
        sys.exit(0 if eventually(lambda: seen(Job) == []) else 1)

    process = ctx.Process(target=child)
    process.start()
    try:
        assert ready.wait(30)
        RedisSwitchboard(redis_url, "ns8").set("probe", False)
        toggled.set()
        process.join(60)
    finally:
        if process.is_alive():
            process.kill()
            process.join()
    assert process.exitcode == 0


def tag_registry(boards: list[PluginRegistry]) -> PluginRegistry:
    reg = PluginRegistry(group=None)
    reg.register("tag", Tag)
    boards.append(reg)
    return reg


def test_a_reconfiguration_reaches_every_process_and_later_weaves(
    redis_url: str, boards: list[PluginRegistry]
) -> None:
    a, b = tag_registry(boards), tag_registry(boards)
    JobA, JobB = tagged_job(a), tagged_job(b)
    board = a.share(RedisSwitchboard(redis_url, "ns7", **FAST))
    b.share(RedisSwitchboard(redis_url, "ns7", **FAST))
    assert seen(JobB) == ["declared"]
    board.reconfigure(JobA, "tag", label="shared")
    assert seen(JobA) == ["shared"]  # here at once
    assert eventually(lambda: seen(JobB) == ["shared"])  # there by re-weaving
    (shared,) = board.configs()
    assert (shared.name, shared.model, shared.config) == (
        "tag",
        model_path(JobA),
        {"label": "shared"},
    )
    # A process that weaves the model later takes the shared options, not the declared ones.
    c = tag_registry(boards)
    c.share(RedisSwitchboard(redis_url, "ns7", **FAST))
    assert seen(tagged_job(c)) == ["shared"]
    # A bad option is refused here, before anything is shared.
    with pytest.raises(PluginConfigError, match="unknown option 'colour'"):
        board.reconfigure(JobA, "tag", colour="red")
    (shared,) = board.configs()
    assert board.version() == shared.version


def test_the_cli_lists_reads_and_flips_shared_switches(
    redis_url: str, boards: list[PluginRegistry], capsys: pytest.CaptureFixture[str]
) -> None:
    reg, Job = probe_registry(boards)
    reg.share(RedisSwitchboard(redis_url, "ns6", **FAST))
    base = ["--redis", redis_url, "--namespace", "ns6"]
    assert main(["switch", *base]) == 0
    assert "no shared switches in namespace 'ns6'" in capsys.readouterr().out
    assert main(["switch", "audit", "off", *base, "--json"]) == 0
    written = json.loads(capsys.readouterr().out)
    assert written["name"] == "audit" and written["enabled"] is False
    assert written["origin"] == "cli" and written["version"] > 0
    assert main(["switch", "audit", *base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == written["version"]
    assert main(["switch", "timestamp", *base, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {
        "name": "timestamp",
        "enabled": True,
        "shared": False,
        "version": 0,
    }
    # The process sharing ns6 follows the CLI: it only knows "probe" ...
    assert main(["switch", "probe", "off", *base]) != 0  # ...which the CLI does not
    assert "probe" in capsys.readouterr().err
    RedisSwitchboard(redis_url, "ns6").set("probe", True)
    assert main(["switch", "probe", "off", *base]) == 0  # now shared: known
    capsys.readouterr()
    assert eventually(lambda: seen(Job) == [])
    assert main(["switch", *base]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["NAME", "STATE", "VERSION", "CHANGED", "BY", "ORIGIN"]
    rows = [line.split()[:3] for line in out.splitlines()[1:]]
    assert [row[:2] for row in rows] == [["audit", "off"], ["probe", "off"]]
    assert rows[0][2] == str(written["version"]) and int(rows[1][2]) > written["version"]
    assert main(["switch", "audti", "off", *base]) == 2
    assert "audit" in capsys.readouterr().err  # the closest name
    unreachable = ["--redis", f"redis://127.0.0.1:{free_port()}/0", "--timeout", "0.3"]
    assert main(["switch", "audit", "off", *unreachable]) == 1
    assert "cannot reach Redis" in capsys.readouterr().err
    assert main(["switch", *base[:2], "--namespace", "a:b"]) == 2


def test_importing_the_package_does_not_import_redis() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys, earnorm_aop; print('redis' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "False"


@given(st.lists(st.booleans(), min_size=1, max_size=8), st.randoms(use_true_random=False))
def test_states_applied_in_any_order_leave_the_newest_in_force(flags: list[bool], rng: Any) -> None:
    """Late, repeated or reordered announcements change nothing: the highest version wins."""
    reg = PluginRegistry(group=None)
    reg.register("probe", Probe)
    board = Switchboard()
    board.attach(reg)
    try:
        states = [SwitchState("probe", flag, version) for version, flag in enumerate(flags, 1)]
        arrivals = states + rng.sample(states, len(states))  # each once, then again, shuffled
        rng.shuffle(arrivals)
        for state in arrivals:
            board.apply(state)
        assert reg.switch("probe").enabled is flags[-1]
        assert board.known_version("probe") == len(flags)
    finally:
        board.close()


def test_sharing_again_replaces_the_board_and_unshare_stops_it(
    redis_url: str, boards: list[PluginRegistry]
) -> None:
    reg, Job = probe_registry(boards)
    first = reg.share(RedisSwitchboard(redis_url, "ns9", **FAST))
    second = reg.share(RedisSwitchboard(redis_url, "ns9", **FAST))
    assert reg.switchboard is second and first.registry is None
    assert first._thread is None  # its listener was stopped
    reg.unshare()
    assert reg.switchboard is None and second._thread is None
    reg.disable("probe")  # local again: applied here, nothing is written
    assert seen(Job) == []
    assert RedisSwitchboard(redis_url, "ns9").states() == {}
    reg.enable("probe")


def test_switch_states_round_trip() -> None:
    state = SwitchState("audit", False, 3, auto_disabled=True, origin="max_failures", by="h:1")
    assert SwitchState.from_dict(json.loads(json.dumps(state.as_dict()))) == state


# -- many processes ----------------------------------------------------------------------


class Workers:
    """Worker processes (spawned) and their status rows."""

    def __init__(self, url: str, namespace: str, count: int, rounds: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.count = count
        self.status: Any = ctx.Array("i", count * WIDTH, lock=False)
        self.stop = ctx.Event()
        self.processes = [
            ctx.Process(
                target=run_worker,
                args=(url, namespace, i, self.status, self.stop, rounds),
                daemon=True,
            )
            for i in range(count)
        ]
        for p in self.processes:
            p.start()

    def column(self, col: int) -> list[int]:
        return [self.status[i * WIDTH + col] for i in range(self.count)]

    def all_see(self, state: int) -> bool:
        """True once every worker's latest call saw ``state`` after its call count moved on."""
        before = self.column(CALLS)
        if self.column(STATE) != [state] * self.count:
            return False
        # A later call confirms it (the earlier one may predate the change).
        return (
            eventually(
                lambda: all(c > b for c, b in zip(self.column(CALLS), before, strict=True)),
                attempts=100,
            )
            and self.column(STATE) == [state] * self.count
        )

    def close(self) -> None:
        self.stop.set()
        for p in self.processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()


def cli_switch(url: str, namespace: str, state: str) -> dict[str, Any]:
    """Another process toggles: the CLI, as an operator would run it."""
    command = ["switch", "probe", state, "--redis", url, "--namespace", namespace, "--json"]
    return run_json([sys.executable, "-m", "earnorm_aop", *command], timeout=60)


def test_worker_processes_converge_see_no_half_state_and_survive_a_redis_restart() -> None:
    binary = redis_binary()
    server = RedisServer(binary)
    url, port, ns = server.url, server.port, "workers"
    board = RedisSwitchboard(url, ns)
    board.set("probe", True)  # shared before the workers start
    workers = Workers(url, ns, count=3, rounds=20_000)
    try:
        assert eventually(lambda: workers.all_see(ON), attempts=1500)
        for state, code in [("off", OFF), ("on", ON), ("off", OFF)]:
            written = cli_switch(url, ns, state)
            assert written["enabled"] is (state == "on")
            assert eventually(lambda code=code: workers.all_see(code), attempts=500)
        last = board.version()
        # Redis goes away: every worker keeps the last state and keeps working.
        server.stop()
        assert eventually(lambda: workers.all_see(OFF), attempts=100)
        # It comes back empty (no persistence): the workers write back what they know.
        server = RedisServer(binary, port=port)
        board = RedisSwitchboard(url, ns)
        assert eventually(lambda: "probe" in _states(board), attempts=500)
        restored = _states(board)["probe"]
        assert (restored.enabled, restored.version) == (False, last)
        assert board.version() >= last
        # A toggle after the restart reaches every worker, with a newer version.
        written = cli_switch(url, ns, "on")
        assert written["version"] > last
        assert eventually(lambda: workers.all_see(ON), attempts=500)
    finally:
        workers.close()
        server.stop()
    assert workers.column(HALF) == [0] * 3  # no call saw some of the advice but not all
    assert workers.column(ERRORS) == [0] * 3  # and none failed, Redis down or not
    assert all(n > 0 for n in workers.column(CALLS))
    assert [p.exitcode for p in workers.processes] == [0] * 3


def _states(board: RedisSwitchboard) -> dict[str, SwitchState]:
    try:
        return board.states()
    except board.errors:
        return {}


@pytest.mark.parametrize("option", ["interval", "timeout", "retry", "resync"])
@pytest.mark.parametrize("seconds", [-1, 0, float("nan"), float("inf")])
def test_a_board_refuses_a_duration_that_is_not_a_positive_number_of_seconds(
    option: str, seconds: float
) -> None:
    with pytest.raises(ValueError, match=f"{option} must be a positive, finite number"):
        RedisSwitchboard("redis://127.0.0.1:1/0", "ns", **{option: seconds})
