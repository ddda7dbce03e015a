"""``UNKNOWN``, a field never loaded: false, and named in reprs (a record's changes, a trace)."""

from __future__ import annotations

from earnorm_aop.adapters import tracking
from earnorm_aop.adapters._unknown import UNKNOWN


def test_unknown_is_false_and_says_what_it_is() -> None:
    assert not UNKNOWN and bool(UNKNOWN) is False
    assert repr(UNKNOWN) == "UNKNOWN" and repr({"views": UNKNOWN}) == "{'views': UNKNOWN}"
    assert tracking.UNKNOWN is UNKNOWN  # the name change tracking and adapters share
