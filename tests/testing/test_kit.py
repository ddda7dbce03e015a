"""The conformance kit (``earnorm_aop.testing``): checks written once, run on every backend.

The first tests here are written as a plugin author writes them, against the
``earnorm_backend`` fixture only; the built-in plugins' behaviour tests
(``tests/plugins``) run on the same fixture.  Then the choice of backends
(``--earnorm-backends``) and what happens to a backend that cannot run, in
inner pytest runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from earnorm_aop import PluginRegistry, plugin
from earnorm_aop.integrations import adapter_for
from earnorm_aop.testing import BACKENDS, Backend, BackendUnavailable, _backends, open_backend

pytest_plugins = ["pytester"]
IN_FILE_ORDER = ("-p", "no:randomly")


@pytest.fixture
def stamping() -> Iterator[PluginRegistry]:
    """A registry with a plugin that stamps every save with the record's title, upper-cased."""
    reg = PluginRegistry(group=None)

    @plugin("shout", registry=reg)
    class Shout:
        def before_save(self, instance: Any, model: type) -> None:
            # Through the adapter: an EarnORM record's fields are async attributes.
            adapter = adapter_for(model)
            adapter.set_field(instance, "loud", adapter.get_field(instance, "title").upper())

    yield reg


def test_a_plugin_behaves_the_same_on_every_backend(
    earnorm_backend: Backend, stamping: PluginRegistry
) -> None:
    Article = earnorm_backend.model("shout", fields={"loud": (str, "")}, registry=stamping)
    a = earnorm_backend.create(Article, title="hello")
    stored = earnorm_backend.get(Article, a.id)
    assert stored.loud == "HELLO"
    stored.title = "again"
    earnorm_backend.save(stored)
    assert earnorm_backend.rows(Article)[a.id]["loud"] == "AGAIN"
    assert earnorm_backend.visible(Article) == [a.id]


def test_get_of_a_missing_row_raises_the_backends_not_found(earnorm_backend: Backend) -> None:
    Article = earnorm_backend.model()
    a = earnorm_backend.create(Article, title="x")
    earnorm_backend.raw_delete(Article, a.id)
    with pytest.raises(earnorm_backend.NotFound):
        earnorm_backend.get(Article, a.id)


def test_bulk_update_and_delete_touch_the_rows_a_query_selects(earnorm_backend: Backend) -> None:
    Article = earnorm_backend.model()
    a, b, c = (earnorm_backend.create(Article, title=t) for t in ("a", "b", "b"))
    assert earnorm_backend.bulk_update(earnorm_backend.query(Article, title="b"), views=7) == 2
    views = {pk: row["views"] for pk, row in earnorm_backend.rows(Article).items()}
    assert views == {a.id: 0, b.id: 7, c.id: 7}
    assert earnorm_backend.bulk_delete(earnorm_backend.query(Article, views=7)) == 2
    assert earnorm_backend.visible(Article) == [a.id]


def test_a_transaction_commits_or_rolls_back(earnorm_backend: Backend) -> None:
    Article = earnorm_backend.model()
    with earnorm_backend.transaction():
        kept = earnorm_backend.create(Article, title="kept")
    with earnorm_backend.transaction(rollback=True):
        earnorm_backend.create(Article, title="dropped")
        assert len(earnorm_backend.rows(Article)) == 2  # visible inside, until the end
    with pytest.raises(RuntimeError, match="boom"), earnorm_backend.transaction():
        earnorm_backend.create(Article, title="failed")
        raise RuntimeError("boom")
    assert [row["title"] for row in earnorm_backend.rows(Article).values()] == ["kept"]
    assert earnorm_backend.get(Article, kept.id).title == "kept"


def test_a_delete_removes_the_row(earnorm_backend: Backend) -> None:
    Article = earnorm_backend.model()
    a = earnorm_backend.create(Article, title="a")
    b = earnorm_backend.create(Article, title="b")
    earnorm_backend.delete(a)
    assert list(earnorm_backend.rows(Article)) == [b.id]


# -- choosing backends -------------------------------------------------------------


def test_backend_names_parse_with_all_aliases_and_no_repeats() -> None:
    assert _backends.parse_backends("all") == list(BACKENDS)
    assert _backends.parse_backends(" Plain, django,memory ") == ["memory", "django"]
    assert _backends.parse_backends(["pydantic", "all"])[0] == "pydantic"
    with pytest.raises(ValueError, match=r"unknown earnorm-aop backend 'mongo'.*memory, pydantic"):
        _backends.parse_backends("memory,mongo")
    with pytest.raises(ValueError, match="no backend named"):
        _backends.parse_backends(" , ")


def test_a_missing_orm_is_a_reason_naming_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(_backends._NEEDS, "django", (("no_such_orm_xyz", "pip install xyz"),))
    reason = _backends.unavailable_reason("django")
    assert reason == "backend 'django': no_such_orm_xyz is not installed (pip install xyz)"
    with pytest.raises(BackendUnavailable, match="no_such_orm_xyz"), open_backend("django"):
        pass  # pragma: no cover - not entered
    assert _backends.unavailable_reason("memory") is None


INNER = """
from earnorm_aop import with_plugins

def test_runs(earnorm_backend):
    Article = earnorm_backend.model()
    a = earnorm_backend.create(Article, title="t")
    assert earnorm_backend.get(Article, a.id).title == "t"
"""


def test_the_option_chooses_the_backends_each_test_runs_on(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EARNORM_AOP_BACKENDS", raising=False)
    pytester.makepyfile(INNER)
    result = pytester.runpytest_inprocess(
        *IN_FILE_ORDER, "-v", "--earnorm-backends=memory,pydantic"
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_runs?memory? PASSED*", "*test_runs?pydantic? PASSED*"])
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER, "--earnorm-backends=memory,mongo")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--earnorm-backends: unknown earnorm-aop backend 'mongo'*"])


def test_the_environment_and_the_ini_option_choose_them_too(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(INNER)
    pytester.makeini("[pytest]\nearnorm_backends = pydantic\n")
    monkeypatch.delenv("EARNORM_AOP_BACKENDS", raising=False)
    pytester.runpytest_inprocess(*IN_FILE_ORDER).assert_outcomes(passed=1)
    monkeypatch.setenv("EARNORM_AOP_BACKENDS", "memory,pydantic")
    pytester.runpytest_inprocess(*IN_FILE_ORDER).assert_outcomes(passed=2)


@pytest.mark.parametrize(("ci", "named"), [("", True), ("true", True), ("true", False)])
def test_an_unavailable_backend_skips_with_its_reason_or_fails_when_asked_under_ci(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str, named: bool
) -> None:
    monkeypatch.setitem(_backends._NEEDS, "django", (("no_such_orm_xyz", "pip install xyz"),))
    monkeypatch.setenv("CI", ci)
    monkeypatch.delenv("EARNORM_AOP_BACKENDS", raising=False)
    pytester.makepyfile(INNER)
    chosen = "memory,django" if named else "memory,django,all"
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER, "-rs", f"--earnorm-backends={chosen}")
    if ci and named:
        result.assert_outcomes(passed=1, errors=1)
        result.stdout.fnmatch_lines(["*no_such_orm_xyz is not installed*CI is set*"])
    else:
        outcomes = result.parseoutcomes()
        assert outcomes.get("passed", 0) >= 1 and outcomes.get("skipped", 0) >= 1
        assert "failed" not in outcomes and "errors" not in outcomes
        result.stdout.fnmatch_lines(["*backend 'django': no_such_orm_xyz is not installed*"])


def test_the_db_option_chooses_the_database_of_the_orm_backends(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EARNORM_AOP_TEST_DB", "postgres")  # put back after the test
    pytester.makepyfile(
        """
        import os

        def test_db(earnorm_backend):
            assert os.environ["EARNORM_AOP_TEST_DB"] == "sqlite"
        """
    )
    result = pytester.runpytest_inprocess(
        *IN_FILE_ORDER, "--earnorm-backends=memory", "--earnorm-db=sqlite"
    )
    result.assert_outcomes(passed=1)
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER, "--earnorm-db=mysql")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
