"""Bulk writes with plugins against the same SQL by hand and the peers (issue 18, point 8).

Run it with the project's interpreter (the peers where installed: the
``bench`` extra, ``pip install -e '.[bench]'`` and ``pip install --no-deps
sqlalchemy-easy-softdelete``, which declares sqlalchemy<2.1)::

    .venv/bin/python benchmarks/bulk.py [--repeat 30] [--rows 100] [--postgres]

Django and SQLAlchemy, each on an in-memory SQLite database (``--postgres``:
then again, in a child process, on the private PostgreSQL cluster of the
tests).  Every row of the table is one operation on ``--rows`` rows, timed in
thread CPU time (``time.thread_time``: what the machine gives the other
processes is left out), with the garbage collector off; the variants of an
operation run interleaved in a rotating order, ``--repeat`` rounds, and a
variant's figure is its best round.  Printed per operation: each variant's
time and its ratio to the first (``bare``: the model without plugins), and
for the plugged variant its ratio to ``hand`` (the same SQL written by hand:
what the plugins would cost if they cost nothing but their SQL).

Operations (the issue's table):

- Django ``QuerySet.update`` of every row: timestamp+softdelete; audit with
  the ``table`` sink (by hand: one SELECT of the old values, the UPDATE, one
  ``bulk_create`` of the records); django-safedelete, django-simple-history
  and django-auditlog (the last two record nothing for ``update()``).
- SQLAlchemy ``update(M)`` of every row: timestamp+softdelete (peer:
  sqlalchemy-easy-softdelete); audit (table).
- SQLAlchemy commit of ``--rows`` new objects with timestamp+softdelete+audit
  (by hand: a ``before_flush`` that stamps and an ``after_flush`` that
  inserts the records in one executemany; peer: SQLAlchemy-Continuum).
- SQLAlchemy save / delete of one object with timestamp+softdelete (peer:
  easy-softdelete with a hand ``before_flush`` stamping ``updated_at``).

A benchmark: it prints, it never fails.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

Round = Callable[[], float]  # one round: setup, then the timed part; its thread CPU seconds
DB_URL = os.environ.get("EARNORM_BENCH_DB", "")  # "": SQLite in memory; else PostgreSQL


def installed(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def timed(work: Callable[[], Any]) -> float:
    gc.disable()
    try:
        start = time.thread_time()
        work()
        return time.thread_time() - start
    finally:
        gc.enable()


def race(variants: dict[str, Round], repeat: int) -> dict[str, float]:
    """Best round of each variant, the variants interleaved in a rotating order."""
    best = dict.fromkeys(variants, float("inf"))
    order = list(variants)
    for i in range(repeat):
        k = i % len(order)
        for name in order[k:] + order[:k]:
            best[name] = min(best[name], variants[name]())
    return best


def report(title: str, best: dict[str, float], plugged: str | None = None) -> None:
    bare = best["bare"]
    print(f"\n{title}")
    for name, seconds in best.items():
        print(f"  {name:<34} {seconds * 1e3:9.3f} ms  {seconds / bare:6.2f}x bare")
    if plugged is not None and "hand" in best:
        for name in best:
            if name.startswith(plugged):
                print(f"  {name} / hand = {best[name] / best['hand']:.2f}")


def audit_config(plugins: tuple[str, ...]) -> dict[str, Any]:
    """The audit plugin's ``table`` sink, where it is one of ``plugins`` (naming it weaves it)."""
    return {"audit": {"sink": "table"}} if "audit" in plugins else {}


def now() -> datetime:
    return datetime.now(UTC)


# -- Django --------------------------------------------------------------------------------


def django_setup() -> None:
    import django
    from django.conf import settings

    apps = ["django.contrib.contenttypes", "django.contrib.auth", "earnorm_aop.integrations.django"]
    apps += [a for a in ("safedelete", "simple_history", "auditlog") if installed(a)]
    if DB_URL:
        user_host, name = DB_URL.rsplit("/", 1)
        user, host_port = user_host.split("@")
        host, port = host_port.split(":")
        database = {"ENGINE": "django.db.backends.postgresql", "NAME": name, "USER": user}
        database.update(HOST=host, PORT=port)
    else:
        database = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
    settings.configure(
        DATABASES={"default": database},
        INSTALLED_APPS=apps,
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


def django_models(rows: int) -> dict[str, Any]:
    from django.db import connection, models

    from earnorm_aop import with_plugins

    def model(name: str, *plugins: str, bases: tuple[type, ...] = (), **extra: Any) -> Any:
        body = {
            "__module__": __name__,
            "Meta": type("Meta", (), {"app_label": "earnorm_aop"}),
            "title": models.CharField(max_length=100, default=""),
            "views": models.IntegerField(default=0),
            **extra,
        }
        made = type(name, bases or (models.Model,), body)
        if plugins:
            with_plugins(*plugins, **audit_config(plugins))(made)
        return made

    stamps = {
        "created_at": models.DateTimeField(null=True),
        "updated_at": models.DateTimeField(null=True),
        "deleted_at": models.DateTimeField(null=True),
    }
    out = {
        "bare": model("BulkBare"),
        "hand": model("BulkHand", **stamps),
        "timestamp+softdelete": model("BulkStamped", "timestamp", "softdelete"),
        "audit (table)": model("BulkAudited", "audit"),
    }
    if installed("safedelete"):
        from safedelete.models import SOFT_DELETE, SafeDeleteModel

        out["django-safedelete"] = model(
            "BulkSafe", bases=(SafeDeleteModel,), _safedelete_policy=SOFT_DELETE
        )
    if installed("simple_history"):
        from simple_history.models import HistoricalRecords

        out["django-simple-history"] = model("BulkHistory", history=HistoricalRecords())
    if installed("auditlog"):
        from auditlog.registry import auditlog

        out["django-auditlog"] = logged = model("BulkLogged")
        auditlog.register(logged)
    from django.apps import apps

    every = [
        m
        for app in ("contenttypes", "auth", "earnorm_aop")
        for m in apps.get_app_config(app).get_models()
    ]
    if installed("auditlog"):
        every += list(apps.get_app_config("auditlog").get_models())
    if installed("simple_history"):
        every.append(out["django-simple-history"].history.model)
    existing = set(connection.introspection.table_names())
    with connection.schema_editor() as editor:
        for made in dict.fromkeys([*every, *out.values()]):
            if made._meta.db_table not in existing:
                existing.add(made._meta.db_table)
                editor.create_model(made)
    for made in out.values():
        made.objects.bulk_create(made(title=f"t{i}") for i in range(rows))
    return out


def django_update(models_: dict[str, Any], repeat: int) -> None:
    from django.db import transaction

    from earnorm_aop.integrations.django.models import AuditRecord

    counter = [0]

    def plain(model: Any) -> Round:
        def run() -> float:
            counter[0] += 1
            value = counter[0]

            def work() -> None:
                with transaction.atomic():
                    model.objects.update(views=value)

            return timed(work)

        return run

    def stamped_by_hand() -> float:
        counter[0] += 1
        value = counter[0]
        hand = models_["hand"]

        def work() -> None:
            with transaction.atomic():
                hand.objects.filter(deleted_at__isnull=True).update(views=value, updated_at=now())

        return timed(work)

    def audited_by_hand() -> float:
        counter[0] += 1
        value = counter[0]
        hand = models_["hand"]
        label = hand._meta.label

        def work() -> None:
            with transaction.atomic():
                old = list(hand.objects.values_list("pk", "views"))
                hand.objects.update(views=value)
                at = now()
                AuditRecord.objects.bulk_create(
                    AuditRecord(
                        model=label,
                        object_id=str(pk),
                        action="update",
                        changes={"views": [was, value]},
                        time=at,
                    )
                    for pk, was in old
                )

        return timed(work)

    first: dict[str, Round] = {"bare": plain(models_["bare"]), "hand": stamped_by_hand}
    first["timestamp+softdelete"] = plain(models_["timestamp+softdelete"])
    if "django-safedelete" in models_:
        first["django-safedelete"] = plain(models_["django-safedelete"])
    report("Django QuerySet.update, timestamp+softdelete", race(first, repeat), "timestamp")
    second: dict[str, Round] = {"bare": plain(models_["bare"]), "hand": audited_by_hand}
    second["audit (table)"] = plain(models_["audit (table)"])
    for peer in ("django-simple-history", "django-auditlog"):
        if peer in models_:
            second[f"{peer} (records nothing)"] = plain(models_[peer])
    report("Django QuerySet.update, audit (table)", race(second, repeat), "audit")


def django_rows(rows: int, repeat: int) -> None:
    import django

    django_setup()
    print(f"Django {django.get_version()}, {rows} rows")
    django_update(django_models(rows), repeat)


# -- SQLAlchemy -----------------------------------------------------------------------------


class Alchemy:
    """The SQLAlchemy models, the engine and the peers that are installed."""

    def __init__(self, rows: int) -> None:
        from sqlalchemy import DateTime, String, create_engine, event
        from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

        from earnorm_aop import with_plugins
        from earnorm_aop.integrations.sqlalchemy import audit_metadata

        self.rows = rows
        self.engine = create_engine(f"postgresql+psycopg://{DB_URL}" if DB_URL else "sqlite://")
        if DB_URL:
            with self.engine.begin() as conn:
                from sqlalchemy import text

                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))

        class Base(DeclarativeBase):
            pass

        def model(name: str, *plugins: str, bases: tuple[type, ...] = (), **extra: Any) -> Any:
            annotations: dict[str, Any] = {"id": Mapped[int], "title": Mapped[str]}
            annotations["views"] = Mapped[int]
            body: dict[str, Any] = {
                "__tablename__": name.lower(),
                "__annotations__": annotations,
                "id": mapped_column(primary_key=True),
                "title": mapped_column(String(100), default=""),
                "views": mapped_column(default=0),
            }
            for key, value in extra.items():
                annotations[key] = Mapped[datetime | None]
                body[key] = value
            made = type(name, (*bases, Base), body)
            if plugins:
                with_plugins(*plugins, **audit_config(plugins))(made)
            return made

        def stamp() -> Any:
            return mapped_column(DateTime(timezone=True), nullable=True)

        stamps = {"created_at": stamp(), "updated_at": stamp(), "deleted_at": stamp()}
        self.models: dict[str, Any] = {
            "bare": model("SaBare"),
            "hand": model("SaHand", **stamps),
            "timestamp+softdelete": model("SaStamped", "timestamp", "softdelete"),
            "audit (table)": model("SaAudited", "audit"),
            "timestamp+softdelete+audit": model("SaAll", "timestamp", "softdelete", "audit"),
        }
        self.easy: Any = None
        if installed("sqlalchemy_easy_softdelete"):
            from sqlalchemy_easy_softdelete.mixin import generate_soft_delete_mixin_class

            mixin = generate_soft_delete_mixin_class(deleted_field_name="es_deleted_at")
            self.easy = model("SaEasy", bases=(mixin,), updated_at=stamp(), es_deleted_at=stamp())
            event.listen(Session, "before_flush", _stamp_dirty(self.easy))
        self.continuum: Any = None
        if installed("sqlalchemy_continuum"):
            try:
                from sqlalchemy.orm import configure_mappers
                from sqlalchemy_continuum import make_versioned

                make_versioned(user_cls=None)
                self.continuum = model("SaVersioned", __versioned__={})
                configure_mappers()
            except Exception as exc:  # a version it does not support: say so, go on
                print(f"  SQLAlchemy-Continuum skipped: {type(exc).__name__}: {exc}")
                self.continuum = None
        hand = self.models["hand"]
        event.listen(Session, "before_flush", _stamp_new(hand))
        event.listen(Session, "after_flush", _audit_new(hand))
        Base.metadata.create_all(self.engine)
        audit_metadata.create_all(self.engine)
        self.Session = Session
        for made in [*self.models.values(), self.easy]:
            if made is not None:
                with Session(self.engine) as session:
                    session.add_all([made(title=f"t{i}") for i in range(rows)])
                    session.commit()
        self.counter = 0


def _stamp_new(model: Any) -> Callable[..., None]:
    def before_flush(session: Any, context: Any, instances: Any) -> None:
        at = now()
        for obj in session.new:
            if type(obj) is model:
                obj.created_at = obj.updated_at = at

    return before_flush


def _stamp_dirty(model: Any) -> Callable[..., None]:
    def before_flush(session: Any, context: Any, instances: Any) -> None:
        at = now()
        for obj in session.dirty:
            if type(obj) is model:
                obj.updated_at = at

    return before_flush


def _audit_new(model: Any) -> Callable[..., None]:
    from sqlalchemy import insert

    from earnorm_aop.integrations.sqlalchemy.audit import audit_table

    def after_flush(session: Any, context: Any) -> None:
        new = [obj for obj in session.new if type(obj) is model]
        if new:
            at = now()
            records = [
                {
                    "model": model.__name__,
                    "object_id": str(obj.id),
                    "action": "create",
                    "changes": {"title": [None, obj.title]},
                    "time": at,
                }
                for obj in new
            ]
            session.connection().execute(insert(audit_table), records)

    return after_flush


def sa_update(db: Alchemy, repeat: int) -> None:
    from sqlalchemy import insert, select, update

    from earnorm_aop.integrations.sqlalchemy.audit import audit_table

    def plain(model: Any) -> Round:
        def run() -> float:
            db.counter += 1
            value = db.counter

            def work() -> None:
                with db.Session(db.engine) as session:
                    session.execute(update(model).values(views=value))
                    session.commit()

            return timed(work)

        return run

    hand = db.models["hand"]

    def stamped_by_hand() -> float:
        db.counter += 1
        value = db.counter

        def work() -> None:
            with db.Session(db.engine) as session:
                statement = update(hand).where(hand.deleted_at.is_(None))
                session.execute(statement.values(views=value, updated_at=now()))
                session.commit()

        return timed(work)

    def audited_by_hand() -> float:
        db.counter += 1
        value = db.counter

        def work() -> None:
            with db.Session(db.engine) as session:
                old = session.execute(select(hand.id, hand.views)).all()
                session.execute(update(hand).values(views=value))
                at = now()
                records = [
                    {
                        "model": "SaHand",
                        "object_id": str(pk),
                        "action": "update",
                        "changes": {"views": [was, value]},
                        "time": at,
                    }
                    for pk, was in old
                ]
                session.connection().execute(insert(audit_table), records)
                session.commit()

        return timed(work)

    first: dict[str, Round] = {"bare": plain(db.models["bare"]), "hand": stamped_by_hand}
    first["timestamp+softdelete"] = plain(db.models["timestamp+softdelete"])
    if db.easy is not None:
        first["sqlalchemy-easy-softdelete"] = plain(db.easy)
    best = race(first, repeat)
    report("SQLAlchemy update(M), timestamp+softdelete", best, "timestamp")
    if db.easy is not None:
        ratio = best["timestamp+softdelete"] / best["sqlalchemy-easy-softdelete"]
        print(f"  timestamp+softdelete / easy-softdelete = {ratio:.2f}")
    second: dict[str, Round] = {"bare": plain(db.models["bare"]), "hand": audited_by_hand}
    second["audit (table)"] = plain(db.models["audit (table)"])
    report("SQLAlchemy update(M), audit (table)", race(second, repeat), "audit")


def sa_commit(db: Alchemy, repeat: int) -> None:
    def adding(model: Any) -> Round:
        def run() -> float:
            objs = [model(title=f"n{i}") for i in range(db.rows)]

            def work() -> None:
                with db.Session(db.engine) as session:
                    session.add_all(objs)
                    session.commit()

            return timed(work)

        return run

    variants = {name: adding(db.models[name]) for name in ("bare", "hand")}
    variants["timestamp+softdelete+audit"] = adding(db.models["timestamp+softdelete+audit"])
    if db.continuum is not None:
        variants["SQLAlchemy-Continuum"] = adding(db.continuum)
    title = f"SQLAlchemy commit of {db.rows} new objects, timestamp+softdelete+audit (table)"
    report(title, race(variants, repeat), "timestamp")


def sa_single(db: Alchemy, repeat: int) -> None:
    model = db.models["timestamp+softdelete"]

    def saving(model: Any) -> Round:
        def run() -> float:
            db.counter += 1
            session = db.Session(db.engine)
            obj = session.get(model, 1)

            def work() -> None:
                obj.views = db.counter
                session.commit()

            try:
                return timed(work)
            finally:
                session.close()

        return run

    def deleting(model: Any, easy: bool) -> Round:
        def run() -> float:
            session = db.Session(db.engine)
            obj = model(title="gone")
            session.add(obj)
            session.commit()
            obj.views  # loaded again after the commit, outside the timed part  # noqa: B018

            def work() -> None:
                if easy:
                    obj.delete()
                else:
                    session.delete(obj)
                session.commit()

            try:
                return timed(work)
            finally:
                session.close()

        return run

    saves = {"bare": saving(db.models["bare"]), "timestamp+softdelete": saving(model)}
    deletes = {
        "bare": deleting(db.models["bare"], False),
        "timestamp+softdelete": deleting(model, False),
    }
    if db.easy is not None:
        saves["easy-softdelete + before_flush"] = saving(db.easy)
        deletes["easy-softdelete + before_flush"] = deleting(db.easy, True)
    for what, variants in (("save", saves), ("delete", deletes)):
        best = race(variants, repeat * 4)
        report(f"SQLAlchemy {what} of one object, timestamp+softdelete", best)
        if db.easy is not None:
            ratio = best["timestamp+softdelete"] / best["easy-softdelete + before_flush"]
            print(f"  timestamp+softdelete / easy-softdelete + before_flush = {ratio:.2f}")


def sqlalchemy_rows(rows: int, repeat: int) -> None:
    import sqlalchemy

    print(f"\nSQLAlchemy {sqlalchemy.__version__}, {rows} rows")
    db = Alchemy(rows)
    sa_update(db, repeat)
    sa_commit(db, repeat)
    sa_single(db, repeat)


def postgres(argv: list[str]) -> None:
    """Run this benchmark again in a child process on the private PostgreSQL cluster."""
    from earnorm_aop.testing import _postgres

    server = _postgres.shared()
    url = f"{server.user}@{server.host}:{server.port}/{server.database}"
    child = [a for a in argv if a != "--postgres"]
    env = {**os.environ, "EARNORM_BENCH_DB": url}
    print("\n==== PostgreSQL (private cluster) ====", flush=True)
    subprocess.run([sys.executable, __file__, *child], env=env, check=False)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rows", type=int, default=100)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--only", choices=["django", "sqlalchemy"])
    ns = parser.parse_args(argv)
    where = "PostgreSQL" if DB_URL else "SQLite in memory"
    print(
        f"Python {platform.python_version()}, {where}; thread CPU time, best of "
        f"{ns.repeat} interleaved rounds"
    )
    if ns.only != "sqlalchemy":
        django_rows(ns.rows, ns.repeat)
    if ns.only != "django":
        sqlalchemy_rows(ns.rows, ns.repeat)
    if ns.postgres and not DB_URL:
        postgres(argv)


if __name__ == "__main__":
    main()
