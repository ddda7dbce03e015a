"""The ``env.py`` of the notes project: the three lines docs/migrations.md asks for."""

import os

from alembic import context
from models import Base
from sqlalchemy import create_engine

from earnorm_aop.integrations import alembic as plugins

engine = create_engine(os.environ["NOTES_DB_URL"])
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=plugins.target_metadata(Base.metadata),
        **plugins.options(connection),
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
