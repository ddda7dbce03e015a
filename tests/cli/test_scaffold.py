"""``earnorm-aop new plugin NAME``: a distribution that installs, passes its kit tests, is found.

The last test is the whole journey of a plugin author, as the issue asks: the
distribution is made in a temporary folder, installed with pip into a fresh
virtualenv together with this project, its own tests (on the conformance
kit) run there, and earnorm-aop finds the plugin by name and lists it as
fitting.  pip reads the machine's configured indexes and wheel folders.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from earnorm_aop.cli import main
from earnorm_aop.cli._catalogue import installed_version

ROOT = Path(__file__).resolve().parents[2]
FILES = {
    ".github/workflows/tests.yml",
    "README.md",
    "docs/tag_line.md",
    "earnorm_aop_tag_line/__init__.py",
    "earnorm_aop_tag_line/plugin.py",
    "pyproject.toml",
    "tests/test_tag_line.py",
}


def _new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["new", "plugin", "tag_line", "--dir", str(tmp_path)]) == 0
    assert "created" in capsys.readouterr().out
    return tmp_path / "earnorm-aop-tag-line"


def test_the_scaffold_is_a_distribution_with_its_entry_point_and_pins(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _new(tmp_path, capsys)
    found = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert found == FILES
    project = tomllib.loads((folder / "pyproject.toml").read_text())
    assert project["project"]["name"] == "earnorm-aop-tag-line"
    points = project["project"]["entry-points"]["earnorm_aop.plugins"]
    assert points == {"tag_line": "earnorm_aop_tag_line.plugin:TagLinePlugin"}
    major, minor = (int(p) for p in installed_version().split(".")[:2])
    upper = f"{major}.{minor + 1}" if major == 0 else f"{major + 1}"
    assert f"earnorm-aop>={installed_version()},<{upper}" in project["project"]["dependencies"]
    for path in folder.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")  # every template is valid Python
    workflow = (folder / ".github/workflows/tests.yml").read_text()
    for backend in ("memory", "pydantic", "django", "sqlalchemy", "sqlalchemy-async", "earnorm"):
        assert backend in workflow
    assert "--earnorm-backends=${{ matrix.backend }}" in workflow


def test_the_scaffold_refuses_bad_names_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _new(tmp_path, capsys)
    assert main(["new", "plugin", "tag_line", "--dir", str(tmp_path)]) == 2
    assert "already exists" in capsys.readouterr().err
    for bad in ("Tag", "tag-line", "class", "1tag"):
        assert main(["new", "plugin", bad, "--dir", str(tmp_path)]) == 2
        assert "lower-case Python identifier" in capsys.readouterr().err


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-4000:]}{result.stderr[-4000:]}"
    return result


@pytest.mark.ci_only("installs the new plugin and this project into a fresh virtualenv with pip")
def test_a_new_plugin_installs_passes_its_kit_tests_and_is_found_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _new(tmp_path, capsys)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = str(env_dir / "bin" / "python")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE", "PYTEST"))}
    env.pop("EARNORM_AOP_BACKENDS", None)
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # The build backend once, then both builds without an isolated environment each.
    _run([*pip, "hatchling"], folder, env)
    _run([*pip, "--no-build-isolation", str(ROOT), f"{folder}[test]"], folder, env)

    tests = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"], folder, env)
    summary = tests.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary, tests.stdout
    # Each check ran on the memory, pydantic, Django and SQLAlchemy backends.
    assert "11 passed" in summary or sys.version_info >= (3, 12), tests.stdout

    listed = json.loads(
        _run([python, "-m", "earnorm_aop", "plugins", "--json"], folder, env).stdout
    )
    (dist,) = [d for d in listed if d["distribution"] == "earnorm-aop-tag-line"]
    assert dist["fits"] is True and [p["name"] for p in dist["plugins"]] == ["tag_line"]
    found = _run(
        [
            python,
            "-c",
            "from earnorm_aop import registry; print(registry.get_plugin('tag_line').source)",
        ],
        folder,
        env,
    ).stdout
    assert "earnorm_aop_tag_line.plugin:TagLinePlugin" in found and "earnorm-aop-tag-line" in found
    _run([python, "-m", "earnorm_aop", "plugins", "check"], folder, env)
