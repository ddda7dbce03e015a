"""Masking on SQLAlchemy: a many-to-one masked by its name masks its foreign key column.

``mask("patient")`` on a model whose relationship ``patient`` is written as
the column ``patient_id``: audit records say the column changed, never its
value; the primary key is masked as ``pk`` and by its column's name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column, relationship

from earnorm_aop import mask, mask_key, unmask, with_plugins
from earnorm_aop.plugin_system.masking import MASK, masked_fields, masks_key


@pytest.fixture(autouse=True)
def _unmasked() -> Iterator[None]:
    mask_key("a-test-key-of-32-bytes-0123456789")
    yield
    unmask()
    mask_key(None)


def models(db: Any, records: list[Any]) -> tuple[Any, Any]:
    class Patient(db.Base):
        __tablename__ = "patient"
        code: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(default="")
        visits: Mapped[list[Visit]] = relationship(back_populates="patient")

    class Visit(db.Base):
        __tablename__ = "visit"
        id: Mapped[int] = mapped_column(primary_key=True)
        note: Mapped[str] = mapped_column(default="")
        patient_id: Mapped[int | None] = mapped_column(ForeignKey("patient.code"))
        patient: Mapped[Patient | None] = relationship(back_populates="visits")

    with_plugins(audit={"sink": records.append})(Visit)
    db.create()
    return Patient, Visit


def test_a_many_to_one_masked_by_name_masks_its_column(db: Any) -> None:
    records: list[Any] = []
    Patient, Visit = models(db, records)
    mask("patient", model=Visit)
    assert {"patient", "patient_id"} <= masked_fields(Visit) and not masks_key(Visit)
    mask("visits", model=Patient)  # a one-to-many writes no column of its own
    assert masked_fields(Patient) == {"visits"}
    with db.session(expire_on_commit=False) as session:
        first, second = Patient(code=41, name="a"), Patient(code=42, name="b")
        visit = Visit(note="n", patient=first)
        session.add_all([first, second, visit])
        session.commit()
        visit.patient = second
        session.commit()
    assert [r.changes["patient_id"] for r in records] == [(None, MASK), (MASK, MASK)]
    assert records[0].changes["note"] == (None, "n")


def test_a_column_masked_by_name_masks_its_relationship_and_the_key_its_names(db: Any) -> None:
    Patient, Visit = models(db, [])
    mask("patient_id", model=Visit)
    assert {"patient", "patient_id"} <= masked_fields(Visit)
    mask("code", model=Patient)
    assert masks_key(Patient) and {"code", "pk"} <= masked_fields(Patient)
    unmask(model=Patient)
    mask("pk", model=Patient)
    assert masks_key(Patient) and "code" in masked_fields(Patient)
