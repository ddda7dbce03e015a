"""The ``earnorm-aop`` command: ``main([...])`` in-process, and once as ``python -m earnorm_aop``.

The models ``explain`` and ``check`` import are written as modules under
``tmp_path``; their plugins live in an isolated registry of the module itself.
"""

from __future__ import annotations

import json
import re
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

    @hook("restocked")
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
    assert rows["softdelete"].split()[1:4] == ["1.0.0", "yes", "4"]


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


def test_info_cache_shows_hooks_and_options_as_a_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "cache"]) == 0
    out = capsys.readouterr().out
    assert "name:        cache" in out
    assert "version:     1.0.0" in out
    assert "  around:get\n" in out
    lines = out.splitlines()
    header = lines.index("options:") + 1
    assert lines[header].split() == ["OPTION", "TYPE", "DEFAULT", "DESCRIPTION"]
    rows = {line.split()[0]: line.split(None, 3) for line in lines[header + 1 :] if line[2] != " "}
    assert rows["ttl"] == ["ttl", "float", "300.0", "Seconds an entry lives."]
    assert rows["backend"][:3] == ["backend", "'memory'", "|"]  # an enum: its values
    assert rows["maxsize"][1:3] == ["int", "10000"]
    assert "{" not in out  # no JSON Schema in the text output


def test_info_shows_types_and_defaults_json_schema_cannot(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["info", "audit"]) == 0
    rows = {
        line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line[:2] == "  "
    }
    assert rows["exclude"].split()[1:3] == ["list[str]", "[]"]  # a default_factory
    assert rows["clock"].split()[1:6] == ["callable", "|", "dotted", "path", "|"]


def test_info_text_has_no_rest_markup(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "timestamp"]) == 0
    out = capsys.readouterr().out
    assert "description: Stamp created_at once and updated_at on every save" in out
    assert "``" not in out
    assert main(["info", "timestamp", "--json"]) == 0
    assert "``" not in json.loads(capsys.readouterr().out)["description"]


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("``created_at`` once", "created_at once"),
        (":class:`~earnorm_aop.PluginError` raised", "PluginError raised"),
        ("[`PluginError`][earnorm_aop.errors.PluginError] raised", "PluginError raised"),
        ("[`Adapter.defer`][earnorm_aop.adapters.base.Adapter.defer], `x`", "Adapter.defer, x"),
        (":func:`earnorm_aop.weave`", "earnorm_aop.weave"),
        (":ref:`the semantics <semantics>`", "the semantics"),
        (":py:meth:`save`, `default role`", "save, default role"),
        ("no markup: a*b, 'x'", "no markup: a*b, 'x'"),
    ],
)
def test_rest_markup_is_removed(text: str, plain: str) -> None:
    from earnorm_aop.cli._text import plain as _plain

    assert _plain(text) == plain


def test_the_clock_default_the_schema_states_is_the_documented_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/plugins.md's `clock` rows and each plugin's schema say the same default."""
    docs = (Path(__file__).resolve().parents[2] / "docs" / "plugins.md").read_text()
    documented = {
        re.sub(r"`", "", cell).removeprefix("None: ")
        for cell in re.findall(r"^\| `clock` \| ([^|]+) \|", docs, re.M)
    }
    assert len(documented) == 1, documented  # one wording for every plugin with a clock
    (default,) = documented
    for name in ("timestamp", "softdelete", "audit"):
        assert main(["info", name, "--json"]) == 0
        clock = json.loads(capsys.readouterr().out)["config_schema"]["properties"]["clock"]
        assert clock["default"] is None
        assert clock["description"].endswith(f"default: {default.strip()}."), name


def test_info_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "timestamp", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["name"] == "timestamp"
    assert data["class"] == "earnorm_aop.plugins.timestamp.TimestampPlugin"
    assert data["priority"] == 50
    assert len(data["hooks"]) == 3
    assert data["config_schema"]["type"] == "object"
    assert data["config_schema"]["properties"]["created_field"]["default"] == "created_at"


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
    assert "restocked: stamp.changed" in out
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


def test_check_json(write_module: Callable[[str], str], capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = write_module(GOOD), write_module(BAD_CONFIG)
    assert main(["check", "--json", f"{good}:Note", f"{good}:Plain", f"{bad}:Memo"]) == 1
    results = json.loads(capsys.readouterr().out)
    assert results[:2] == [
        {"target": f"{good}:Note", "ok": True, "plugins": ["stamp"]},
        {"target": f"{good}:Plain", "ok": True, "plugins": []},
    ]
    failed = results[2]
    assert (failed["target"], failed["ok"], failed["error"]) == (
        f"{bad}:Memo",
        False,
        "PluginConfigError",
    )
    assert "feild" in failed["message"]


def test_check_without_targets_or_django_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DJANGO_SETTINGS_MODULE", raising=False)
    assert main(["check"]) == 2
    assert "DJANGO_SETTINGS_MODULE" in capsys.readouterr().err


def test_explain_json(
    write_module: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = write_module(GOOD)
    assert main(["explain", f"{name}:Note", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["model"] == f"{name}.Note"
    assert data["plugins"] == [{"name": "stamp", "enabled": True}]
    (save,) = data["methods"]
    assert save["method"] == "save" and save["installed"] is True
    assert save["advice"] == [{"kind": "before", "advice": "stamp.before_save", "enabled": True}]
    assert data["events"] == {"restocked": ["stamp.changed"]}
    assert main(["explain", f"{name}:Plain", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["methods"] == []


@pytest.mark.parametrize(
    "argv",
    [["list"], ["info", "cache"], ["explain", "{mod}:Note"], ["check", "{mod}:Note"]],
    ids=lambda argv: argv[0],
)
def test_every_command_takes_json(
    argv: list[str], write_module: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = write_module(GOOD)
    assert main([a.format(mod=name) for a in argv] + ["--json"]) == 0
    assert json.loads(capsys.readouterr().out)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"earnorm-aop {version('earnorm-aop')}\n"


@pytest.mark.parametrize("argv", [["--help"], ["check", "--help"], ["explain", "--help"]])
def test_help_explains_targets_and_django_settings(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "MODULE:CLASS names a model" in out
    assert '"Outer.Inner" for a nested class' in out
    assert "DJANGO_SETTINGS_MODULE: when set" in out
    assert "earnorm-aop check blog.models:Article" in out


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


# -- issue 17: shadowed built-ins, own descriptions, JSON alone on stdout ----------------

PRINTS = GOOD.replace(
    "REG = PluginRegistry", 'print("hello from the user module")\nREG = PluginRegistry'
)


@pytest.mark.parametrize(
    "argv",
    [["explain", "{mod}:Note"], ["check", "{mod}:Note"], ["list", "--import", "{mod}"]],
    ids=lambda argv: argv[0],
)
def test_json_commands_print_only_json_when_user_code_prints(
    argv: list[str], write_module: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    name = write_module(PRINTS)
    assert main([a.format(mod=name) for a in argv] + ["--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)
    assert "hello from the user module" in captured.err


def test_docs_in_json_prints_only_json_when_user_code_prints(
    write_module: Callable[[str], str], capsys: pytest.CaptureFixture[str]
) -> None:
    """``docs --format json`` is JSON output too: an imported module's prints go to stderr."""
    name = write_module(PRINTS)
    assert main(["docs", "timestamp", "--import", name, "--format", "json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["name"] == "timestamp"
    assert "hello from the user module" in captured.err


def test_info_of_a_plugin_without_a_docstring_has_no_description(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from earnorm_aop import BasePlugin

    reg = PluginRegistry(group=None)

    class Quiet(BasePlugin):
        name = "quiet"
        registry = reg

        def before_save(self, instance: object) -> None:
            pass

    class Told(BasePlugin):
        """Says what it does."""

        name = "told"
        registry = reg

        def before_save(self, instance: object) -> None:
            pass

    assert main(["info", "quiet"], reg=reg) == 0
    assert "description: (none)" in capsys.readouterr().out
    assert main(["info", "quiet", "--json"], reg=reg) == 0
    assert json.loads(capsys.readouterr().out)["description"] is None
    assert main(["info", "told", "--json"], reg=reg) == 0
    assert json.loads(capsys.readouterr().out)["description"] == "Says what it does."


def test_check_lists_shadowed_builtins(
    write_module: Callable[[str], str],
    default_names: list[str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    name = write_module(
        """
        import warnings
        from earnorm_aop import plugin

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")

            @plugin("timestamp")
            class TimestampPlugin:
                def before_save(self, instance):
                    pass

        class Plain:
            pass
        """
    )
    default_names.append("timestamp")
    assert main(["check", f"{name}:Plain"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == (
        f"SHADOW plugin 'timestamp': {name}.TimestampPlugin replaces the built-in "
        "earnorm_aop.plugins.timestamp.TimestampPlugin (register it under another name to "
        "keep both)"
    )
    assert main(["check", f"{name}:Plain", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[1] == {
        "target": "timestamp",
        "ok": True,
        "shadowed": "earnorm_aop.plugins.timestamp.TimestampPlugin",
        "by": f"{name}.TimestampPlugin",
    }


# -- every bad argument: one line on stderr, exit 2 ------------------------------------------

BAD_ARGUMENTS = [
    (["switch", "audit", "--redis", "redis://127.0.0.1:1/0", "--timeout", "-1"], "--timeout"),
    (["switch", "audit", "--redis", "redis://127.0.0.1:1/0", "--timeout", "nan"], "--timeout"),
    (["switch", "audit", "--redis", "redis://127.0.0.1:1/0", "--timeout", "inf"], "--timeout"),
    (["switch", "audit", "--redis", "redis://127.0.0.1:1/0", "--timeout", "0"], "--timeout"),
    (["switch", "audit", "--redis", "redis://127.0.0.1:1/0", "--timeout", "soon"], "--timeout"),
    (["switch", "audit", "maybe", "--redis", "redis://127.0.0.1:1/0"], "maybe"),
    (["switch", "audit"], "--redis"),
    (["switch", "--redis", "ftp://x"], "Redis URL"),
    (["switch", "--redis", "redis://127.0.0.1:1/0", "--namespace", ""], "namespace"),
    (["info"], "name"),
    (["info", "cache", "--jsn"], "--jsn"),
    (["explain"], "MODULE:CLASS"),
    (["explain", "nocolon"], "nocolon"),
    (["explain", "a:b", "c:d"], "c:d"),
    (["check", "", "--json"], "MODULE:CLASS"),
    (["list", "--import"], "--import"),
    (["frobnicate"], "frobnicate"),
    ([], "COMMAND"),
]


@pytest.mark.parametrize(("argv", "named"), BAD_ARGUMENTS)
def test_every_bad_argument_is_one_line_on_stderr_and_exit_2(
    argv: list[str], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert named in lines[0] and "error" in lines[0], lines
    assert "Traceback" not in captured.err


def test_a_bad_timeout_as_a_program_is_one_line_and_exit_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "earnorm_aop", "switch", *BAD_ARGUMENTS[0][0][2:]],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "--timeout" in done.stderr and "-1" in done.stderr


def test_help_still_prints_the_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["switch", "--help"]) == 0
    assert "usage: earnorm-aop switch" in capsys.readouterr().out


def test_python_dash_m_earnorm_aop_cli_still_runs() -> None:
    """``python -m earnorm_aop.cli`` (the spelling from before ``cli`` was a package)."""
    done = subprocess.run(
        [sys.executable, "-m", "earnorm_aop.cli", "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "timestamp" in done.stdout
