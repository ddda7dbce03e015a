"""Serve ``toolbar_urls`` with ``runserver`` on ``127.0.0.1:PORT`` for the toolbar's browser test.

Usage: ``python toolbar_server.py PORT`` with ``DJANGO_SETTINGS_MODULE=toolbar_settings``.
Migrates the database, prints ``ready`` on one line, then serves until terminated.
"""

from __future__ import annotations

import sys

import django

django.setup()

from django.core.management import call_command  # noqa: E402


def main(port: int) -> None:
    call_command("migrate", verbosity=0)
    print("ready", flush=True)
    call_command("runserver", f"127.0.0.1:{port}", use_reloader=False, verbosity=0)


if __name__ == "__main__":
    main(int(sys.argv[1]))
