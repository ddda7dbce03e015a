"""The ``earnorm-aop`` command: ``main([...])`` in-process, and once as ``python -m earnorm_aop``.

The models ``explain`` and ``check`` import are written as modules under
``tmp_path``; their plugins live in an isolated registry of the module itself.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from earnorm_aop import PluginRegistry
from earnorm_aop.cli import main
from earnorm_aop.weaving import weaver

BUILTINS = ["audit", "cache", "softdelete", "timestamp", "validation"]

GOOD = """
from earnorm_aop import PluginRegistry, hook, plugin, with_plugins

REG = PluginRegistry(group=None)

@plugin("stamp", registry=REG)
class Stamp:
    def before_save(self, instance):
        instance.stamped = True

    @hook("after_change")
    def changed(self, instance):
        pass

@with_plugins("stamp", registry=REG)
class Note:
    def save(self):
        return "saved"

class Plain:
    def save(self):
        return "saved"

NOT_A_CLASS = 3
"""

# The pointcut names a method the model does not have: a WeavingError at import.
BAD_POINTCUT = """
from earnorm_aop import PluginRegistry, hook, plugin, with_plugins

REG = PluginRegistry(group=None)

@plugin("strict", registry=REG)
class Strict:
    @hook("before:publish")
    def check(self):
        pass

@with_plugins("strict", registry=REG)
class Article:
    def save(self):
        return "saved"
"""

# An unknown option: a PluginConfigError at import.
BAD_CONFIG = """
from earnorm_aop import PluginRegistry, plugin, with_plugins

REG = PluginRegistry(group=None)

@plugin("stamp", registry=REG)
class Stamp:
    def __init__(self, field: str = "stamped") -> None:
        self.field = field

    def before_save(self, instance):
        setattr(instance, self.field, True)

@with_plugins("stamp", registry=REG, stamp={"feild": "x"})
class Memo:
    def save(self):
        return "saved"
"""


@pytest.fixture
def write_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], str]]:
    """Write a module under ``tmp_path`` (the current directory) and return its unique name.

    ``sys.path`` and ``sys.modules`` are restored and the classes woven are
    unwoven afterwards.
    """
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(weaver.woven_classes())
    names: list[str] = []

    def write(source: str) -> str:
        name = f"cli_models_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        names.append(name)
        return name

    yield write
    for name in names:
        sys.modules.pop(name, None)
    for klass in set(weaver.woven_classes()) - before:
        weaver.unweave(klass)


# -- list ---------------------------------------------------------------------------


def test_list_shows_the_builtins_found_as_entry_points(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "VERSION", "ENABLED", "HOOKS", "SOURCE"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(BUILTINS) <= set(rows)
    assert "entry point earnorm_aop.plugins.timestamp:TimestampPlugin" in rows["timestamp"]
    assert "entry point earnorm_aop.plugins.softdelete:SoftDeletePlugin" in rows["softdelete"]
    assert rows["softdelete"].split()[1:4] == ["1.0.0", "yes", "3"]


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert set(BUILTINS) <= set(rows)
    cache = rows["cache"]
    assert cache["source"].startswith("entry point earnorm_aop.plugins.cache:CachePlugin")
    assert cache["enabled"] is True
    assert cache["hooks"] == 4
    assert set(cache) == {"name", "version", "source", "enabled", "hooks"}


def test_list_reads_the_given_registry_and_shows_disabled_plugins(
    capsys: pytest.CaptureFixture[str],
) -> None:
    reg = PluginRegistry(group=None)

    class Stamp:
        version = "2.1.0"

        def before_save(self) -> None:
            pass

    reg.register("stamp", Stamp)
    reg.disable("stamp")
    assert main(["list", "--json"], reg=reg) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"name": "stamp", "version": "2.1.0", "source": "registered", "enabled": False, "hooks": 1}
    ]


def test_list_import_registers_the_plugins_of_a_module(
    write_module: Callable[[str], str],
    default_names: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = write_module(
        """
        from earnorm_aop import plugin

        @plugin("cli_probe", version="3.0.0")
        class Probe:
            def before_save(self):
                pass
        """
    )
    default_names.append("cli_probe")
    assert main(["list", "--json"]) == 0
    assert "cli_probe" not in {r["name"] for r in json.loads(capsys.readouterr().out)}
    assert main(["list", "--json", "--import", name]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["cli_probe"]["version"] == "3.0.0"
    assert rows["cli_probe"]["source"] == "registered"
    assert set(BUILTINS) <= set(rows)


def test_import_of_a_missing_module_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "cache", "--import", "no_such_module_xyz"]) == 2
    assert "could not import module 'no_such_module_xyz'" in capsys.readouterr().err


# -- info -----------------------------------------------------------------------------


def test_info_cache_shows_hooks_and_config_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "cache"]) == 0
    out = capsys.readouterr().out
    assert "name:        cache" in out
    assert "version:     1.0.0" in out
    assert "  around:get\n" in out
    schema = json.loads(out[out.index("config schema:\n") + len("config schema:\n") :])
    assert schema["properties"]["ttl"]["default"] == 300.0
    assert {"backend", "ttl", "prefix"} <= set(schema["properties"])


def test_info_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "timestamp", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "timestamp"
    assert data["class"] == "earnorm_aop.plugins.timestamp.TimestampPlugin"
    assert data["priority"] == 50
    assert len(data["hooks"]) == 3
    assert data["config_schema"]["type"] == "object"


def test_info_shows_requires(capsys: pytest.CaptureFixture[str]) -> None:
    reg = PluginRegistry(group=None)

    class Base:
        def before_save(self) -> None:
            pass

    class Dependent:
        requires: ClassVar[dict[str, str]] = {"base": ">=1.0"}
        description = "needs base"

        def after_save(self) -> None:
            pass

    reg.register_many({"base": Base, "dependent": Dependent})
    assert main(["info", "dependent"], reg=reg) == 0
    out = capsys.readouterr().out
    assert "requires:    base>=1.0" in out
    assert "description: needs base" in out


def test_info_unknown_name_exits_2_and_suggests_the_closest(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["info", "timestmp"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "no plugin named 'timestmp'; did you mean 'timestamp'?" in captured.err


# -- explain ------------------------------------------------------------------------


def test_explain_prints_the_advice_chain(
    write_module: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = write_module(GOOD)
    assert main(["explain", f"{name}:Note"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "Note"
    assert "plugins, in order: stamp" in out
    assert any(line.split()[:3] == ["1.", "before", "stamp.before_save"] for line in lines)
    assert "after_change: stamp.changed" in out
    # the same text as explain() on the imported class
    from earnorm_aop import explain

    assert out == explain(sys.modules[name].Note) + "\n"


def test_explain_a_class_without_plugins(
    write_module: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = write_module(GOOD)
    assert main(["explain", f"{name}:Plain"]) == 0
    assert capsys.readouterr().out == "Plain\n  (no plugins)\n"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("no_such_module_xyz:Note", "could not import module 'no_such_module_xyz'"),
        ("{mod}:Missing", "module '{mod}' has no attribute 'Missing'"),
        ("{mod}:NOT_A_CLASS", "'{mod}:NOT_A_CLASS' is not a class but int"),
        ("{mod}", "'{mod}' is not MODULE:CLASS"),
    ],
)
def test_explain_bad_target_exits_2_naming_it(
    write_module: Callable[[str], str],
    capsys: pytest.CaptureFixture[str],
    target: str,
    message: str,
) -> None:
    name = write_module(GOOD)
    assert main(["explain", target.format(mod=name)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert message.format(mod=name) in captured.err


def test_explain_a_module_that_fails_to_weave_exits_1(
    write_module: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = write_module(BAD_POINTCUT)
    assert main(["explain", f"{name}:Article"]) == 1
    err = capsys.readouterr().err
    assert "WeavingError" in err
    assert "publish" in err


# -- check --------------------------------------------------------------------------


def test_check_reports_woven_plugins_and_exits_0(
    write_module: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = write_module(GOOD)
    assert main(["check", f"{name}:Note", f"{name}:Plain"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"ok    {name}:Note: stamp",
        f"ok    {name}:Plain: (no plugins)",
    ]


def test_check_reports_each_failure_and_exits_1(
    write_module: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    good, bad_pointcut, bad_config = (
        write_module(GOOD),
        write_module(BAD_POINTCUT),
        write_module(BAD_CONFIG),
    )
    targets = [f"{good}:Note", f"{bad_pointcut}:Article", f"{bad_config}:Memo"]
    assert main(["check", *targets]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"ok    {good}:Note: stamp"
    assert lines[1].startswith(f"FAIL  {bad_pointcut}:Article: WeavingError: ")
    assert "strict" in lines[1]
    assert lines[2].startswith(f"FAIL  {bad_config}:Memo: PluginConfigError: ")
    assert "feild" in lines[2]


def test_check_a_failed_module_is_imported_once(
    write_module: Callable[[str], str],
    default_names: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The module registers its plugin in the default registry before weaving
    # fails: running its body again would meet a DuplicatePluginError and hide
    # the real error, so both classes must report the WeavingError.
    name = write_module(
        BAD_POINTCUT.replace("REG = PluginRegistry(group=None)", "REG = None").replace(
            '"strict"', '"cli_strict"'
        )
    )
    default_names.append("cli_strict")
    assert main(["check", f"{name}:Article", f"{name}:Other"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert all("WeavingError" in line and "cli_strict" in line for line in lines), lines


def test_check_bad_path_exits_2(
    write_module: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = write_module(GOOD)
    assert main(["check", f"{name}:Note", f"{name}:Gone"]) == 2
    captured = capsys.readouterr()
    assert captured.out == f"ok    {name}:Note: stamp\n"
    assert f"module '{name}' has no attribute 'Gone'" in captured.err


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "required: COMMAND" in capsys.readouterr().err


# -- as a program -----------------------------------------------------------------------


def test_python_dash_m_list() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "earnorm_aop", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert set(BUILTINS) <= set(rows)
    assert "entry point earnorm_aop.plugins.cache:CachePlugin" in rows["cache"]
