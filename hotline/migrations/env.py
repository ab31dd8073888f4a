"""Alembic environment. The URL comes from the settings (or the caller's config)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import pool

import asr.jobs  # noqa: F401 - registers the transcription backlog table
import ivr.callrecords  # noqa: F401 - registers the call records table
import knowledge.models  # noqa: F401 - registers the knowledge base tables
import outbound.models  # noqa: F401
from config import get_settings
from ticketing.db import make_engine
from ticketing.models import Base

target_metadata = Base.metadata


def run_migrations() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table by dropping it, which enforced foreign keys refuse
            # while other rows point at it (tickets <- ticket_events). SQLite ignores this
            # pragma inside a transaction: it is set on the raw connection before one begins,
            # and the keys are checked once the migrations are done.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things in place; batch mode rebuilds tables instead.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration left broken foreign keys: {broken[:5]}")
    engine.dispose()


run_migrations()
