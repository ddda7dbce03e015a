"""Request ``toolbar_urls``' page with Django's test ``Client``; read the toolbar's Plugins panel.

Usage: ``python toolbar_session.py`` with ``DJANGO_SETTINGS_MODULE=toolbar_settings``
and ``EARNORM_AOP_ADMIN_DB`` naming a database file.  The panel renders as the
browser would fetch it (the toolbar's ``render_panel`` view, by the request id
the page carries); prints the page's heading, the panel's subtitle and the
panel's HTML as JSON, for ``test_django_debug_toolbar.py``.
"""

from __future__ import annotations

import json
import re

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402


def main() -> None:
    call_command("migrate", verbosity=0)
    client = Client(HTTP_HOST="127.0.0.1")
    page = client.get("/work/")
    html = page.content.decode()
    (request_id,) = re.findall(r'data-(?:request|store)-id="([^"]+)"', html)
    subtitle = re.search(r'class="PluginsPanel"[^>]*>.*?<small>(.*?)</small>', html, re.S)
    # The request id's parameter: request_id (django-debug-toolbar 6+) or store_id (before).
    query = {"request_id": request_id, "store_id": request_id, "panel_id": "PluginsPanel"}
    panel = client.get("/__debug__/render_panel/", query)
    print(
        json.dumps(
            {
                "status": [page.status_code, panel.status_code],
                "heading": re.search(r"<h1>(.*?)</h1>", html).group(1),  # type: ignore[union-attr]
                "subtitle": subtitle.group(1) if subtitle else None,
                "panel": panel.json()["content"],
            }
        )
    )


if __name__ == "__main__":
    main()
