"""A model that gets its plugins after its table has rows (test_sqlalchemy_alembic.py).

``NOTES_PLUGINS`` (JSON) says which plugins ``Note`` names now: none, then
timestamp, softdelete and audit, then none again.
"""

import json
import os
from datetime import datetime

from sqlalchemy import DateTime, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from earnorm_aop.integrations.sqlalchemy import PluginModel

_PLUGINS = json.loads(os.environ.get("NOTES_PLUGINS", "{}"))


class Base(PluginModel, DeclarativeBase):
    pass


class Note(Base):
    __tablename__ = "note"
    if _PLUGINS:
        plugins = _PLUGINS

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    published: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
