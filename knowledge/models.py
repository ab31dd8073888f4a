"""Tables of the knowledge base: the entries as they stand, and every version of each."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ticketing.models import Base, Unit, UTCDateTime, utcnow


class EntryStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    RETIRED = "retired"


STATUS_LABELS = {EntryStatus.DRAFT: "草稿", EntryStatus.PUBLISHED: "已发布",
                 EntryStatus.RETIRED: "已停用"}


class KbEntry(Base):
    """One question and its answer, as it stands now (the latest version)."""

    __tablename__ = "kb_entries"

    # The id a city already uses ("kb014") is kept on import, so references stay valid.
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    # What is read to the caller.
    answer: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(32), default="other", index=True)
    keywords: Mapped[list[str]] = mapped_column(JSON, default=list)
    synonyms: Mapped[list[str]] = mapped_column(JSON, default=list)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    valid_from: Mapped[date | None] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=EntryStatus.DRAFT.value, index=True)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Optimistic lock on the version the service bumps: an editor saving over a change made
    # since they loaded the entry updates no row (StaleDataError → 409), not a lost edit.
    __mapper_args__ = {"version_id_col": version, "version_id_generator": False}  # noqa: RUF012

    unit: Mapped[Unit | None] = relationship()


class KbVersion(Base):
    """One edit of an entry: the whole entry after the edit, who made it and when.
    Rows are only ever inserted."""

    __tablename__ = "kb_versions"
    __table_args__ = (UniqueConstraint("entry_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[str] = mapped_column(ForeignKey("kb_entries.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    # create | edit | publish | retire | import
    action: Mapped[str] = mapped_column(String(16))
    # Names of the fields this version changed.
    changed: Mapped[list[str]] = mapped_column(JSON, default=list)
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
