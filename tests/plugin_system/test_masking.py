"""Masked fields never appear in clear: audit records (every sink), log lines, events, traces.

A secret value is written through a model with the audit plugin, and each
place a plugin writes values down is searched for it.  Masks are global
(``mask("password")``) or per model (``with_plugins(mask=[...])``,
``Meta.mask``, ``mask(..., model=M)``), inherited by subclasses.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest

from earnorm_aop import PluginModel, PluginRegistry, hook, mask, trace, unmask, with_plugins
from earnorm_aop.plugin_system.masking import MASK, masked_fields, redact, redact_changes
from earnorm_aop.plugins.audit import AuditRecord

SECRET = "s3cret-value"
FIELDS = {"password": (str, ""), "token": (str, "")}


@pytest.fixture(autouse=True)
def _no_global_mask_left() -> Iterator[None]:
    yield
    unmask()


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
