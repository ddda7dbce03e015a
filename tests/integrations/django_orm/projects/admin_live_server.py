"""Serve the admin of ``store.Note`` with ``runserver`` on ``127.0.0.1:PORT`` for a browser test.

Usage: ``python admin_live_server.py PORT`` with ``DJANGO_SETTINGS_MODULE=admin_live_settings``.
Migrates the database, creates the superuser ``admin`` (password ``pw``) and
four notes (written as alice, then edited and soft-deleted as bob, so there
is audit history), prints their primary keys as one JSON line, then serves
until it is terminated.
"""

from __future__ import annotations

import json
import sys

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from store.models import Note  # noqa: E402

from earnorm_aop import context  # noqa: E402


def main(port: int) -> None:
    call_command("migrate", verbosity=0)
    User.objects.create_superuser("admin", "admin@example.org", "pw")
    with context(actor="alice"):
        notes = {t: Note.objects.create(title=t, body=f"{t} body") for t in ("Alpha", "Beta")}
        notes.update({t: Note.objects.create(title=t) for t in ("Gamma", "Delta")})
    with context(actor="bob"):
        notes["Alpha"].title = "Alpha v2"
        notes["Alpha"].body = "rewritten"
        notes["Alpha"].save()
        notes["Beta"].delete()
        notes["Delta"].delete()
    print(json.dumps({t: n.pk for t, n in notes.items()}), flush=True)
    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, verbosity=0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
