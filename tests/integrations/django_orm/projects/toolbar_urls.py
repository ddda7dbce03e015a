"""A page that creates, edits and soft-deletes (vetoed) a note; the toolbar's URLs."""

from debug_toolbar.toolbar import debug_toolbar_urls
from django.http import HttpRequest, HttpResponse
from django.urls import path
from store.models import Note

from earnorm_aop import context


def work(request: HttpRequest) -> HttpResponse:
    with context(actor="alice", request_id="req-toolbar"):
        note = Note.objects.create(title="Draft")
        note.title = "Published"
        note.save()
        note.delete()  # softdelete vetoes the DELETE and saves deleted_at instead
    return HttpResponse(f"<html><body><h1>Note {note.pk} written</h1></body></html>")


urlpatterns = [path("work/", work), *debug_toolbar_urls()]
