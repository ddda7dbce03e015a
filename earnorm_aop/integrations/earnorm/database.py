"""An EarnORM environment on an in-memory MongoDB, for tests and examples.

``earnorm.init()`` needs a configuration file and a server, and installs
signal handlers; [`use_mongomock`][earnorm_aop.integrations.earnorm.database.use_mongomock] instead
attaches a ``mongomock-motor`` database to the Mongo adapter of EarnORM's ``Environment`` singleton,
which is all EarnORM's model methods use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["use_mongomock"]


def use_mongomock(database: str = "earnorm_aop") -> Any:
    """Make EarnORM store every model in a fresh in-memory database; return that database.

    Calling it again starts over with an empty database.  Needs ``mongomock-motor``
    (the ``earnorm`` extra installs it).
    """
    from earnorm.base.database.adapters.mongo import MongoAdapter
    from earnorm.base.env import Environment
    from mongomock_motor import AsyncMongoMockClient

    env = Environment.get_instance()
    mongo = MongoAdapter()
    db = AsyncMongoMockClient()[database]
    mongo._sync_db = db
    mongo.env = env
    env._adapter = mongo
    env._initialized = True
    return db
