"""Drive ``projects/context_settings.py`` with Django's test clients; print JSON.

Run by ``test_django_context.py`` in its own interpreter: each view (sync and
async) is requested through the WSGI ``Client`` and the ASGI ``AsyncClient``,
anonymous and logged in, with and without an ``X-Request-ID`` header; then
with other settings (a custom actor, a proxy's address header, no response
header).  The audit rows written by the views are printed too.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import django

django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import AsyncClient, Client, override_settings  # noqa: E402

from earnorm_aop import context  # noqa: E402
from earnorm_aop.integrations.django.models import AuditRecord  # noqa: E402


def seen(response: Any) -> dict[str, Any]:
    return {
        "status": response.status_code,
        "context": response.json() if response.status_code == 200 else None,
        "header": response.headers.get("X-Request-ID"),
    }


async def through_asgi(client: AsyncClient, url: str, **headers: str) -> dict[str, Any]:
    return seen(await client.get(url, headers=headers))


def main() -> None:
    call_command("migrate", run_syncdb=True, verbosity=0)
    user = User.objects.create_user("alice", password="pw")
    out: dict[str, Any] = {}
    anonymous, logged = Client(), Client()
    logged.force_login(user)
    for url in ("/sync/", "/async/"):
        name = url.strip("/")
        out[f"wsgi_{name}_anonymous"] = seen(anonymous.get(url))
        out[f"wsgi_{name}_user"] = seen(logged.get(url, headers={"X-Request-ID": "req-1"}))
        aclient = AsyncClient()
        aclient.force_login(user)
        out[f"asgi_{name}_user"] = asyncio.run(through_asgi(aclient, url, **{"X-Request-ID": "r2"}))
        out[f"asgi_{name}_anonymous"] = asyncio.run(through_asgi(AsyncClient(), url))
    out["after_requests"] = context.current().as_dict()
    custom = {
        "ACTOR": "context_urls.request_actor",
        "CLIENT_ADDRESS": "HTTP_X_FORWARDED_FOR",
        "REQUEST_ID_HEADER": "X-Trace",
        "RESPONSE_HEADER": None,
    }
    with override_settings(EARNORM_AOP_CONTEXT=custom):
        headers = {"X-Who": "bob", "X-Forwarded-For": "10.1.2.3, 127.0.0.1", "X-Trace": "t-9"}
        out["custom_wsgi"] = seen(Client().get("/sync/", headers=headers))
        out["custom_asgi"] = asyncio.run(through_asgi(AsyncClient(), "/async/", **headers))
    with override_settings(EARNORM_AOP_CONTEXT={"BOGUS": 1}):
        try:
            Client().get("/sync/")
        except ValueError as exc:
            out["bad_setting"] = str(exc)
    out["audit"] = [
        {"actor": r.actor, "request_id": r.request_id, "client": r.client, "changes": r.changes}
        for r in AuditRecord.objects.order_by("pk")
    ]
    print(json.dumps(out))


if __name__ == "__main__":
    main()
