"""A deterministic clock for the built-ins' ``clock`` option (``"djangoapp.clock.tick"``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Ticking:
    """Advances one second per call, from 2024-01-01 UTC."""

    def __init__(self) -> None:
        self.now = datetime(2024, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


tick = Ticking()
