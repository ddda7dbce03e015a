"""A process of the cross-process rollout test: ``python tests/_rollout_worker.py URL NS N``.

Weaves ``probe`` on its own ``Job``, shares its registry through Redis, waits
(bounded) until the rollout another process set has reached it, then calls
``Job.work`` once as each of ``N`` actors and prints, as one line of JSON,
which actors the plugin ran for ("1"/"0" per actor) and this process's id.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from earnorm_aop import PluginRegistry, RedisSwitchboard, context, plugin, with_plugins
from earnorm_aop.weaving.state import lock as weaving_lock


def main(url: str, namespace: str, actors: int) -> None:
    reg = PluginRegistry(group=None)

    @plugin("probe", registry=reg)
    class Probe:
        def before_work(self, instance: Any) -> None:
            instance.ran = True

    @with_plugins("probe", registry=reg)
    class Job:
        ran = False

        def work(self) -> bool:
            return self.ran

    board = reg.share(RedisSwitchboard(url, namespace, interval=0.02, retry=0.05, timeout=0.5))
    print("ready", flush=True)

    def arrived() -> bool:
        # Under the weaver's lock: the listener sets the switch's rollout and re-weaves
        # the classes in one hold of it, so a rollout seen here is one already woven.
        with weaving_lock:
            return reg.switch("probe").rollout is not None

    if not board.wait_for(arrived, attempts=2500):
        print(json.dumps({"error": "the rollout never arrived"}), flush=True)
        return
    seen = []
    for i in range(actors):
        with context(actor=f"user-{i}"):
            job = Job()
            job.work()
            seen.append("1" if job.ran else "0")
    print(json.dumps({"pid": os.getpid(), "ran": "".join(seen)}), flush=True)
    board.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
