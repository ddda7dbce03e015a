"""The lifecycle events fire by themselves, on every backend of the kit (issue 17).

A model whose only plugin listens to ``after_change`` / ``after_access`` (the
plugin page's ``AuditPlugin``) sees every write that changes a row and every
``get``, without the built-in ``audit``; with ``audit`` too, each listener runs
once per write.  The EarnORM step runs this module too.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

from earnorm_aop import PluginRegistry, PluginWarning, context, explain, hook
from earnorm_aop.integrations import adapter_for
from earnorm_aop.weaving import weaver


class Seen:
    """What the listeners were told, in order."""

    def __init__(self) -> None:
        self.changes: list[tuple[str, Any, dict[str, Any]]] = []
        self.committed: list[tuple[str, Any]] = []
        self.accesses: list[tuple[Any, Any, Any]] = []


def listening(backend: Any, *plugins: str, **configured: Any) -> tuple[Any, Seen]:
    """A model with a listener of every lifecycle event (and ``plugins``)."""
    seen = Seen()
    reg = PluginRegistry()  # discovers the built-ins

    class Listener:
        @hook("after_change")
        def log_change(self, instance: Any, changes: dict[str, Any], action: str, pk: Any) -> None:
            seen.changes.append((action, pk, dict(changes)))

        @hook("after_commit_change")
        def log_committed(self, action: str, pk: Any) -> None:
            seen.committed.append((action, pk))

        @hook("after_access")
        def log_access(self, instance: Any, user: Any, context: Any) -> None:
            pk = adapter_for(type(instance)).pk(instance)  # EarnORM: instance.id is awaitable
            seen.accesses.append((pk, user, context.reason))

    reg.register("listener", Listener)
    model = backend.model(*plugins, "listener", registry=reg, **configured)
    return model, seen


def test_create_save_and_delete_fire_after_change_with_old_and_new(backend: Any) -> None:
    Article, seen = listening(backend)
    a = backend.create(Article, title="a")
    assert seen.changes == [
        ("create", a.id, {"id": (None, a.id), "title": (None, "a"), "views": (None, 0)})
    ]
    a.title = "b"
    backend.save(a)
    assert seen.changes[-1] == ("update", a.id, {"title": ("a", "b")})
    pk = a.id
    backend.delete(a)
    action, key, changes = seen.changes[-1]
    assert (action, key) == ("delete", pk)
    assert changes["title"] == ("b", None)
    assert len(seen.changes) == 3


def test_a_save_that_changes_nothing_fires_nothing(backend: Any) -> None:
    Article, seen = listening(backend)
    a = backend.create(Article, title="a")
    backend.save(a)
    loaded = backend.get(Article, a.id)
    backend.save(loaded)
    assert [c[0] for c in seen.changes] == ["create"]


def test_an_instance_update_fires_with_what_it_writes_and_the_stamp(backend: Any) -> None:
    """The record is made before the write (the event is an ``after`` advice): timestamp's
    ``updated_at``, added to the update inside, is in the changes as written."""
    Article, seen = listening(backend, "timestamp")
    a = backend.create(Article, title="a")
    created = backend.rows(Article)[a.id]["updated_at"]
    backend.update(a, title="b")
    action, pk, changes = seen.changes[-1]
    assert (action, pk) == ("update", a.id)
    assert changes["title"] == ("a", "b")
    assert changes["updated_at"] == (created, backend.rows(Article)[a.id]["updated_at"])
    assert len(seen.changes) == 2


def test_a_restricted_save_fires_with_the_fields_it_writes(backend: Any) -> None:
    """Only what the save writes is a change (Django's ``update_fields``); a save of every
    field sees the field left out before."""
    Article, seen = listening(backend)
    a = backend.create(Article, title="a")
    a.title = "b"
    a.views = 3
    if backend.name.startswith("django"):
        a.save(update_fields=["title"])
        assert seen.changes[-1] == ("update", a.id, {"title": ("a", "b")})
        a.save()
        assert seen.changes[-1] == ("update", a.id, {"views": (0, 3)})
    else:
        backend.save(a)
        assert seen.changes[-1] == ("update", a.id, {"title": ("a", "b"), "views": (0, 3)})


def test_handlers_of_every_shape_get_their_own_arguments(backend: Any) -> None:
    """Handlers whose parameters are the payload's names in order are called by position;
    others (a default between, keyword-only, an injectable) by keyword: each gets its own."""
    got: list[tuple[Any, ...]] = []
    reg = PluginRegistry()

    def key(instance: Any) -> Any:
        return adapter_for(type(instance)).pk(instance)  # EarnORM: instance.id is awaitable

    class Shapes:
        @hook("after_change")
        def in_order(self, instance: Any, changes: dict[str, Any]) -> None:
            got.append(("in_order", key(instance), changes))

        @hook("after_change")
        def reversed_order(self, changes: dict[str, Any], action: str) -> None:
            got.append(("reversed_order", action, changes))

        @hook("after_change")
        def default_between(self, instance: Any, extra: int = 7, changes: Any = None) -> None:
            got.append(("default_between", extra, changes))

        @hook("after_change")
        def keyword_only(self, changes: dict[str, Any], *, action: str) -> None:
            got.append(("keyword_only", action, changes))

        @hook("after_change")
        def one(self, changes: dict[str, Any]) -> None:
            got.append(("one", changes))

        @hook("after_change")
        def injected(self, instance: Any, user: Any) -> None:
            got.append(("injected", key(instance), user))

    reg.register("shapes", Shapes)
    Article = backend.model("shapes", registry=reg)
    a = backend.create(Article, title="a")
    got.clear()
    a.title = "b"
    with context(actor="ann"):
        backend.save(a)
    change = {"title": ("a", "b")}
    assert sorted(got, key=lambda row: row[0]) == [
        ("default_between", 7, change),
        ("in_order", a.id, change),
        ("injected", a.id, "ann"),
        ("keyword_only", "update", change),
        ("one", change),
        ("reversed_order", "update", change),
    ]


def test_bulk_writes_fire_once_per_affected_row(backend: Any) -> None:
    Article, seen = listening(backend)
    a = backend.create(Article, title="x", views=1)
    b = backend.create(Article, title="x", views=2)
    backend.create(Article, title="other")
    del seen.changes[:]
    backend.bulk_update(backend.query(Article, title="x"), views=5)
    assert sorted((c[0], c[1], c[2]["views"]) for c in seen.changes) == [
        ("update", a.id, (1, 5)),
        ("update", b.id, (2, 5)),
    ]
    del seen.changes[:]
    backend.bulk_update(backend.query(Article, title="x"), views=5)  # no row changes
    assert seen.changes == []
    backend.bulk_delete(backend.query(Article, title="x"))
    assert sorted((c[0], c[1]) for c in seen.changes) == [("delete", a.id), ("delete", b.id)]
    del seen.changes[:]
    made = backend.bulk_create(Article, [backend.new(Article, title="n1")])
    assert [c[0] for c in seen.changes] == ["create"]
    assert seen.changes[0][2]["title"] == (None, "n1")
    assert made is not None


def test_soft_delete_and_restore_are_changes(backend: Any) -> None:
    Article, seen = listening(backend, "softdelete")
    a = backend.create(Article, title="a")
    backend.delete(a)
    a.restore()
    assert [c[0] for c in seen.changes] == ["create", "soft_delete", "restore"]
    assert seen.changes[1][2]["deleted_at"][0] is None
    assert seen.changes[2][2]["deleted_at"][1] is None


def test_with_audit_each_listener_runs_once_per_write(backend: Any) -> None:
    records: list[Any] = []
    Article, seen = listening(backend, "audit", audit={"sink": records.append})
    a = backend.create(Article, title="a")
    a.title = "b"
    backend.save(a)
    assert [r.action for r in records] == ["create", "update"]
    assert [c[0] for c in seen.changes] == ["create", "update"]
    assert [a.name for a in weaver.effective_aspects(Article)].count("lifecycle") == 1


def test_after_commit_change_waits_for_the_commit(backend: Any) -> None:
    Article, seen = listening(backend)
    if not backend.transactional:
        backend.create(Article, title="a")
        assert [c[0] for c in seen.committed] == ["create"]  # no transaction: at once
        return
    with backend.transaction():
        a = backend.create(Article, title="a")
        assert seen.committed == []
        assert [c[0] for c in seen.changes] == ["create"]  # at the write
    assert seen.committed == [("create", a.id)]
    with backend.transaction(rollback=True):
        backend.create(Article, title="rolled back")
    assert len(seen.committed) == 1
    assert len(seen.changes) == 2


def test_get_fires_after_access_with_the_acting_user(backend: Any) -> None:
    Article, seen = listening(backend)
    a = backend.create(Article, title="a")
    with context(actor="alice", reason="support"):
        backend.get(Article, a.id)
    assert seen.accesses == [(a.id, "alice", "support")]
    backend.get(Article, a.id)
    assert seen.accesses[-1] == (a.id, None, None)
    with pytest.raises(backend.NotFound):
        backend.get(Article, "404" if backend.name == "earnorm" else 404)
    assert len(seen.accesses) == 2


def test_a_model_nobody_listens_on_pays_nothing(backend: Any) -> None:
    Plain = backend.model("softdelete")
    names = [a.name for a in weaver.effective_aspects(Plain)]
    assert "lifecycle" not in names and "changes" not in names


def test_a_disabled_listener_is_not_called_and_the_write_still_happens(backend: Any) -> None:
    Article, seen = listening(backend)
    switch = next(a.switch for a in weaver.effective_aspects(Article) if a.name == "listener")
    weaver.set_enabled(switch, False)
    try:
        a = backend.create(Article, title="a")
    finally:
        weaver.set_enabled(switch, True)
    assert seen.changes == []
    assert backend.get(Article, a.id).title == "a"


def test_user_and_context_are_injectable_in_any_advice_and_handler() -> None:
    from earnorm_aop import emit, with_plugins

    reg = PluginRegistry(group=None)
    seen: list[Any] = []

    class Who:
        def before_save(self, instance: Any, user: Any, context: Any) -> None:
            seen.append(("advice", user, context.request_id))

        @hook("order_paid")  # a custom event: the payload does not give user
        def paid(self, user: Any) -> None:
            seen.append(("event", user))

    reg.register("who", Who)

    @with_plugins("who", registry=reg)
    class Order:
        def save(self) -> None:
            pass

    with context(actor="alice", request_id="r1"):
        Order().save()
        emit(Order(), "order_paid")
    emit(Order(), "order_paid", user="given")  # the payload wins
    assert seen == [("advice", "alice", "r1"), ("event", "alice"), ("event", "given")]


# -- which events a model fires: explain(), and a warning for a hook nothing fires -----------


def _woven_with(*hooks: str) -> tuple[type, list[warnings.WarningMessage]]:
    from earnorm_aop import with_plugins
    from earnorm_aop.integrations.memory import MemoryModel, MemoryStore

    reg = PluginRegistry()
    body = {f"on_{i}": hook(name)(lambda self: None) for i, name in enumerate(hooks)}
    reg.register("listens", type("Listens", (), body))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @with_plugins("listens", registry=reg)
        class Note(MemoryModel):
            __store__ = MemoryStore()
            id: int | None = None

    return Note, [w for w in caught if issubclass(w.category, PluginWarning)]


def test_a_misspelt_event_warns_with_the_nearest_names() -> None:
    _, caught = _woven_with("after_chnage")
    (warning,) = caught
    text = str(warning.message)
    assert "'after_chnage'" in text and "nothing fires on" in text and "Note" in text
    assert "did you mean 'after_change'" in text
    assert warning.filename == __file__


def test_lifecycle_and_users_own_events_do_not_warn() -> None:
    model, caught = _woven_with("after_change", "after_access", "order_paid")
    assert caught == []
    assert explain(model).splitlines()[-1] == (
        "  fires by itself: after_change, after_commit_change, after_access"
    )


def test_a_model_without_lifecycle_listeners_fires_nothing_by_itself() -> None:
    model, caught = _woven_with("before_save")
    assert caught == []
    assert "fires by itself" not in str(explain(model))


def _as_a_new_session_sees_them(backend: Any) -> None:
    """SQLAlchemy loads an object once per session: a query of rows it holds loads nothing."""
    if backend.name.startswith("sqlalchemy"):
        backend.session.expunge_all()


def test_query_loads_fire_for_the_handlers_that_ask_and_only_them(backend: Any) -> None:
    """``@hook("after_access", loads=True)``: every record a query loads, and get once."""
    reg = PluginRegistry(group=None)
    every: list[tuple[Any, Any]] = []
    on_get: list[Any] = []

    class Loads:
        @hook("after_access", loads=True)
        def log(self, instance: Any, user: Any, context: Any) -> None:
            every.append((adapter_for(type(instance)).pk(instance), user))

    class GetOnly:
        @hook("after_access")
        def log(self, instance: Any) -> None:
            on_get.append(adapter_for(type(instance)).pk(instance))

    reg.register("loads", Loads)
    reg.register("get_only", GetOnly)
    Article = backend.model("loads", "get_only", registry=reg)
    a = backend.create(Article, title="a")
    b = backend.create(Article, title="b")
    assert every == [] and on_get == []  # writes load nothing
    _as_a_new_session_sees_them(backend)
    with context(actor="ann"):
        assert backend.visible(Article) == sorted([a.id, b.id])
    assert sorted(every) == sorted([(a.id, "ann"), (b.id, "ann")])
    assert on_get == []  # not asked for: a query calls it for no row
    backend.get(Article, a.id)
    assert every[2:] == [(a.id, None)] and on_get == [a.id]  # get: once each, not also a load


def test_a_model_whose_handlers_do_not_ask_watches_no_loads(backend: Any) -> None:
    """Loading rows costs no handler call, and no watcher is even installed."""
    from earnorm_aop.adapters import loads

    Article, seen = listening(backend)
    for title in "abcdefghij":
        backend.create(Article, title=title)
    _as_a_new_session_sees_them(backend)
    assert len(backend.visible(Article)) == 10
    assert seen.accesses == []
    assert getattr(Article, loads.ATTRIBUTE, None) is None


def test_loads_is_an_option_of_after_access_only() -> None:
    from earnorm_aop import PluginError

    with pytest.raises(PluginError, match=r"loads=True.*'after_access' only"):
        hook("after_change", loads=True)


def test_user_and_context_are_injected_on_every_backend(backend: Any) -> None:
    """Advice of a write, a get and a query, and each lifecycle handler, ask for them."""
    reg = PluginRegistry(group=None)
    seen: list[tuple[str, Any, Any]] = []

    class Who:
        def before_save(self, instance: Any, user: Any, context: Any) -> None:
            seen.append(("before_save", user, context.reason))

        @hook("after:get")
        def got(self, instance: Any, user: Any, context: Any) -> None:
            seen.append(("after:get", user, context.reason))

        @hook("chain:get_queryset")
        def query(self, queryset: Any, user: Any, context: Any) -> Any:
            seen.append(("get_queryset", user, context.reason))
            return queryset

        @hook("after_change")
        def changed(self, user: Any, context: Any) -> None:
            seen.append(("after_change", user, context.reason))

        @hook("after_access", loads=True)
        def accessed(self, user: Any, context: Any) -> None:
            seen.append(("after_access", user, context.reason))

    reg.register("who", Who)
    Article = backend.model("who", registry=reg)
    with context(actor="ann", reason="why"):
        a = backend.create(Article, title="a")
        backend.get(Article, a.id)
        _as_a_new_session_sees_them(backend)
        backend.visible(Article)
    kinds = {kind for kind, _, _ in seen}
    assert {"before_save", "after:get", "get_queryset", "after_change", "after_access"} <= kinds
    assert {(user, reason) for _, user, reason in seen} == {("ann", "why")}


def test_loads_on_a_plain_class_warns_that_only_get_calls_it() -> None:
    """A plain class's queries are its own code: the handler runs on get, and weaving says so."""
    from earnorm_aop import emit, with_plugins

    reg = PluginRegistry(group=None)
    seen: list[str] = []

    class Loads:
        @hook("after_access", loads=True)
        def log(self, instance: Any, event: str) -> None:
            seen.append(event)

    reg.register("loads", Loads)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @with_plugins("loads", registry=reg)
        class Note:
            @classmethod
            def get(cls, pk: int) -> Note:
                return cls()

    (warning,) = [w for w in caught if issubclass(w.category, PluginWarning)]
    text = str(warning.message)
    assert "'log'" in text and "loads=True" in text and "Note" in text and "(plain)" in text
    assert "get() only" in text and warning.filename == __file__
    Note.get(1)
    emit(Note(), "after_query_load")  # the user's own queries may fire it
    assert seen == ["after_access", "after_query_load"]


# -- what the table of the lifecycle events promises beyond the kit's backends -------------


def test_a_plain_class_fires_the_events_of_its_own_methods() -> None:
    """A class with no ORM and no memory store (the base adapter): its ``save``,
    ``delete`` and ``get`` fire the events as an ORM model's do, ``user`` included."""
    from earnorm_aop import with_plugins

    reg = PluginRegistry(group=None)
    log: list[tuple[Any, ...]] = []

    class AuditPlugin:  # the page's, writing to a list
        @hook("after_change")
        def log_change(self, instance: Any, changes: dict[str, Any]) -> None:
            log.append(("change", instance.id, changes))

        @hook("after_access")
        def log_access(self, instance: Any, user: Any) -> None:
            log.append(("access", instance.id, user))

    reg.register("audit_page", AuditPlugin)
    rows: dict[int, str] = {}

    @with_plugins("audit_page", registry=reg)
    class Note:
        def __init__(self, id: int, title: str) -> None:
            self.id = id
            self.title = title

        def save(self) -> None:
            rows[self.id] = self.title

        def delete(self) -> None:
            del rows[self.id]

        @classmethod
        def get(cls, pk: int) -> Note:
            return cls(pk, rows[pk])

    note = Note(1, "a")
    note.save()
    note.title = "b"
    note.save()
    note.save()  # changes nothing: not logged
    with context(actor="ann"):
        assert Note.get(1).title == "b"
    note.delete()
    assert log == [
        ("change", 1, {"id": (None, 1), "title": (None, "a")}),
        ("change", 1, {"title": ("a", "b")}),
        ("access", 1, "ann"),
        ("change", 1, {"id": (1, None), "title": ("b", None)}),
    ]
    assert rows == {}


def test_the_subject_is_the_instance_or_the_bulk_writes_queryset(backend: Any) -> None:
    """``subject``: what the write was called on; every row of one bulk write shares it."""
    reg = PluginRegistry(group=None)
    got: list[tuple[str, Any, Any]] = []

    class Subjects:
        @hook("after_change")
        def changed(self, instance: Any, subject: Any, action: str) -> None:
            got.append((action, instance, subject))

    reg.register("subjects", Subjects)
    Article = backend.model("subjects", registry=reg)
    a = backend.create(Article, title="x")
    backend.create(Article, title="x")
    a.title = "y"
    backend.save(a)
    assert [(action, subject is instance) for action, instance, subject in got] == [
        ("create", True),
        ("create", True),
        ("update", True),
    ]
    if backend.name == "earnorm":
        return  # no bulk writes there (the table of the lifecycle events says so)
    del got[:]
    backend.bulk_update(backend.query(Article), views=4)
    assert len(got) == 2
    subjects = {id(subject) for _, _, subject in got}
    assert len(subjects) == 1  # one statement, one subject
    (_, instance, subject), _ = got
    assert not isinstance(subject, Article) and subject is not instance


def test_a_cache_hit_fires_after_access_too(backend: Any) -> None:
    """``after_access`` is the fetch's event, whether the cache or the database answers."""
    Article, seen = listening(backend, "cache")
    a = backend.create(Article, title="a")
    with context(actor="ann"):
        backend.get(Article, a.id)  # read, and cached
        with backend.queries() as ran:
            backend.get(Article, a.id)  # a hit
    assert ran == []  # answered by the cache
    assert seen.accesses == [(a.id, "ann", None), (a.id, "ann", None)]


def test_the_librarys_own_reads_fire_no_load(backend: Any) -> None:
    """The read before a bulk write (every column: a listener takes the instance) and, on
    Django, ``refresh_from_db`` load rows quietly: only the user's queries are loads."""
    reg = PluginRegistry(group=None)
    events: list[str] = []

    class Loads:
        @hook("after_access", loads=True)
        def log(self, instance: Any, event: str) -> None:
            events.append(event)

        @hook("after_change")
        def changed(self, instance: Any) -> None:
            pass

    reg.register("loads", Loads)
    Article = backend.model("loads", registry=reg)
    a = backend.create(Article, title="a")
    backend.create(Article, title="b")
    _as_a_new_session_sees_them(backend)
    if backend.name != "earnorm":  # no bulk writes there
        backend.bulk_update(backend.query(Article), views=3)
    if backend.name.startswith("django"):
        a.refresh_from_db()
        assert a.views == 3
    assert events == []
    _as_a_new_session_sees_them(backend)
    assert len(backend.visible(Article)) == 2
    assert events == ["after_query_load"] * 2  # the watch is there
