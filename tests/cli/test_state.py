"""``earnorm-aop switch export`` / ``switch apply FILE``: plugin state as code (TOML).

Against a real redis-server (the shared board) and locally (this process's
registry); refused files name the line and the plugin; exit codes a pipeline
reads (0 no change, 4 applied or pending, 1 refused, 3 unreachable).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from _builtin_backends import free_port, redis_server, redis_url  # noqa: F401
from hypothesis import given
from hypothesis import strategies as st

from earnorm_aop import PluginRegistry, plugin, with_plugins
from earnorm_aop.cli import main
from earnorm_aop.cli._state import State, export_state, parse_state
from earnorm_aop.runtime.redis_switchboard import RedisSwitchboard
from earnorm_aop.weaving import weaver


@pytest.fixture
def reg() -> Iterator[PluginRegistry]:
    registry = PluginRegistry(group=None)
    for name in ("audit", "strict", "cache"):

        @plugin(name, registry=registry)
        class P:
            def before_save(self) -> None:
                pass

    @with_plugins("audit", "strict", "cache", registry=registry)
    class Article:
        def save(self) -> None:
            pass

    try:
        yield registry
    finally:
        weaver.unweave(Article)


def test_export_then_apply_the_same_file_is_no_change(
    redis_url: str,  # noqa: F811
    reg: PluginRegistry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    board = RedisSwitchboard(redis_url, "shop")
    board.set("strict", False)
    board.publish_rollout("audit", {"percent": 10, "by": "actor", "salt": ""})
    board.set_config("cache", "shop.models.Article", {"ttl": 5, "prefix": "a b"})
    out = tmp_path / "state.toml"
    redis = ["--redis", redis_url, "--namespace", "shop"]
    assert main(["switch", "export", "-o", str(out), *redis], reg=reg) == 0
    doc = tomllib.loads(out.read_text())
    assert doc["plugins"]["strict"] == {"enabled": False}
    assert doc["plugins"]["audit"]["rollout"] == {"percent": 10, "by": "actor", "salt": ""}
    assert doc["configs"] == [
        {"plugin": "cache", "model": "shop.models.Article", "options": {"ttl": 5, "prefix": "a b"}}
    ]
    assert main(["switch", "apply", str(out), *redis], reg=reg) == 0
    assert "no change" in capsys.readouterr().out


def test_apply_shows_the_diff_dry_run_writes_nothing_then_applies(
    redis_url: str,  # noqa: F811
    reg: PluginRegistry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    wanted = tmp_path / "prod.toml"
    wanted.write_text(
        '[plugins.audit]\nenabled = true\nrollout = { percent = 25, by = "tenant" }\n\n'
        "[plugins.strict]\nenabled = false\n\n"
        '[[configs]]\nplugin = "cache"\nmodel = "shop.models.Article"\noptions = { ttl = 60 }\n'
    )
    redis = ["--redis", redis_url, "--namespace", "shop"]
    board = RedisSwitchboard(redis_url, "shop")
    assert main(["switch", "apply", str(wanted), "--dry-run", *redis], reg=reg) == 4
    out = capsys.readouterr().out
    assert "~ strict: off (was on)" in out
    assert "audit: rollout" in out and "+ cache on shop.models.Article" in out
    assert board.states() == {} and board.rollouts() == {} and board.configs() == []
    assert main(["switch", "apply", str(wanted), *redis], reg=reg) == 4
    assert "3 change(s) applied" in capsys.readouterr().out
    assert board.states()["strict"].enabled is False
    assert board.states()["audit"].enabled is True
    assert board.rollouts() == {"audit": {"percent": 25, "by": "tenant", "salt": ""}}
    assert [(c.name, c.model, c.config) for c in board.configs()] == [
        ("cache", "shop.models.Article", {"ttl": 60})
    ]
    assert main(["switch", "apply", str(wanted), *redis], reg=reg) == 0  # idempotent


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[plugins.audit]\nenabled = yes\n", "not valid TOML: Invalid value (at line 2, column"),
        (
            "[plugins.audit]\nenabled = true\n\n[plugins.audti]\nenabled = false\n",
            "prod.toml:4: plugin 'audti' is not a known plugin; did you mean 'audit'?",
        ),
        (
            "[plugins.strict]\nrollout = { percent = 120 }\n",
            "prod.toml:1: plugin 'strict': rollout of 'strict': percent must be from 0 to 100",
        ),
        (
            "[plugins.strict]\nenabled = 1\n",
            "prod.toml:1: plugin 'strict': enabled must be true or false, not 1",
        ),
        (
            "[plugins.cache]\nenable = false\n",
            "prod.toml:1: plugin 'cache': unknown key 'enable'; a plugin takes enabled and rollout",
        ),
        ("[switches]\naudit = true\n", "prod.toml:1: unknown section 'switches'"),
    ],
)
def test_a_bad_file_is_refused_naming_the_line_and_the_plugin(
    redis_url: str,  # noqa: F811
    reg: PluginRegistry,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    text: str,
    message: str,
) -> None:
    bad = tmp_path / "prod.toml"
    bad.write_text("[plugins.audit]\nenabled = false\n\n" * 0 + text)
    assert main(["switch", "apply", str(bad), "--redis", redis_url], reg=reg) == 1
    err = capsys.readouterr().err
    assert message in err, err
    assert RedisSwitchboard(redis_url).states() == {}  # nothing applied


def test_apply_locally_changes_this_process(
    reg: PluginRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "local.toml"
    state.write_text(
        "[plugins.strict]\nenabled = false\n\n[plugins.audit]\nrollout = { percent = 5 }\n"
    )
    assert main(["switch", "apply", str(state)], reg=reg) == 4
    assert reg.get_plugin("strict").enabled is False
    assert reg.rollouts()["audit"].percent == 5
    capsys.readouterr()
    assert main(["switch", "export"], reg=reg) == 0
    exported = tomllib.loads(capsys.readouterr().out)
    assert exported["plugins"]["strict"] == {"enabled": False}
    assert main(["switch", "apply", str(state)], reg=reg) == 0


def test_an_unreachable_board_exits_3(
    reg: PluginRegistry, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "s.toml"
    state.write_text("[plugins.strict]\nenabled = false\n")
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["switch", "apply", str(state), "--redis", url, "--timeout", "0.2"], reg=reg) == 3
    assert "cannot reach Redis" in capsys.readouterr().err


_names = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)
_scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.text(max_size=12),
    st.floats(allow_nan=False, allow_infinity=False),
)


@given(
    plugins=st.dictionaries(
        _names,
        st.fixed_dictionaries(
            {
                "enabled": st.booleans(),
                "rollout": st.one_of(
                    st.none(),
                    st.builds(
                        lambda p, by, salt: {"percent": p, "by": by, "salt": salt},
                        st.floats(0, 100, allow_nan=False),
                        st.sampled_from(["actor", "tenant", "request_id"]),
                        st.text(max_size=5),
                    ),
                ),
            }
        ),
        max_size=4,
    ),
    configs=st.dictionaries(
        st.tuples(_names, st.from_regex(r"[a-z]+\.[A-Z][a-z]+", fullmatch=True)),
        st.dictionaries(_names, st.one_of(_scalars, st.lists(_scalars, max_size=3)), max_size=3),
        max_size=3,
    ),
)
def test_what_export_writes_apply_reads_back_the_same(
    plugins: dict[str, dict[str, object]],
    configs: dict[tuple[str, str], dict[str, object]],
) -> None:
    state = State(plugins, configs)
    known = set(plugins) | {p for p, _ in configs}
    back = parse_state(export_state(state, source="a test"), "x.toml", known)
    assert back.plugins == plugins
    assert back.configs == configs
