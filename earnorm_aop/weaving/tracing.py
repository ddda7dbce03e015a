"""Tracing records: what a ``with trace() as t:`` block collects (``trace()`` is in the weaver).

A call made inside a trace block runs the interpreted chain (see
[`earnorm_aop.weaving.interpreted`][earnorm_aop.weaving.interpreted]), which reports each advice run
here; the generated dispatcher hands it over after one test of a process-wide counter and the trace
context variable, so callers outside any trace pay that test only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Trace", "TraceRecord"]


@dataclass(frozen=True)
class TraceRecord:
    """One advice run: who ran, where, how it ended and how long it took (seconds)."""

    plugin: str
    advice: str
    kind: str
    model: str
    method: str
    outcome: str  # "ok", "veto", "recovered", "raised", "failed" (logged by policy), "skipped"
    duration: float
    call: int = 0  # numbers the woven call the advice ran in: one call's records share it
    started: float = 0.0  # time.perf_counter() when the advice started


class Trace:
    """The records of one ``trace()`` block, in the order the advice ran."""

    def __init__(self) -> None:
        self.records: list[TraceRecord] = []

    def __iter__(self) -> Iterator[TraceRecord]:
        return iter(list(self.records))

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> TraceRecord:
        return self.records[index]

    def format(self) -> str:
        """A readable table of the records."""
        lines = [f"{'plugin':<16} {'kind':<7} {'call':<32} {'outcome':<10} {'µs':>8}"]
        for r in self.records:
            call = f"{r.model}.{r.method}"
            lines.append(
                f"{r.plugin:<16} {r.kind:<7} {call:<32} {r.outcome:<10} {r.duration * 1e6:>8.1f}"
            )
        return "\n".join(lines)
