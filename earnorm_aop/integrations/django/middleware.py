"""``ContextMiddleware``: every request runs in an [`earnorm_aop.context`][earnorm_aop.context].

Add it after Django's ``AuthenticationMiddleware``::

    MIDDLEWARE = [..., "django.contrib.auth.middleware.AuthenticationMiddleware",
                  "earnorm_aop.integrations.django.middleware.ContextMiddleware", ...]

Inside the request, ``context.actor`` is the user's username (``None`` when
anonymous), ``context.request_id`` the request's ``X-Request-ID`` header or a
new id, and ``context.client`` the client's address, so the audit plugin and
any advice asking for ``context`` know who did what for which request.  The
request id is also sent back in the response's ``X-Request-ID`` header.

Everything is configurable with the ``EARNORM_AOP_CONTEXT`` setting (a dict):

``ACTOR``
    a callable ``(request) -> actor`` or its dotted path (default: the
    username of an authenticated ``request.user``); an ``async def`` one is
    awaited by the async path, a plain one runs through ``sync_to_async`` there.
``REQUEST_ID_HEADER``
    the request header carrying an id to reuse (default ``"X-Request-ID"``;
    ``None``: always generate one).
``RESPONSE_HEADER``
    the response header the id is sent back in (default ``"X-Request-ID"``;
    ``None``: not sent).
``CLIENT_ADDRESS``
    the ``request.META`` key of the client's address (default
    ``"REMOTE_ADDR"``; behind a proxy ``"HTTP_X_FORWARDED_FOR"``, whose first
    address is taken).
``GENERATE_REQUEST_ID``
    a callable ``() -> str`` or its dotted path (default: a random UUID's hex).

The middleware is sync and async capable: under ASGI it awaits the user
(``request.auser()``) instead of touching the database from the event loop.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings

from ...runtime.context import context
from ...runtime.dotted import import_dotted

__all__ = ["SETTING", "ContextMiddleware", "ContextSettings", "username_of"]

SETTING = "EARNORM_AOP_CONTEXT"
_KEYS = ("ACTOR", "REQUEST_ID_HEADER", "RESPONSE_HEADER", "CLIENT_ADDRESS", "GENERATE_REQUEST_ID")


def username_of(request: Any) -> str | None:
    """The default actor: the username of an authenticated ``request.user``."""
    return _name(getattr(request, "user", None))


def _name(user: Any) -> str | None:
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    get_username = getattr(user, "get_username", None)
    return str(get_username() if callable(get_username) else user)


def _new_id() -> str:
    return uuid.uuid4().hex


def _callable(key: str, value: Any) -> Callable[..., Any]:
    if isinstance(value, str):
        value = import_dotted(value)
    if not callable(value):
        raise TypeError(f"{SETTING}[{key!r}] must be a callable or its dotted path, not {value!r}")
    return value  # type: ignore[no-any-return]


@dataclass(frozen=True)
class ContextSettings:
    """The middleware's options, read once from ``settings.EARNORM_AOP_CONTEXT``."""

    actor: Callable[[Any], Any] | None = None  # None: the username, awaited under ASGI
    request_id_header: str | None = "X-Request-ID"
    response_header: str | None = "X-Request-ID"
    client_address: str | None = "REMOTE_ADDR"
    generate_request_id: Callable[[], str] = _new_id

    @classmethod
    def load(cls) -> ContextSettings:
        given: Mapping[str, Any] = getattr(settings, SETTING, None) or {}
        unknown = set(given) - set(_KEYS)
        if unknown:
            raise ValueError(
                f"{SETTING} has unknown keys {', '.join(sorted(unknown))}; "
                f"known keys: {', '.join(_KEYS)}"
            )
        options: dict[str, Any] = {}
        if given.get("ACTOR") is not None:
            options["actor"] = _callable("ACTOR", given["ACTOR"])
        if given.get("GENERATE_REQUEST_ID") is not None:
            options["generate_request_id"] = _callable(
                "GENERATE_REQUEST_ID", given["GENERATE_REQUEST_ID"]
            )
        for key in ("REQUEST_ID_HEADER", "RESPONSE_HEADER", "CLIENT_ADDRESS"):
            if key in given:
                options[key.lower()] = given[key]
        return cls(**options)

    def request_id(self, request: Any) -> str:
        if self.request_id_header:
            given = request.headers.get(self.request_id_header)
            if given:
                return str(given)
        return self.generate_request_id()

    def client(self, request: Any) -> str | None:
        if not self.client_address:
            return None
        value = request.META.get(self.client_address)
        if not value:
            return None
        return str(value).split(",")[0].strip()


class ContextMiddleware:
    """Run each request in a context with its actor, request id and client address."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        self.options = ContextSettings.load()
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self._acall(request)
        actor_of = self.options.actor or username_of
        values = self._values(request, actor_of(request))
        with context(**values):
            response = self.get_response(request)
        return self._answer(response, values["request_id"])

    async def _acall(self, request: Any) -> Any:
        values = self._values(request, await self._aactor(request))
        with context(**values):
            response = await self.get_response(request)
        return self._answer(response, values["request_id"])

    async def _aactor(self, request: Any) -> Any:
        custom = self.options.actor
        if custom is not None:
            if inspect.iscoroutinefunction(custom):
                return await custom(request)
            return await sync_to_async(custom)(request)
        auser: Callable[[], Awaitable[Any]] | None = getattr(request, "auser", None)
        if auser is not None:
            return _name(await auser())
        if not hasattr(request, "user"):
            return None
        return await sync_to_async(username_of)(request)

    def _values(self, request: Any, actor: Any) -> dict[str, Any]:
        return {
            "actor": actor,
            "request_id": self.options.request_id(request),
            "client": self.options.client(request),
        }

    def _answer(self, response: Any, request_id: str) -> Any:
        header = self.options.response_header
        if header and header not in response:
            response[header] = request_id
        return response
