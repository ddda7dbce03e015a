"""Shared switches under faults: many processes toggling, a frozen one, a Redis that dies.

Worker processes (``tests/_switch_worker.py``, ``toggle``) each share a
registry through a real redis-server and toggle ``probe`` in bursts (toggles
0-3 ms apart, all workers at once) while this test freezes one of them
(SIGSTOP, then SIGCONT once the others are done) or kills redis-server (kill -9)
in the middle of a burst and starts it again empty on the same port.  After
each burst every process must end in the state the hash holds, with nothing
left to write; then one process toggles alone and its toggle must be the one
every process ends with (a process's own toggle is never lost).  Every wait
polls a bounded number of times; the work is bounded by counts.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
from typing import Any

from _builtin_backends import RedisServer, redis_binary
from _switch_worker import (
    OFF,
    ON,
    T_CONNECTED,
    T_DONE,
    T_ERRORS,
    T_PENDING,
    T_STATE,
    T_WIDTH,
)
from _switch_worker import toggle as run_toggler
from _switchboards import eventually

from earnorm_aop import RedisSwitchboard, SwitchState

# Up to 20 s a wait: bursts of many processes, a frozen one, a restarted redis-server.
PATIENT = 1000


class Togglers:
    def __init__(self, url: str, namespace: str, count: int, rounds: int) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.count = count
        self.status: Any = ctx.Array("i", count * T_WIDTH, lock=False)
        self.queues = [ctx.Queue() for _ in range(count)]
        self.sent = [0] * count
        self.processes = [
            ctx.Process(
                target=run_toggler,
                args=(url, namespace, i, self.status, self.queues[i], rounds),
                daemon=True,
            )
            for i in range(count)
        ]
        for p in self.processes:
            p.start()

    def send(self, index: int, *command: Any) -> None:
        self.queues[index].put(command)
        self.sent[index] += 1

    def column(self, col: int) -> list[int]:
        return [self.status[i * T_WIDTH + col] for i in range(self.count)]

    def done(self, indexes: range | list[int] | None = None) -> bool:
        done = self.column(T_DONE)
        return all(done[i] == self.sent[i] for i in indexes or range(self.count))

    def close(self) -> None:
        for i in range(self.count):
            self.queues[i].put(("stop",))
        for p in self.processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()


def shared(board: RedisSwitchboard) -> SwitchState | None:
    try:
        return board.states().get("probe")
    except board.errors:
        return None


def test_toggling_processes_converge_after_bursts_freezes_and_redis_kills() -> None:
    binary = redis_binary()
    server = RedisServer(binary)
    url, port, ns = server.url, server.port, "faults"
    reader = RedisSwitchboard(url, ns, timeout=0.3)
    rng = random.Random(19)
    workers = Togglers(url, ns, count=3, rounds=200_000)
    diverged: list[str] = []
    lost: list[str] = []

    def converged() -> bool:
        state = shared(reader)
        if state is None or not workers.done():
            return False
        want = ON if state.enabled else OFF
        return (
            workers.column(T_STATE) == [want] * workers.count
            and workers.column(T_PENDING) == [0] * workers.count
            and workers.column(T_CONNECTED) == [1] * workers.count
            and shared(reader) == state
        )

    try:
        assert eventually(lambda: workers.column(T_CONNECTED) == [1] * 3, PATIENT)
        for burst in range(12):
            fault = burst % 4  # 0, 3: none; 1: a frozen process; 2: Redis killed
            frozen = rng.randrange(3)
            for i in range(3):
                workers.send(i, "burst", rng.randint(1, 6), rng.randrange(10**9))
            if fault == 1:
                os.kill(workers.processes[frozen].pid, signal.SIGSTOP)  # type: ignore[arg-type]
                others = [i for i in range(3) if i != frozen]
                assert eventually(lambda others=others: workers.done(others), PATIENT)
                os.kill(workers.processes[frozen].pid, signal.SIGCONT)  # type: ignore[arg-type]
            elif fault == 2:
                server.process.kill()  # kill -9, mid-burst
                server.process.wait()
                server.client.close()
                server = RedisServer(binary, port=port)  # back, empty
            if not eventually(converged, PATIENT):
                diverged.append(
                    f"burst {burst} (fault {fault}): hash {shared(reader)}, "
                    f"states {workers.column(T_STATE)}, pending {workers.column(T_PENDING)}"
                )
                continue
            # One process toggles alone: every process must end with its toggle.
            state = shared(reader)
            assert state is not None
            alone = rng.randrange(3)
            workers.send(alone, "set", not state.enabled)
            if not eventually(converged, PATIENT) or shared(reader).enabled is state.enabled:  # type: ignore[union-attr]
                lost.append(f"burst {burst}: worker {alone}'s toggle to {not state.enabled}")
    finally:
        workers.close()
        reader.client.close()
        server.stop()
    assert diverged == []
    assert lost == []
    assert workers.column(T_ERRORS) == [0] * 3
    assert [p.exitcode for p in workers.processes] == [0] * 3
