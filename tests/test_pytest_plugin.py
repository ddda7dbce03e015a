"""The pytest plugin (``earnorm_aop.pytest_plugin``), run on small test files with ``pytester``.

Most runs are in-process (fast); they share the engine's global state with
this test run, so the inner files clean up what they register in the default
registry, and this suite's own check (``conftest.py``) unweaves what they
wove, puts the default registry back and fails on any scope they leave open.
Inner tests run in file order (``IN_FILE_ORDER``).  Entry-point loading is
checked in a subprocess.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from earnorm_aop import registry as default_registry
from earnorm_aop import trace
from earnorm_aop.pytest_plugin import assert_advice_not_ran, assert_advice_ran
from earnorm_aop.weaving import weaver

pytest_plugins = ["pytester"]

# Inner runs keep their tests in file order whatever plugins are installed
# (pytest-randomly shuffles by default): several inner files check, in a later
# test, what an earlier one left behind (a teardown, a leaked block).  The
# engine's global state the inner tests share with this run is checked and
# put back after each test here by conftest.py's autouse fixture.
IN_FILE_ORDER = ("-p", "no:randomly")


@pytest.fixture(autouse=True, scope="module")
def _libraries_imported_before_inner_runs() -> None:
    """Import, before any inner run, what the inner tests would import first.

    An in-process run drops from ``sys.modules`` every module it imported.
    A library module imported there for the first time (a pydantic
    submodule, a built-in plugin loaded through its entry point) would be
    imported again by a later test as a second copy, whose classes are not
    the ones the engine's registries already hold (pydantic then takes a
    ``Field(...)`` default for a plain value).  Loading every built-in
    plugin imports them all here, once, for the whole run.
    """
    assert len(default_registry.plugins()) >= 5


# A plugin in the default registry and a module-level model woven with it,
# both removed when the inner module finishes.
DEFAULT_REGISTRY_PREAMBLE = textwrap.dedent(
    """
    import pytest
    from earnorm_aop import plugin, registry, with_plugins
    from earnorm_aop.weaving import weaver

    @plugin("pt_flag")
    class FlagPlugin:
        def before_save(self, instance):
            instance.flagged = True

    @with_plugins("pt_flag")
    class Note:
        flagged = False
        def save(self):
            return "saved"

    @pytest.fixture(autouse=True, scope="module")
    def _cleanup():
        yield
        weaver.unweave(Note)
        registry.unregister("pt_flag")
    """
)


# --------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------


def test_plugin_is_auto_loaded_through_the_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from earnorm_aop.weaving import scope

        def test_loaded(request, plugin_registry, aop_trace):
            plugin = request.config.pluginmanager.get_plugin("earnorm_aop")
            assert plugin is not None
            assert plugin.__name__ == "earnorm_aop.pytest_plugin"

        @pytest.mark.plugins_disabled("audit")
        def test_marker_accepted_by_strict_markers():
            assert {s.name for s in scope.DISABLED.get()} == {"audit"}
        """
    )
    # A fresh interpreter with no -p option naming it: only the pytest11 entry point can
    # load the plugin, and only its pytest_configure can register the marker
    # (in-process runs share pytest.mark's cache of known markers).
    result = pytester.runpytest_subprocess(
        *IN_FILE_ORDER, "-p", "no:cacheprovider", "--strict-markers"
    )
    result.assert_outcomes(passed=2)


def test_fixtures_are_missing_when_the_plugin_is_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses(aop_trace):\n    pass\n")
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER, "-p", "no:earnorm_aop")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'aop_trace' not found*"])


def test_fixtures_and_marker_are_listed(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER, "--fixtures")
    result.stdout.fnmatch_lines(["*plugin_registry*", "*aop_trace*", "*woven_state_guard*"])
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER, "--markers")
    result.stdout.fnmatch_lines(["@pytest.mark.plugins_disabled(*names, registry=None):*"])


def test_an_unrelated_suite_is_unaffected_under_strict_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from earnorm_aop.weaving import weaver

        def test_plain():
            assert weaver.mode.tracing == 0
            assert not weaver.open_disabled_blocks()

        def test_fails():
            assert 1 == 2
        """
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER, "--strict-markers", "-W", "error")
    result.assert_outcomes(passed=1, failed=1)


# --------------------------------------------------------------------------
# plugin_registry
# --------------------------------------------------------------------------


def test_plugin_registry_is_isolated_and_unweaves_at_teardown(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from earnorm_aop import PluginRegistry, plugin, registry, weave
        from earnorm_aop.weaving import weaver

        class Note:
            def save(self):
                return "saved"

        ORIGINAL = Note.__dict__["save"]

        def test_weaves(plugin_registry):
            assert isinstance(plugin_registry, PluginRegistry)
            assert plugin_registry is not registry
            assert plugin_registry.group is None  # no entry-point discovery
            assert "timestamp" not in plugin_registry

            @plugin("pt_upper", registry=plugin_registry)
            class Upper:
                def save(self, value):  # chain advice on save
                    return value.upper()

            assert "pt_upper" not in registry
            weave(Note, "pt_upper", registry=plugin_registry)
            assert Note().save() == "SAVED"
            assert Note.__dict__["save"] is not ORIGINAL

        def test_after_teardown():
            assert not weaver.is_woven(Note, "pt_upper")
            assert Note.__dict__["save"] is ORIGINAL
            assert Note().save() == "saved"
        """
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER)
    result.assert_outcomes(passed=2)


def test_plugin_registry_teardown_keeps_other_registries_plugins(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from earnorm_aop import Aspect, plugin, weave
        from earnorm_aop.weaving import weaver

        class Note:
            def save(self):
                return "saved"

        KEPT = Aspect.of("pt_kept", [("chain:save", lambda value: value + "!")])
        weaver.weave(Note, KEPT)

        def test_weaves(plugin_registry):
            @plugin("pt_upper", registry=plugin_registry)
            class Upper:
                def save(self, value):
                    return value.upper()

            weave(Note, "pt_upper", registry=plugin_registry)
            assert Note().save() == "SAVED!"

        def test_after_teardown():
            try:
                assert [a.name for a in weaver.effective_aspects(Note)] == ["pt_kept"]
                assert Note().save() == "saved!"
            finally:
                weaver.unweave(Note)
        """
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER)
    result.assert_outcomes(passed=2)


# --------------------------------------------------------------------------
# aop_trace and the assertions
# --------------------------------------------------------------------------


def test_aop_trace_records_advice_and_assert_advice_ran(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from earnorm_aop import Trace, plugin, with_plugins
        from earnorm_aop.weaving import weaver
        from earnorm_aop.pytest_plugin import assert_advice_not_ran, assert_advice_ran

        def test_records(plugin_registry, aop_trace):
            assert isinstance(aop_trace, Trace)
            assert weaver.mode.tracing == 1

            @plugin("pt_stamp", registry=plugin_registry)
            class Stamp:
                def before_save(self, instance):
                    instance.stamped = True

            @with_plugins("pt_stamp", registry=plugin_registry)
            class Note:
                def save(self):
                    return "saved"

            Note().save()
            Note().save()
            runs = assert_advice_ran(aop_trace, "pt_stamp", "save", "before", times=2)
            assert [r.outcome for r in runs] == ["ok", "ok"]
            assert_advice_ran(aop_trace, "pt_stamp", model="test_records.<locals>.Note")
            assert_advice_not_ran(aop_trace, "pt_stamp", "save", "after")

        def test_closed_after_the_test():
            assert weaver.mode.tracing == 0
        """
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER)
    result.assert_outcomes(passed=2)


def test_assert_advice_ran_failure_lists_what_ran(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from earnorm_aop import plugin, with_plugins
        from earnorm_aop.pytest_plugin import assert_advice_not_ran, assert_advice_ran

        def make(plugin_registry):
            @plugin("pt_stamp", registry=plugin_registry)
            class Stamp:
                def before_save(self, instance):
                    pass

            @with_plugins("pt_stamp", registry=plugin_registry)
            class Note:
                def save(self):
                    return "saved"
            return Note

        def test_wrong_kind(plugin_registry, aop_trace):
            make(plugin_registry)().save()
            assert_advice_ran(aop_trace, "pt_stamp", "save", "after")

        def test_wrong_times(plugin_registry, aop_trace):
            make(plugin_registry)().save()
            assert_advice_ran(aop_trace, "pt_stamp", "save", times=3)

        def test_not_ran(plugin_registry, aop_trace):
            make(plugin_registry)().save()
            assert_advice_not_ran(aop_trace, "pt_stamp", "save")

        def test_nothing_ran(aop_trace):
            assert_advice_ran(aop_trace, "pt_stamp", "save")
        """
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER)
    result.assert_outcomes(failed=4)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: no advice ran matching plugin='pt_stamp', method='save', "
            "kind='after'; advice that ran:",
            "*pt_stamp*before*make.<locals>.Note.save*ok*",
            "*advice matching plugin='pt_stamp', method='save' ran 1 time(s), expected 3;*",
            "*advice matching plugin='pt_stamp', method='save' ran 1 time(s), expected none;*",
            "*no advice ran matching plugin='pt_stamp', method='save'; no advice ran (was the*",
        ]
    )
    # The helper's own frames are hidden from the traceback.
    assert "found = _matching(" not in result.stdout.str()


def test_assert_advice_ran_directly() -> None:
    """The helpers work on any Trace, without the fixtures."""
    from earnorm_aop import Aspect

    class Note:
        def save(self) -> str:
            return "saved"

    weaver.weave(Note, Aspect.of("pt_direct", [("after:save", lambda instance: None)]))
    with trace() as t:
        Note().save()
    (record,) = assert_advice_ran(t, "pt_direct", "save", "after", outcome="ok", times=1)
    assert record.model.endswith("Note")
    assert_advice_not_ran(t, "pt_direct", "save", "before")
    with pytest.raises(AssertionError, match=r"outcome='veto'.*advice that ran:\n"):
        assert_advice_ran(t, "pt_direct", outcome="veto")
    with pytest.raises(AssertionError, match="expected none"):
        assert_advice_not_ran(t, "pt_direct")


# --------------------------------------------------------------------------
# The plugins_disabled marker
# --------------------------------------------------------------------------


def test_marker_disables_plugins_of_the_default_registry(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        DEFAULT_REGISTRY_PREAMBLE
        + textwrap.dedent(
            """
            import threading
            from earnorm_aop.pytest_plugin import assert_advice_not_ran

            def test_enabled_before():
                note = Note(); note.save()
                assert note.flagged

            @pytest.mark.plugins_disabled("pt_flag")
            def test_disabled(aop_trace):
                note = Note(); note.save()
                assert not note.flagged
                assert_advice_not_ran(aop_trace, "pt_flag")
                # Local to this thread: another thread still runs the plugin.
                other = Note()
                t = threading.Thread(target=other.save); t.start(); t.join(60)
                assert not t.is_alive()
                assert other.flagged

            @pytest.mark.plugins_disabled("pt_flag")
            class TestClass:
                def test_method(self):
                    note = Note(); note.save()
                    assert not note.flagged

            def test_enabled_after():
                note = Note(); note.save()
                assert note.flagged
                assert not weaver.open_disabled_blocks()
            """
        )
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER, "--strict-markers")
    result.assert_outcomes(passed=4)


def test_marker_combines_module_and_function_markers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        DEFAULT_REGISTRY_PREAMBLE
        + textwrap.dedent(
            """
            from earnorm_aop import PluginRegistry, with_plugins

            OTHER = PluginRegistry(group=None)

            @plugin("pt_count", registry=OTHER)
            class Count:
                calls = 0
                def before_save(self):
                    Count.calls += 1

            @with_plugins("pt_count", registry=OTHER)
            class Counted:
                def save(self):
                    return "saved"

            pytestmark = pytest.mark.plugins_disabled("pt_flag")

            @pytest.mark.plugins_disabled("pt_count", registry=OTHER)
            def test_both_disabled():
                note = Note(); note.save()
                Counted().save()
                assert not note.flagged
                assert Count.calls == 0

            def test_module_marker_only():
                note = Note(); note.save()
                Counted().save()
                assert not note.flagged
                assert Count.calls == 1
                weaver.unweave(Counted)
            """
        )
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER, "--strict-markers")
    result.assert_outcomes(passed=2)


def test_marker_with_an_unknown_name_fails_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        DEFAULT_REGISTRY_PREAMBLE
        + textwrap.dedent(
            """
            RAN = []

            @pytest.mark.plugins_disabled("pt_flg")
            def test_typo():
                RAN.append(1)

            def test_body_did_not_run():
                assert RAN == []
                assert not weaver.open_disabled_blocks()
            """
        )
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER, "--strict-markers")
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        [
            "*@pytest.mark.plugins_disabled('pt_flg'): PluginNotFoundError: "
            "no plugin named 'pt_flg'; did you mean 'pt_flag'?*",
            "FAILED *test_typo*",
        ]
    )


def test_marker_misuse_fails_with_a_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.plugins_disabled()
        def test_no_names():
            pass

        @pytest.mark.plugins_disabled("audit", registry="default")
        def test_bad_registry():
            pass

        @pytest.mark.plugins_disabled("audit", regsitry=None)
        def test_bad_keyword():
            pass
        """
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER)
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines_random(
        [
            "*plugins_disabled() needs one or more plugin names*",
            "*registry= must be a PluginRegistry, not 'default'*",
            "*takes plugin names and registry=, not regsitry*",
        ]
    )


def test_unregistered_marker_is_rejected_without_the_plugin(pytester: pytest.Pytester) -> None:
    """The registration is what makes --strict-markers accept the marker."""
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.plugins_disabled("audit")
        def test_marked():
            pass
        """
    )
    result = pytester.runpytest_subprocess(
        *IN_FILE_ORDER, "-p", "no:cacheprovider", "--strict-markers", "-p", "no:earnorm_aop"
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(["*'plugins_disabled' not found in `markers`*"])


def test_marker_with_builtin_plugin_names(pytester: pytest.Pytester) -> None:
    """Built-in names resolve through the entry points (as in ``("audit", "cache")``)."""
    pytester.makepyfile(
        """
        import pytest
        from earnorm_aop import registry
        from earnorm_aop.weaving import scope

        @pytest.mark.plugins_disabled("audit", "cache")
        def test_marked():
            names = {s.name for s in scope.DISABLED.get()}
            assert names == {"audit", "cache"}

        def test_unmarked():
            assert scope.DISABLED.get() == frozenset()
        """
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER, "--strict-markers")
    result.assert_outcomes(passed=2)


# --------------------------------------------------------------------------
# woven_state_guard
# --------------------------------------------------------------------------


def test_guard_passes_clean_tests(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest
        from earnorm_aop import registry, trace

        def test_with_blocks(woven_state_guard):
            with trace(), registry.disabled("audit"):
                pass

        def test_with_aop_trace_after(woven_state_guard, aop_trace):
            pass

        def test_with_aop_trace_before(aop_trace, woven_state_guard):
            pass

        @pytest.mark.plugins_disabled("audit")
        def test_with_marker(woven_state_guard):
            pass
        """
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER)
    result.assert_outcomes(passed=4)


def test_guard_reports_leaked_scopes_and_restores_the_context(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from earnorm_aop import registry, trace
        from earnorm_aop.weaving import scope, weaver

        LEAKED = []  # kept alive: a collected block would close itself

        def test_leaks_trace(woven_state_guard):
            LEAKED.append(trace())
            LEAKED[-1].__enter__()

        def test_leaks_disabled(woven_state_guard):
            LEAKED.append(registry.disabled("audit", "cache"))
            LEAKED[-1].__enter__()

        def test_context_restored():
            assert scope.TRACE.get() is None
            assert scope.DISABLED.get() == frozenset()
            # The counts drop only when the leaked blocks really close.
            assert weaver.mode.tracing == 1
            assert {s.name for s in weaver.open_disabled_blocks()} == {"audit", "cache"}
            for cm in reversed(LEAKED):
                cm.__exit__(None, None, None)
            assert weaver.mode.tracing == 0
            assert not weaver.open_disabled_blocks()
        """
    )
    result = pytester.runpytest_inprocess(
        *IN_FILE_ORDER, "-W", "error::pytest.PytestUnraisableExceptionWarning"
    )
    # The leaking tests pass their call phase and error at the guard's teardown.
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines_random(
        [
            "*earnorm_aop scopes leaked by the test: 1 trace() block(s) left open*",
            "*earnorm_aop scopes leaked by the test: "
            "registry.disabled() left open for audit, cache*",
        ]
    )


def test_without_the_guard_a_leak_goes_unreported(pytester: pytest.Pytester) -> None:
    """The guard is opt-in: the plugin adds no check to tests that do not ask for it."""
    pytester.makepyfile(
        """
        from earnorm_aop import trace
        from earnorm_aop.weaving import weaver

        def test_leaks():
            test_leaks.cm = trace()
            test_leaks.cm.__enter__()

        def test_close_it():
            assert weaver.mode.tracing == 1
            test_leaks.cm.__exit__(None, None, None)
        """
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER)
    result.assert_outcomes(passed=2)


# --------------------------------------------------------------------------
# The documentation's example
# --------------------------------------------------------------------------


def test_reference_example_runs(pytester: pytest.Pytester) -> None:
    page = (Path(__file__).resolve().parent.parent / "docs" / "reference.md").read_text()
    section = page.split("## pytest plugin", 1)[1]
    (example,) = re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], re.S)
    pytester.makepyfile(example)
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER)
    result.assert_outcomes(passed=2)


def test_plugin_registry_teardown_leaves_module_level_models_as_they_were(
    pytester: pytest.Pytester,
) -> None:
    """Contributed fields and methods go too: pydantic ``model_fields``, dumps, class attributes."""
    pytester.makepyfile(
        """
        from datetime import datetime

        import pydantic
        from earnorm_aop import plugin, unweave, weave, with_plugins
        from earnorm_aop.integrations import FieldSpec

        class Memo(pydantic.BaseModel):
            title: str = ""

            def save(self):
                return self

        class Note:
            title: str = ""

            def save(self):
                return self

        MEMO = dict(vars(Memo))
        NOTE = dict(vars(Note))

        def contributing(registry):
            @plugin("pt_archive", registry=registry)
            class Archive:
                fields = [FieldSpec("archived_at", datetime | None, None)]

                def model_methods(self):
                    return {"archive": lambda instance: "archived"}

                def before_save(self, instance):
                    pass

        def test_weaves(plugin_registry):
            contributing(plugin_registry)
            with_plugins("pt_archive", registry=plugin_registry)(Memo)
            weave(Note, "pt_archive", registry=plugin_registry)
            assert "archived_at" in Memo.model_fields
            assert Memo().archive() == "archived" and Note().archive() == "archived"
            assert Note.archived_at is None

        def test_unweaves_itself(plugin_registry):
            contributing(plugin_registry)
            weave(Note, "pt_archive", registry=plugin_registry)
            unweave(Note, "pt_archive", registry=plugin_registry)
            assert "archived_at" in Note.__annotations__  # unweave keeps fields

        def test_after_teardown():
            assert set(Memo.model_fields) == {"title"}
            assert Memo().model_dump() == {"title": ""}
            assert not hasattr(Memo, "archived_at") and not hasattr(Memo, "archive")
            assert "archived_at" not in Memo.__annotations__
            assert not hasattr(Note, "archived_at") and not hasattr(Note, "archive")
            assert Note.__annotations__ == {"title": str}
            assert set(vars(Memo)) == set(MEMO) and set(vars(Note)) == set(NOTE)
            # The model resolves names in the default registry again.
            from earnorm_aop.plugin_system.model import registry_of
            from earnorm_aop import registry
            assert registry_of(Memo) is registry
        """
    )
    result = pytester.runpytest_inprocess(*IN_FILE_ORDER)
    result.assert_outcomes(passed=3)
