"""``earnorm-aop plugins [--json]`` and ``plugins check``: installed plugin distributions.

Each test installs fake distributions the way pip leaves them: a
``NAME-VERSION.dist-info`` folder (``METADATA``, ``entry_points.txt``) and the
plugin's module, in a folder put on ``sys.path``, where
:mod:`importlib.metadata` finds them as it finds any installed distribution.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from earnorm_aop import PluginRegistry
from earnorm_aop.cli import main
from earnorm_aop.cli._catalogue import installed_version

Install = Callable[..., str]


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Install]:
    """``install(dist, version, requires=[...], plugins={name: (plugin_version, {dep: pin})})``.

    Returns the module name the plugin classes live in (unique per call).
    """
    monkeypatch.syspath_prepend(str(tmp_path))
    modules: list[str] = []

    def make(
        dist: str,
        version: str = "1.0",
        requires: tuple[str, ...] = (f"earnorm-aop>={installed_version()}",),
        plugins: dict[str, tuple[str, dict[str, str]]] | None = None,
    ) -> str:
        module = f"fake_plugins_{uuid.uuid4().hex[:8]}"
        modules.append(module)
        source = ["from pydantic import BaseModel, Field"]
        lines = ["[earnorm_aop.plugins]"]
        for name, (plugin_version, needs) in (plugins or {}).items():
            source.append(
                textwrap.dedent(
                    f'''
                    class {name.title()}Plugin:
                        """The {name} plugin."""
                        version = {plugin_version!r}
                        requires = {needs!r}

                        class Config(BaseModel):
                            size: int = Field(3, description="How many.")

                        def before_save(self, instance):
                            pass
                    '''
                )
            )
            lines.append(f"{name} = {module}:{name.title()}Plugin")
        (tmp_path / f"{module}.py").write_text("\n".join(source))
        info = tmp_path / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        metadata = ["Metadata-Version: 2.1", f"Name: {dist}", f"Version: {version}"]
        metadata += [f"Requires-Dist: {r}" for r in requires]
        (info / "METADATA").write_text("\n".join(metadata) + "\n")
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        importlib.invalidate_caches()
        return module

    yield make
    for module in modules:
        sys.modules.pop(module, None)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv), reg=PluginRegistry())
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_catalogue_lists_each_distribution_its_range_and_its_plugins(
    install: Install, capsys: pytest.CaptureFixture[str]
) -> None:
    install(
        "earnorm-aop-stamp",
        "2.3",
        requires=(
            "earnorm-aop[django]>=0.1,<99",
            "earnorm-aop>=99; extra == 'test'",  # an extra's pin is not the distribution's
            "pydantic>=2",
        ),
        plugins={"stamp": ("1.4.0", {"timestamp": ">=1.0"})},
    )
    code, out = run(capsys, "plugins")
    assert code == 0
    (row,) = [line.split() for line in out.splitlines() if line.startswith("earnorm-aop-stamp")]
    assert row == [
        "earnorm-aop-stamp",
        "2.3",
        "<99,>=0.1",
        "yes",
        "stamp",
        "1.4.0",
        "timestamp>=1.0",
    ]
    assert any(
        line.split()[:1] == ["earnorm-aop"] and "timestamp" in line for line in out.splitlines()
    )

    code, out = run(capsys, "plugins", "--json")
    assert code == 0
    (dist,) = [d for d in json.loads(out) if d["distribution"] == "earnorm-aop-stamp"]
    assert dist["version"] == "2.3" and dist["fits"] is True
    assert dist["requires_earnorm_aop"] == "<99,>=0.1"
    (plugin,) = dist["plugins"]
    assert plugin["version"] == "1.4.0" and plugin["requires"] == {"timestamp": ">=1.0"}
    assert plugin["hooks"] == ["before_save"]
    assert plugin["config_schema"]["properties"]["size"]["description"] == "How many."
    assert "metrics" not in plugin  # only while metering is on
    code, out = run(capsys, "plugins", "check")
    assert code == 0 and "FAIL" not in out and out.startswith("ok: ")


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (
            [("old-plugin", ("earnorm-aop>=99",), {"old": ("1.0", {})})],
            "old-plugin 1.0 needs earnorm-aop>=99, but earnorm-aop",
        ),
        (
            [("needy", None, {"needy": ("1.0", {"timestamp2": ""})})],
            "plugin 'needy' requires 'timestamp2', which is not installed (did you mean "
            "'timestamp'?)",
        ),
        (
            [("pinned", None, {"pinned": ("1.0", {"timestamp": ">=9"})})],
            "plugin 'pinned' requires timestamp>=9, but timestamp 1.0.0 is installed",
        ),
        (
            [("loop", None, {"ping": ("1.0", {"pong": ""}), "pong": ("1.0", {"ping": ""})})],
            "plugins require each other in a cycle: ping -> pong -> ping",
        ),
        (
            [("one", None, {"dup": ("1.0", {})}), ("two", None, {"dup": ("2.0", {})})],
            "plugin name 'dup' is claimed by 2 distributions: one 1.0, two 1.0",
        ),
    ],
    ids=["incompatible", "missing", "mismatched", "cycle", "duplicate"],
)
def test_check_exits_one_naming_each_problem(
    install: Install,
    capsys: pytest.CaptureFixture[str],
    setup: list[tuple[str, tuple[str, ...] | None, dict[str, tuple[str, dict[str, str]]]]],
    expected: str,
) -> None:
    for dist, requires, plugins in setup:
        if requires is None:
            install(dist, plugins=plugins)
        else:
            install(dist, requires=requires, plugins=plugins)
    code, out = run(capsys, "plugins", "check")
    assert code == 1
    assert f"FAIL {expected}" in out
    assert out.rstrip().splitlines()[-1].startswith("FAILED:")
    code, out = run(capsys, "plugins", "check", "--json")
    report = json.loads(out)
    assert code == 1 and not report["ok"]
    assert any(p.startswith(expected) for p in report["problems"])


def test_a_plugin_that_does_not_load_is_reported_not_fatal(
    install: Install, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    module = install("broken", plugins={"fine": ("1.0", {})})
    (tmp_path / f"{module}.py").write_text("raise ImportError('no such thing')\n")
    code, out = run(capsys, "plugins")
    assert code == 0 and "error: ImportError: no such thing" in out
    code, out = run(capsys, "plugins", "check")
    assert code == 1 and "plugin 'fine' of broken 1.0 does not load: ImportError" in out


def test_metrics_show_only_while_metering_is_on(capsys: pytest.CaptureFixture[str]) -> None:
    from earnorm_aop import start_metering, stop_metering

    def timestamp_entry() -> dict[str, Any]:
        code, out = run(capsys, "plugins", "--json")
        assert code == 0
        (dist,) = [d for d in json.loads(out) if d["distribution"] == "earnorm-aop"]
        (plugin,) = [p for p in dist["plugins"] if p["name"] == "timestamp"]
        return dict(plugin)

    assert "metrics" not in timestamp_entry()
    start_metering()
    try:
        metrics = timestamp_entry()["metrics"]
    finally:
        stop_metering()
    assert metrics["name"] == "timestamp" and metrics["metering"] is True
    assert metrics["enabled"] is True and metrics["failures"] == 0
