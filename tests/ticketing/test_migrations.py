"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import asr.jobs  # noqa: F401 - tables outside the core are part of the schema too
import ivr.callrecords  # noqa: F401
import knowledge.models  # noqa: F401
import outbound.models  # noqa: F401
from hotline import dbadmin
from ticketing.db import make_engine, schema_revision
from ticketing.models import Base


def test_migrated_schema_matches_models(db_url: str) -> None:
    engine = make_engine(db_url)
    assert schema_revision(engine) == dbadmin.head_revision()
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []
