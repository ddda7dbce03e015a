"""Views that report the earnorm_aop context they run in, and write an audited row."""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import sync_to_async
from django.http import JsonResponse
from django.urls import path
from ledger.models import Entry

from earnorm_aop import context


def _write(title: str) -> None:
    Entry.objects.create(title=title, secret="hunter2", pin="0000")


def sync_view(request: Any) -> JsonResponse:
    _write("sync")
    return JsonResponse(context.current().as_dict())


async def async_view(request: Any) -> JsonResponse:
    await asyncio.sleep(0)
    await sync_to_async(_write)("async")
    return JsonResponse(context.current().as_dict())


def request_actor(request: Any) -> str:
    """A custom ACTOR setting: who the request says it is."""
    return "custom:" + request.headers.get("X-Who", "?")


urlpatterns = [path("sync/", sync_view), path("async/", async_view)]
