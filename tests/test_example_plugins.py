"""The example plugin distributions (``examples/plugins/``), as a user gets them: from pip.

``tenant`` and ``slug`` were made with ``earnorm-aop new plugin``; each is its
own distribution with its own tests on the conformance kit.  Here both are
installed with pip, together with this project, into a fresh virtualenv, and
their tests run there on every backend: memory, pydantic, Django and
SQLAlchemy on SQLite, EarnORM (the virtualenv is made with Python 3.12+ where
one is found, as ``scripts/test.py`` finds it; required under ``CI=true``),
and the slug's two-process test on the private PostgreSQL cluster.
``earnorm-aop plugins check`` must find them fitting.  pip reads the
machine's configured indexes and wheel folders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from earnorm_aop.testing._ci import ci

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "plugins"


def _python312() -> str | None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from _bootstrap import interpreter

        return interpreter((3, 12))
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def _run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, f"{command}:\n{result.stdout[-6000:]}{result.stderr[-4000:]}"
    return result


@pytest.mark.ci_only("installs the example plugins and this project into a fresh virtualenv")
def test_the_example_plugins_install_with_pip_and_pass_their_kit_tests(tmp_path: Path) -> None:
    # Copies: pip and pytest leave nothing in the repository.
    copies = {}
    for name in ("tenant", "slug"):
        copies[name] = tmp_path / name
        shutil.copytree(EXAMPLES / name, copies[name])
    base = _python312()
    if base is None and ci():
        pytest.fail("no Python 3.12+ for the EarnORM backend; CI is set, so it must run")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE", "PYTEST"))}
    env.pop("PYENV_VERSION", None)
    env_dir = tmp_path / "venv"
    _run([base or sys.executable, "-m", "venv", str(env_dir)], tmp_path, env)
    python = str(env_dir / "bin" / "python")
    for name in ("EARNORM_AOP_BACKENDS", "EARNORM_AOP_TEST_DB"):
        env.pop(name, None)
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    _run([*pip, "hatchling"], tmp_path, env)
    targets = [f"{copies[name]}[test]" for name in ("tenant", "slug")]
    project = f"{ROOT}[earnorm]" if base else str(ROOT)
    _run([*pip, "--no-build-isolation", project, *targets], tmp_path, env)

    # Passed on memory, pydantic, Django, SQLAlchemy (and EarnORM on 3.12+).
    expected = {"tenant": 30, "slug": 21} if base else {"tenant": 27, "slug": 18}
    for name, folder in copies.items():
        result = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs"], folder, env)
        summary = result.stdout.strip().splitlines()[-1]
        assert "failed" not in summary and "error" not in summary, result.stdout
        passed = int(summary.split(" passed")[0].split()[-1])
        assert passed >= expected[name], result.stdout

    listed = json.loads(
        _run([python, "-m", "earnorm_aop", "plugins", "--json"], tmp_path, env).stdout
    )
    found = {d["distribution"]: d for d in listed}
    for dist, plugin in (("earnorm-aop-tenant", "tenant"), ("earnorm-aop-slug", "slug")):
        assert found[dist]["fits"] is True
        assert [p["name"] for p in found[dist]["plugins"]] == [plugin]
    _run([python, "-m", "earnorm_aop", "plugins", "check"], tmp_path, env)
