"""The pytest plugin: fixtures, a marker and assertions for testing code that uses plugins.

pytest loads it through the ``pytest11`` entry point whenever earnorm_aop is
installed, so it must be harmless in any test run: it defines fixtures only
tests that ask for them get, a marker that does nothing on tests without it,
and no autouse fixture.

- ``plugin_registry``: an isolated [`PluginRegistry`][earnorm_aop.PluginRegistry]
  (no entry-point discovery) whose plugins are unwoven from every model at
  teardown;
- ``aop_trace``: a [`trace`][earnorm_aop.trace] block around the test, yielding
  the [`Trace`][earnorm_aop.Trace];
- ``woven_state_guard``: fails a test that leaves a ``trace()`` or
  ``disabled()`` block open;
- ``@pytest.mark.plugins_disabled("audit", ...)``: runs the test function
  inside ``registry.disabled(...)``;
- [`assert_advice_ran`][earnorm_aop.pytest_plugin.assert_advice_ran] /
[`assert_advice_not_ran`][earnorm_aop.pytest_plugin.assert_advice_not_ran]: check a trace;
- ``earnorm_backend``: the conformance kit ([`earnorm_aop.testing`][earnorm_aop.testing]): a
  test asking for it runs once per backend (``memory``, ``pydantic``,
  ``django``, ``sqlalchemy``, ``sqlalchemy-async``, ``earnorm``), chosen with
  ``--earnorm-backends`` (``$EARNORM_AOP_BACKENDS``, the ``earnorm_backends``
  ini option), on the database ``--earnorm-db`` names.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator, Sequence
from contextlib import ExitStack

import pytest

from .errors import PluginNotFoundError
from .plugin_system.contributions import withdraw_fields, withdraw_unwoven
from .plugin_system.model import forget_registry
from .plugin_system.registry import PluginRegistry
from .plugin_system.registry import registry as default_registry
from .testing import BACKENDS, Backend, BackendUnavailable, make_backend, parse_backends
from .testing._ci import ci
from .weaving import scope, weaver
from .weaving.state import mode
from .weaving.tracing import Trace, TraceRecord
from .weaving.weaver import open_disabled_blocks, trace

__all__ = ["assert_advice_not_ran", "assert_advice_ran"]

MARKER = "plugins_disabled"


def pytest_configure(config: pytest.Config) -> None:
    _backend_choice(config)  # a bad --earnorm-backends is a usage error, before collection
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*names, registry=None): run the test function with these earnorm_aop "
        "plugins switched off for its thread / task (registry.disabled(*names)); "
        "an unknown name fails the test",
    )


# --------------------------------------------------------------------------
# The marker
# --------------------------------------------------------------------------


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, None]:
    """Run a test marked ``plugins_disabled`` inside ``registry.disabled(...)``.

    Only the call phase is covered, so the scope is the test function's body:
    an unknown name then fails the test (rather than erroring its setup) with
    the [`PluginNotFoundError`][earnorm_aop.PluginNotFoundError] message.  Every
    ``plugins_disabled`` marker on the test (function, class, module) applies.
    """
    markers = list(item.iter_markers(MARKER))
    if not markers:
        yield
        return
    with ExitStack() as stack:
        for marker in markers:
            reg, names, where = _marker_args(marker)
            try:
                stack.enter_context(reg.disabled(*names))
            except PluginNotFoundError as exc:
                # Failing before the yield fails the call phase: the test
                # function does not run and the report shows this message.
                pytest.fail(f"{where}: PluginNotFoundError: {exc}", pytrace=False)
        yield


def _marker_args(marker: pytest.Mark) -> tuple[PluginRegistry, tuple[str, ...], str]:
    """The registry and names of one marker, and how to refer to it in a message."""
    where = f"@pytest.mark.{MARKER}({', '.join(map(repr, marker.args))})"
    unknown = set(marker.kwargs) - {"registry"}
    if unknown:
        pytest.fail(
            f"{where} takes plugin names and registry=, not {', '.join(sorted(unknown))}",
            pytrace=False,
        )
    reg = marker.kwargs.get("registry", default_registry)
    if not isinstance(reg, PluginRegistry):
        pytest.fail(f"{where}: registry= must be a PluginRegistry, not {reg!r}", pytrace=False)
    names = marker.args
    if not names or not all(isinstance(n, str) for n in names):
        pytest.fail(f"{where} needs one or more plugin names (strings)", pytrace=False)
    return reg, names, where


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------


@pytest.fixture
def plugin_registry() -> Iterator[PluginRegistry]:
    """An isolated registry (no entry-point discovery) for the test's own plugins.

    Register plugins in it and apply them with ``registry=plugin_registry``;
    at teardown they are unwoven from every model they were woven onto, and
    the methods and fields they contributed are taken back (``model_fields``,
    ``model_dump()``, class attributes and annotations), so a model defined at
    module level is left as it was; one declared with
    ``registry=plugin_registry`` resolves plugin names as before.
    """
    reg = PluginRegistry(group=None)
    yield reg
    switches = set(reg._switches.values())
    for switch in switches:
        for klass in weaver.classes_with(switch):
            # A class has at most one aspect per name; this one is ours.
            weaver.unweave(klass, switch.name)
            withdraw_unwoven(klass)  # the methods it contributed
    withdraw_fields(switches)  # and its fields, from models it was unwoven from earlier too
    forget_registry(reg)  # models declared with registry=reg resolve names as before


@pytest.fixture
def aop_trace() -> Iterator[Trace]:
    """A ``trace()`` block around the test: the records of every advice run.

    It opens when the fixture is set up, so it also sees advice run by
    fixtures set up after it (request it first to see all of them).
    """
    with trace() as recorder:
        yield recorder


@pytest.fixture
def woven_state_guard() -> Iterator[None]:
    """Fail the test if it leaves a ``trace()`` or ``disabled()`` block open.

    The open blocks are counted before and after the test.  After a leak the
    context variables are put back, so later tests are neither traced nor
    run with plugins off; the engine's counts are left alone (only closing
    the leaked block, or its garbage collection, may lower them: lowering
    them here as well would count that block's exit twice).
    """
    traces_before = mode.tracing
    scopes_before = open_disabled_blocks()
    trace_var, disabled_var = scope.TRACE.get(), scope.DISABLED.get()
    yield
    problems = []
    leaked_traces = mode.tracing - traces_before
    if leaked_traces > 0:
        problems.append(f"{leaked_traces} trace() block(s) left open")
    leaked = [s.name for s, n in open_disabled_blocks().items() if n > scopes_before.get(s, 0)]
    if leaked:
        problems.append(f"registry.disabled() left open for {', '.join(sorted(leaked))}")
    if scope.TRACE.get() is not trace_var:
        scope.TRACE.set(trace_var)
    if scope.DISABLED.get() != disabled_var:
        scope.DISABLED.set(disabled_var)
    if problems:
        pytest.fail(
            "earnorm_aop scopes leaked by the test: "
            + "; ".join(problems)
            + " (open them in `with` blocks so they close)",
            pytrace=False,
        )


# --------------------------------------------------------------------------
# Assertions
# --------------------------------------------------------------------------


def _matching(
    records: Sequence[TraceRecord],
    plugin: str,
    method: str | None,
    kind: str | None,
    model: str | None,
    outcome: str | None,
) -> list[TraceRecord]:
    return [
        r
        for r in records
        if r.plugin == plugin
        and (method is None or r.method == method)
        and (kind is None or r.kind == kind)
        and (model is None or r.model == model)
        and (outcome is None or r.outcome == outcome)
    ]


def _describe(
    plugin: str, method: str | None, kind: str | None, model: str | None, outcome: str | None
) -> str:
    parts = [f"plugin={plugin!r}"]
    for label, value in (("method", method), ("kind", kind), ("model", model)):
        if value is not None:
            parts.append(f"{label}={value!r}")
    if outcome is not None:
        parts.append(f"outcome={outcome!r}")
    return ", ".join(parts)


def _what_ran(recorder: Trace) -> str:
    if not len(recorder):
        return "no advice ran (was the code under test called inside the trace?)"
    return "advice that ran:\n" + recorder.format()


def assert_advice_ran(
    recorder: Trace,
    plugin: str,
    method: str | None = None,
    kind: str | None = None,
    *,
    model: str | None = None,
    outcome: str | None = None,
    times: int | None = None,
) -> list[TraceRecord]:
    """Assert that ``plugin``'s advice ran (on ``method``, of ``kind``, ...); return the runs.

    ``model`` is the class's ``__qualname__``; ``outcome`` one of ``"ok"``,
    ``"veto"``, ``"recovered"``, ``"raised"``, ``"failed"``, ``"skipped"``;
    ``times`` the exact number of matching runs.  The failure message lists
    every advice that did run.
    """
    __tracebackhide__ = True
    found = _matching(list(recorder), plugin, method, kind, model, outcome)
    wanted = _describe(plugin, method, kind, model, outcome)
    if not found:
        raise AssertionError(f"no advice ran matching {wanted}; {_what_ran(recorder)}")
    if times is not None and len(found) != times:
        raise AssertionError(
            f"advice matching {wanted} ran {len(found)} time(s), expected {times}; "
            f"{_what_ran(recorder)}"
        )
    return found


def assert_advice_not_ran(
    recorder: Trace,
    plugin: str,
    method: str | None = None,
    kind: str | None = None,
    *,
    model: str | None = None,
    outcome: str | None = None,
) -> None:
    """Assert that no advice of ``plugin`` matching the filters ran; the message lists runs."""
    __tracebackhide__ = True
    found = _matching(list(recorder), plugin, method, kind, model, outcome)
    if found:
        wanted = _describe(plugin, method, kind, model, outcome)
        raise AssertionError(
            f"advice matching {wanted} ran {len(found)} time(s), expected none; "
            f"{_what_ran(recorder)}"
        )


# --------------------------------------------------------------------------
# The conformance kit: ``earnorm_backend`` over every backend
# --------------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("earnorm-aop", "earnorm-aop conformance kit")
    group.addoption(
        "--earnorm-backends",
        dest="earnorm_backends",
        default=None,
        metavar="NAMES",
        help="backends the earnorm_backend fixture runs on, comma-separated: "
        f"{', '.join(BACKENDS)}, or all (default: $EARNORM_AOP_BACKENDS, the "
        "earnorm_backends ini option, else all)",
    )
    group.addoption(
        "--earnorm-db",
        dest="earnorm_db",
        default=None,
        choices=["sqlite", "postgres"],
        help="the database of the django and sqlalchemy backends (default: "
        "$EARNORM_AOP_TEST_DB, else sqlite; postgres starts a private cluster)",
    )
    parser.addini("earnorm_backends", "default of --earnorm-backends", default="")


def _backend_choice(config: pytest.Config) -> tuple[list[str], bool]:
    """The backends chosen for ``earnorm_backend``, and whether they were named (not ``all``)."""
    spec = (
        config.getoption("earnorm_backends", None)
        or os.environ.get("EARNORM_AOP_BACKENDS")
        or str(config.getini("earnorm_backends") or "")
        or "all"
    )
    try:
        names = parse_backends(spec)
    except ValueError as exc:
        raise pytest.UsageError(f"--earnorm-backends: {exc}") from None
    return names, "all" not in spec.lower().split(",")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test that asks for ``earnorm_backend`` once per chosen backend."""
    if "earnorm_backend" not in metafunc.fixturenames:
        return
    db = metafunc.config.getoption("earnorm_db", None)
    if db:
        os.environ["EARNORM_AOP_TEST_DB"] = db
    names, _ = _backend_choice(metafunc.config)
    metafunc.parametrize("earnorm_backend", names, indirect=True, ids=names)


@pytest.fixture
def earnorm_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """One backend of the conformance kit ([`earnorm_aop.testing`][earnorm_aop.testing]), closed
    after the test.

    A backend that cannot run here is skipped with the reason; under
    ``CI=true`` one named explicitly (not through ``all``) fails instead.
    """
    name = getattr(request, "param", None)
    if name is None:  # pragma: no cover - pytest_generate_tests always parametrizes it
        pytest.fail("earnorm_backend is parametrized by the earnorm_aop plugin", pytrace=False)
    try:
        backend = make_backend(name)
    except BackendUnavailable as exc:
        _, named = _backend_choice(request.config)
        if named and ci():
            pytest.fail(f"{exc}; CI is set and the backend was asked for", pytrace=False)
        pytest.skip(str(exc))
    try:
        yield backend
    finally:
        backend.close()
