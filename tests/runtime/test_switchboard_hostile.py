"""Shared switches against a hostile store: races with the listener, forged data, bad fields.

The hash is the one source of state: an announcement only says "read it", and
what is read is type-checked, a malformed entry logged once and skipped, never
written back.  A toggle racing with the write of the previous one is not lost.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
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
    PluginRegistry,
    RedisSwitchboard,
    Switchboard,
    SwitchState,
)
from earnorm_aop.runtime.switchboard import SharedConfig, model_path


class PausedBoard(RedisSwitchboard):
    """Its next write waits, once, until the test says go (the listener is then mid-write)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pause_next = False
        self.writing = threading.Event()
        self.go = threading.Event()

    def set(self, name: str, enabled: bool, **kwargs: Any) -> SwitchState | None:
        if self.pause_next:
            self.pause_next = False
            self.writing.set()
            self.go.wait(30)
        return super().set(name, enabled, **kwargs)


@pytest.mark.parametrize("connected", [True, False], ids=["connected", "made-in-an-outage"])
def test_a_toggle_made_while_the_previous_one_is_written_is_not_lost(
    redis_url: str, boards: list[PluginRegistry], connected: bool
) -> None:
    reg, Job = probe_registry(boards)
    board = reg.share(PausedBoard(redis_url, f"race-{connected}", **FAST))
    assert eventually(lambda: board.connected)
    board.connected = connected  # False: written only over the version it was made on
    board.pause_next = True
    reg.disable("probe")
    assert board.writing.wait(30)  # the listener is writing the disable ...
    reg.enable("probe")  # ... when this process switches it on again
    board.go.set()
    assert eventually(lambda: not board.pending())
    state = board.states()["probe"]
    assert (state.enabled, state.origin) == (True, "enable")
    assert board.known()["probe"] == state
    assert seen(Job) == ALL


def _marker(redis_url: str, namespace: str, board: RedisSwitchboard) -> None:
    """Write a state from elsewhere and wait until ``board`` read it (so earlier messages were)."""
    other = RedisSwitchboard(redis_url, namespace)
    written = other.set("marker", True)
    other.client.close()
    assert written is not None
    assert eventually(lambda: board.known_version("marker") == written.version)


def test_an_announcement_is_only_a_notification_forged_ones_change_nothing(
    redis_url: str, boards: list[PluginRegistry], caplog: pytest.LogCaptureFixture
) -> None:
    reg, Job = probe_registry(boards)
    board = reg.share(RedisSwitchboard(redis_url, "forged", **FAST))
    reg.enable("probe")
    assert eventually(lambda: not board.pending())
    before = board.states()["probe"]
    forged = [
        {"name": "probe", "enabled": False, "version": 2**62},
        {"name": "evil", "enabled": "false", "version": 2**62},
        {"name": "evil2", "enabled": False, "version": 2**62},
        "garbage{",
        [1, 2],
    ]
    with caplog.at_level(logging.INFO, logger="earnorm_aop.switchboard"):
        for message in forged:
            text = message if isinstance(message, str) else json.dumps(message)
            board.client.publish(board.channel, text)
        _marker(redis_url, "forged", board)
    assert seen(Job) == ALL
    assert board.known()["probe"] == before  # no version forged ahead
    assert set(board.known()) == {"probe", "marker"}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    reg.disable("probe")  # later toggles are not ignored
    assert eventually(lambda: not board.pending())
    after = board.states()["probe"]
    assert after.enabled is False and before.version < after.version < 2**62
    assert set(board.states()) == {"probe", "marker"}  # nothing forged written back


BAD_FIELDS = {
    "probe": "not json",
    "audit": json.dumps({"name": "audit", "enabled": "false", "version": 1}),
    "cache": json.dumps({"name": "timestamp", "enabled": False, "version": 1}),
    "timestamp": json.dumps({"name": "timestamp", "enabled": False, "version": 2**62}),
    "softdelete": json.dumps({"name": "softdelete", "enabled": False, "version": True}),
    "config:tag:x.Job": json.dumps({"kind": "config", "name": "tag", "model": "x.Job"}),
}


def test_malformed_hash_fields_are_logged_once_skipped_and_never_written_back(
    redis_url: str, boards: list[PluginRegistry], caplog: pytest.LogCaptureFixture
) -> None:
    reg, Job = probe_registry(boards)
    key = "earnorm_aop:bad:switches"
    probe = RedisSwitchboard(redis_url, "bad")
    probe.client.hset(key, mapping={**BAD_FIELDS, "__version__": 5})
    with caplog.at_level(logging.WARNING, logger="earnorm_aop.switchboard"):
        board = reg.share(RedisSwitchboard(redis_url, "bad", **FAST))  # does not raise
        assert probe.states() == {} and probe.configs() == []
        for _ in range(3):  # each announcement makes every process read the hash again
            _marker(redis_url, "bad", board)
    assert seen(Job) == ALL  # the default: the malformed "off" was not taken
    assert set(board.known()) == {"marker"}
    refused = [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()]
    assert sorted(refused) == sorted(set(refused))  # each once
    assert {field for field in BAD_FIELDS if any(repr(field) in m for m in refused)} == set(
        BAD_FIELDS
    )
    raw = probe.client.hgetall(key)
    assert {f: raw[f] for f in BAD_FIELDS} == BAD_FIELDS  # left as they were, copied nowhere
    reg.disable("probe")  # a local change repairs its own field
    assert eventually(lambda: "probe" in probe.states())
    assert probe.states()["probe"].enabled is False
    probe.client.close()


def test_a_bad_counter_is_logged_and_the_entries_still_read(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    board = RedisSwitchboard(redis_url, "badcounter")
    written = board.set("probe", False)
    assert written is not None
    board.client.hset(board.key, "__version__", "many")
    with caplog.at_level(logging.WARNING, logger="earnorm_aop.switchboard"):
        assert board.states() == {"probe": written}
        assert board.version() == written.version
    assert "counter" in caplog.text
    again = board.set("probe", True)
    assert again is not None and again.version > written.version
    board.client.close()


def test_names_this_process_does_not_have_are_never_written_back(
    redis_url: str, boards: list[PluginRegistry]
) -> None:
    reg, _ = probe_registry(boards)
    other = RedisSwitchboard(redis_url, "refill")
    other.set("unknown_here", False)
    board = reg.share(RedisSwitchboard(redis_url, "refill", **FAST))
    reg.disable("probe")
    assert eventually(lambda: not board.pending())
    assert "unknown_here" in board.known()
    other.client.flushall()  # Redis loses everything
    other.client.publish(board.channel, "read")
    assert eventually(lambda: "probe" in other.states())
    assert set(other.states()) == {"probe"}
    assert other.states()["probe"] == board.known()["probe"]
    other.client.close()


# -- reading entries ------------------------------------------------------------------------

_GOOD = {"name": "probe", "enabled": False, "version": 3}


@pytest.mark.parametrize(
    "changes",
    [
        {"enabled": "false"},
        {"enabled": 0},
        {"version": "3"},
        {"version": True},
        {"version": 0},
        {"name": 7},
        {"auto_disabled": "yes"},
        {"time": "now"},
        {"time": float("nan")},
        {"by": None},
    ],
)
def test_a_switch_state_of_the_wrong_type_is_refused_naming_the_field(
    changes: dict[str, Any],
) -> None:
    (field,) = changes
    with pytest.raises(ValueError, match=repr(field)):
        SwitchState.from_dict({**_GOOD, **changes})


@pytest.mark.parametrize("data", [None, [], "x", {"enabled": False, "version": 1}])
def test_a_switch_state_that_is_no_object_or_lacks_a_field_is_refused(data: Any) -> None:
    with pytest.raises(ValueError):
        SwitchState.from_dict(data)


def test_a_shared_configuration_is_checked_too() -> None:
    good = {"name": "tag", "model": "m.Job", "config": {"label": "x"}, "version": 2}
    assert SharedConfig.from_dict(good).config == {"label": "x"}
    for bad in ({"config": ["label"]}, {"model": None}, {"version": -1}):
        with pytest.raises(ValueError):
            SharedConfig.from_dict({**good, **bad})
    with pytest.raises(ValueError, match="option names"):
        SharedConfig.from_dict({**good, "config": {1: "x"}})


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=5,
)


@given(st.dictionaries(st.sampled_from([*sorted(_GOOD), "auto_disabled", "time"]), _json))
def test_any_data_reads_as_a_well_typed_state_or_is_refused(data: dict[str, Any]) -> None:
    try:
        state = SwitchState.from_dict(data)
    except ValueError:
        return
    assert type(state.enabled) is bool and type(state.version) is int and state.version > 0
    assert state.enabled is data["enabled"] and state.version == data["version"]
    assert SwitchState.from_dict(state.as_dict()) == state


# -- which registry a change belongs to -----------------------------------------------------


class _Local(Switchboard):
    """A board that shares nothing: what is handed to it is kept for the test to see."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[tuple[str, bool, str]] = []

    def publish(self, name: str, enabled: bool, *, origin: str) -> None:
        self.published.append((name, enabled, origin))

    def publish_config(self, name: str, model: str, config: dict[str, Any]) -> None:
        pass


def test_an_auto_disable_is_handed_only_to_the_board_of_the_registry_it_tripped_in(
    boards: list[PluginRegistry],
) -> None:
    a, JobA = fragile_registry(boards, max_failures=1)
    b, _ = fragile_registry(boards, max_failures=1)  # the same plugin name in another registry
    board_a, board_b = a.share(_Local()), b.share(_Local())
    logging.getLogger("earnorm_aop").disabled = True
    try:
        assert JobA().work() == "done"  # tripped in a
    finally:
        logging.getLogger("earnorm_aop").disabled = False
    assert board_a.published == [("fragile", False, "max_failures")]
    assert board_b.published == []
    assert b.get_plugin("fragile").enabled


def test_a_shared_configuration_reweaves_only_the_models_of_its_registry(
    boards: list[PluginRegistry],
) -> None:
    a, b = PluginRegistry(group=None), PluginRegistry(group=None)
    for reg in (a, b):
        reg.register("tag", Tag)
        boards.append(reg)
    JobA, JobB = tagged_job(a), tagged_job(b)
    assert model_path(JobA) == model_path(JobB)
    board = a.share(_Local())
    assert board.apply_config(SharedConfig("tag", model_path(JobA), {"label": "shared"}, 1))
    assert seen(JobA) == ["shared"]
    assert seen(JobB) == ["declared"]  # the same path in another registry: untouched


def test_a_shared_state_read_while_a_local_change_waits_does_not_undo_it(
    redis_url: str, boards: list[PluginRegistry]
) -> None:
    reg, Job = probe_registry(boards)
    board = reg.share(PausedBoard(redis_url, "waiting", **FAST))
    assert eventually(lambda: board.connected)
    board.pause_next = True
    reg.disable("probe")
    assert board.writing.wait(30)  # the disable is not written yet ...
    elsewhere = RedisSwitchboard(redis_url, "waiting")
    assert elsewhere.set("probe", True) is not None  # ... when another process enables
    board._catch_up()  # and this one reads the hash
    assert seen(Job) == []  # its own, later change still in force here
    board.go.set()
    assert eventually(lambda: not board.pending())
    assert elsewhere.states()["probe"].enabled is False  # written after: the last wins
    assert eventually(lambda: seen(Job) == [])
    elsewhere.client.close()


def test_local_changes_keep_the_terms_of_the_first_and_rebase_on_its_write() -> None:
    from earnorm_aop.runtime._switch_changes import LocalChanges

    noted: list[Any] = []
    changes = LocalChanges(noted.append)
    changes.add("probe", False, "disable", lambda: 5)  # made during an outage, on version 5
    changes.add("probe", True, "enable", lambda: None)  # again, once reconnected
    field, first = changes.first()  # type: ignore[misc]
    assert (field, first.what, first.expect) == ("probe", True, 5)  # the first one's terms
    changes.add("probe", False, "disable", lambda: None)  # changed while being written
    written = SwitchState("probe", True, 9)
    changes.written("probe", first, written)
    assert noted == [written]
    _, later = changes.first()  # type: ignore[misc]
    assert (later.what, later.expect) == (False, 9)  # made on that write
    changes.written("probe", later, None)  # refused: dropped
    assert changes.first() is None and changes.view() == {}
    changes.add("config:tag:m.Job", ("tag", "m.Job", {"label": "x"}), "reconfigure", lambda: 0)
    assert changes.view() == {"config:tag:m.Job": {"label": "x"}}
    assert "config:tag:m.Job" in changes and changes.fields() == {"config:tag:m.Job"}
