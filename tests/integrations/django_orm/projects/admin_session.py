"""Drive the admin of ``projects/admin_settings.py`` with Django's test client; print JSON.

Run by ``test_django_admin.py`` in its own interpreter (its own settings and
in-memory database): migrate, log a superuser in, then GET and POST the add
and change views of ``store.Product``.  A request that fails answers 500 here
(``raise_request_exception=False``), as a real server would.
"""

from __future__ import annotations

import json
from typing import Any

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402
from store.models import Product  # noqa: E402


def form_state(response: Any) -> dict[str, Any]:
    context = response.context
    form = context["adminform"].form if context and "adminform" in context else None
    return {
        "status": response.status_code,
        "fields": sorted(form.fields) if form is not None else None,
        "errors": {k: list(v) for k, v in form.errors.items()} if form is not None else None,
        "html": response.content.decode(),
    }


def main() -> None:
    setup_test_environment()  # response.context, and "testserver" allowed
    call_command("migrate", verbosity=0)
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "pw"))
    add = "/admin/store/product/add/"
    out: dict[str, Any] = {"add": form_state(client.get(add))}
    out["add_invalid"] = form_state(client.post(add, {"title": "ab", "price": "0"}))
    out["rows_after_invalid_add"] = Product.objects.count()
    out["add_valid"] = {"status": client.post(add, {"title": "Lamp", "price": "3"}).status_code}
    product = Product.objects.get()
    change = f"/admin/store/product/{product.pk}/change/"
    out["change"] = form_state(client.get(change))
    out["change_invalid"] = form_state(client.post(change, {"title": "x", "price": "3"}))
    product.refresh_from_db()
    out["title_after_invalid_change"] = product.title
    print(json.dumps(out))


if __name__ == "__main__":
    main()
