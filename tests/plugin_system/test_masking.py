"""Masked fields never appear in clear: audit records (every sink), log lines, events, traces.

A secret value is written through a model with the audit plugin, and each
place a plugin writes values down is searched for it.  Masks are global
(``mask("password")``) or per model (``with_plugins(mask=[...])``,
``Meta.mask``, ``mask(..., model=M)``), inherited by subclasses.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from earnorm_aop import (
    PluginModel,
    PluginRegistry,
    hook,
    mask,
    mask_key,
    trace,
    unmask,
    with_plugins,
)
from earnorm_aop.plugin_system.masking import (
    HIDDEN_MESSAGE,
    MASK,
    masked_fields,
    masks_key,
    redact,
    redact_changes,
    redact_id,
    redact_messages,
)
from earnorm_aop.plugins.audit import AuditRecord

SECRET = "s3cret-value"
FIELDS = {"password": (str, ""), "token": (str, "")}


KEY = "a-test-key-of-32-bytes-0123456789"


@pytest.fixture(autouse=True)
def _no_global_mask_left() -> Iterator[None]:
    mask_key(KEY)
    yield
    unmask()
    mask_key(None)


def _write_secrets(backend: Any, Article: type) -> Any:
    a = backend.create(Article, title="t", password=SECRET, token=SECRET + "-t")
    a.password = SECRET + "-2"
    a.title = "u"
    a.save()
    return a


def test_a_global_mask_hides_values_in_every_audit_sink_and_the_log(
    backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    mask("password", "token")
    records: list[AuditRecord] = []
    events: list[Any] = []
    reg = PluginRegistry()

    class Listener:
        @hook("after_change")
        def on_change(self, changes: Any) -> None:
            events.append((changes,))

    reg.register("listener", Listener)
    Listed = backend.model(
        "audit", "listener", registry=reg, fields=FIELDS, audit={"sink": records.append}
    )
    Logged = backend.model("audit", fields=FIELDS, audit={"logger": "test.masked"})
    Tabled = backend.model("audit", fields=FIELDS, audit={"sink": "table"})
    with caplog.at_level(logging.INFO, logger="test.masked"), trace() as t:
        _write_secrets(backend, Listed)
        _write_secrets(backend, Logged)
        _write_secrets(backend, Tabled)

    assert [r.changes["password"] for r in records] == [(None, MASK), (MASK, MASK)]
    assert records[0].changes["token"] == (None, MASK)
    assert records[1].changes["title"] == ("t", "u")  # other fields stay in clear
    assert [e[0] for e in events] == [r.changes for r in records]
    lines = [r for r in caplog.records if r.name == "test.masked"]
    assert len(lines) == 2
    rows = backend.audit_rows(Tabled)
    assert [tuple(row["changes"]["password"]) for row in rows] == [(None, MASK), (MASK, MASK)]
    assert len(t) > 0
    written = [
        repr(records),
        repr(events),
        caplog.text,
        repr([(r.getMessage(), vars(r)) for r in lines]),
        repr(rows),
        t.format(),
        repr(list(t)),
    ]
    for text in written:
        assert SECRET not in text


def test_a_model_mask_applies_to_that_model_and_its_subclasses_only() -> None:
    records: list[AuditRecord] = []

    @with_plugins(audit={"sink": records.append}, mask=["pin"])
    class Account:
        id: int | None = None
        pin: str | None = None

        def save(self) -> None:
            self.id = 1

    class Savings(Account):
        pass

    @with_plugins(audit={"sink": records.append})
    class Open:
        id: int | None = None
        pin: str | None = None

        def save(self) -> None:
            self.id = 2

    for cls in (Account, Savings, Open):
        obj = cls()
        obj.pin = "1234"
        obj.save()
    assert [r.changes["pin"] for r in records] == [(None, MASK), (None, MASK), (None, "1234")]
    assert masked_fields(Savings) == {"pin"} and masked_fields(Open) == frozenset()


def test_meta_mask_on_a_plugin_model_and_mask_by_call() -> None:
    records: list[AuditRecord] = []

    class Card(PluginModel):
        id: int | None = None
        number: str | None = None
        cvv: str | None = None

        class Meta:
            plugins = {"audit": {"sink": records.append}}  # noqa: RUF012
            mask = ["number"]  # noqa: RUF012

        def save(self) -> None:
            self.id = 1

    mask("cvv", model=Card)
    card = Card()
    card.number, card.cvv = "4111", "123"
    card.save()
    assert records[0].changes == {"id": (None, 1), "number": (None, MASK), "cvv": (None, MASK)}
    unmask("cvv", model=Card)
    assert masked_fields(Card) == {"number"}


def test_redaction_keeps_none_and_unmask_undoes_a_global_mask() -> None:
    class M:
        pass

    assert redact_changes(M, {"password": ("a", None)}) == {"password": ("a", None)}
    mask("password")
    assert redact_changes(M, {"password": ("a", None), "x": (1, 2)}) == {
        "password": (MASK, None),
        "x": (1, 2),
    }
    assert redact(M, {"password": None, "x": 1}) == {"password": None, "x": 1}
    assert redact(None, {"password": "p"}) == {"password": MASK}
    unmask("password")
    assert redact(M, {"password": "p"}) == {"password": "p"}


def test_a_bad_mask_is_refused_with_what_would_be_right() -> None:
    with pytest.raises(TypeError, match="field names such as 'password'"):
        mask(3)  # type: ignore[arg-type]

    class M:
        def save(self) -> None:
            pass

    from earnorm_aop import PluginConfigError

    with pytest.raises(PluginConfigError, match="M: mask must be a list of field names"):
        with_plugins("audit", mask=3)(M)  # type: ignore[arg-type]


def test_a_refused_write_does_not_show_a_masked_value(
    backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The validation plugin's refusal (and anything logged on the way) names the field only."""
    from earnorm_aop.plugins.validation import ValidationFailed

    mask("password")
    Article = backend.model(
        "validation",
        "audit",
        fields=FIELDS,
        validation={"fields": {"password": {"min_length": 20}}},
        audit={"logger": "test.masked"},
    )
    with caplog.at_level(logging.DEBUG), pytest.raises(ValidationFailed) as refused:
        backend.create(Article, title="t", password=SECRET)
    assert "password" in str(refused.value)
    assert SECRET not in str(refused.value) and SECRET not in repr(refused.value.errors)
    assert SECRET not in caplog.text


def _hashed(pk: Any) -> str:
    return "hmac:" + hmac.new(KEY.encode(), str(pk).encode(), hashlib.sha256).hexdigest()[:32]


def test_a_masked_primary_key_never_appears_in_clear(
    backend: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The record's id, the log line and its ``extra``, the table: the key's keyed hash."""
    records: list[AuditRecord] = []
    Listed = backend.model("audit", audit={"sink": records.append})
    Logged = backend.model("audit", audit={"logger": "test.masked"})
    Tabled = backend.model("audit", audit={"sink": "table"})
    mask("pk")
    with caplog.at_level(logging.INFO, logger="test.masked"):
        written = {m: backend.create(m, title="t") for m in (Listed, Logged, Tabled)}
        for obj in written.values():
            obj.title = "u"
            obj.save()
    key = written[Listed].id
    assert masks_key(Listed) and [r.id for r in records] == [_hashed(key)] * 2
    assert all(r.changes.get("id", (None, MASK)) == (None, MASK) for r in records)
    lines = [r for r in caplog.records if r.name == "test.masked"]
    hashed = _hashed(written[Logged].id)
    assert len(lines) == 2 and all(r.audit["id"] == hashed for r in lines)  # type: ignore[attr-defined]
    assert all(f"id={hashed!r}" in r.getMessage() for r in lines)
    table = backend.audit_rows(Tabled)
    assert [str(row["id"]) for row in table] == [_hashed(written[Tabled].id)] * 2


def test_an_unmasked_key_is_the_records_id(backend: Any) -> None:
    records: list[AuditRecord] = []
    Article = backend.model("audit", audit={"sink": records.append})
    mask("title")
    a = backend.create(Article, title="t")
    assert not masks_key(Article) and records[0].id == a.id
    assert redact_id(Article, a.id) == a.id


def test_redact_id_is_a_keyed_hash_of_the_key() -> None:
    class Row:
        id: int | None = None

    mask("id", model=Row)
    assert masks_key(Row) and masked_fields(Row) == {"id", "pk"}
    assert redact_id(Row, None) is None  # no row yet: nothing to name
    assert redact_id(Row, 7) == _hashed(7) and redact_id(Row, "7") == _hashed(7)
    assert redact_id(Row, 8) != redact_id(Row, 7) and len(redact_id(Row, 7)) == 37
    mask_key(b"another-key-of-16+bytes")
    assert redact_id(Row, 7) != _hashed(7)


def test_a_short_or_odd_key_is_refused_with_what_would_do() -> None:
    for bad in ("short", b"", 42):
        with pytest.raises(ValueError, match=r"at least 16 bytes .* secrets.token_hex"):
            mask_key(bad)  # type: ignore[arg-type]


def test_the_key_comes_from_the_environment_else_a_random_one_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    class Row:
        id: int | None = None

    mask("pk", model=Row)
    monkeypatch.setenv("EARNORM_AOP_MASK_KEY", KEY)
    mask_key(None)
    assert redact_id(Row, 3) == _hashed(3)
    monkeypatch.setenv("EARNORM_AOP_MASK_KEY", "short")
    mask_key(None)
    with caplog.at_level(logging.WARNING, logger="earnorm_aop.plugin_system.masking"):
        first = redact_id(Row, 3)
        assert redact_id(Row, 3) == first != _hashed(3)  # one random key per process
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2 and "fewer than 16 bytes" in warned[0]
    assert "EARNORM_AOP_MASK_KEY" in warned[1] and "random key" in warned[1]


def test_messages_quoting_a_masked_value_are_cleaned() -> None:
    class M:
        pass

    mask("ssn", model=M)
    messages = {"ssn": ["Value '123-45' is not a valid choice."], "__all__": ["123-45 taken"]}
    assert redact_messages(M, {"ssn": "123-45", "name": "bo"}, messages) == {
        "ssn": [f"Value {MASK} is not a valid choice."],
        "__all__": [f"{MASK} taken"],
    }
    assert redact_messages(M, {"name": "bo"}, {"name": ["bo is short"]}) == {
        "name": ["bo is short"]
    }
    assert redact_messages(M, {"ssn": "a*"}, {"ssn": ["aa** is odd"]}) == {"ssn": [HIDDEN_MESSAGE]}


@given(
    secret=st.text(min_size=1, max_size=12),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_a_cleaned_message_never_holds_the_masked_value(
    secret: str, before: str, after: str
) -> None:
    class M:
        pass

    mask("ssn", model=M)
    try:
        (cleaned,) = redact_messages(M, {"ssn": secret}, {"ssn": [before + secret + after]})["ssn"]
    finally:
        unmask(model=M)
    assert secret not in cleaned or cleaned == HIDDEN_MESSAGE
    assert repr(secret) not in cleaned or cleaned == HIDDEN_MESSAGE


def test_a_memory_querysets_repr_hides_a_masked_value() -> None:
    from earnorm_aop.integrations.memory import MemoryModel, MemoryQuerySet, MemoryStore

    @with_plugins("audit", mask=["ssn"])
    class Patient(MemoryModel):
        __store__ = MemoryStore()
        id: int | None = None
        ssn: str = ""
        name: str = ""

    text = repr(MemoryQuerySet(Patient).filter(ssn=SECRET, name="bo", ssn__isnull=False))
    assert SECRET not in text and "ssn__exact=***" in text and "name__exact='bo'" in text
