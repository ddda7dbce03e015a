"""Persisted state on Django: what ``refresh_from_db`` records (see ``state.py``)."""

from __future__ import annotations

import pytest
from django.db import connection
from djangoapp.models import Article, Author

from earnorm_aop.integrations.django import adapter


@pytest.mark.parametrize("positional", [False, True])
def test_a_partial_refresh_records_only_the_fields_it_reloaded(positional: bool) -> None:
    author = Author.objects.create(name="ann")
    article = Article.objects.create(title="a")
    loaded = Article.objects.get(pk=article.pk)
    loaded.title = "local"  # changed here, not saved: the database still holds "a"
    with connection.cursor() as cursor:  # changed in the database behind the plugins' back
        cursor.execute(
            f'UPDATE "{Article._meta.db_table}" SET author_id = %s WHERE id = %s',
            [author.pk, article.pk],
        )
    if positional:
        loaded.refresh_from_db(None, ["author"])
    else:
        loaded.refresh_from_db(fields=["author"])
    assert (loaded.author_id, loaded.title) == (author.pk, "local")
    state = adapter.loaded_state(loaded)
    assert state is not None
    assert state["author_id"] == author.pk  # reloaded: now what the database holds
    assert state["title"] == "a"  # not reloaded: still what was loaded, not the local value
