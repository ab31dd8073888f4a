"""ORM models of the ticket domain.

Times are stored as naive UTC and handed out tz-aware (``UTCDateTime``) so that SQLite and
PostgreSQL behave the same; local time (Asia/Shanghai) is only for deadlines and display.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    case,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from ticketing import numbers


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the ticket domain only stores aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class Unit(Base):
    """A node of the unit tree: city → district → street office / agency / utility company."""

    __tablename__ = "units"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(32), default="agency")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # Materialised path ("/1/4/9/") so a subtree is one indexed LIKE, on both databases.
    path: Mapped[str] = mapped_column(String(512), default="/", index=True)
    # Indexed: the figures ask of every surveyed ticket whether its number is a staff one
    # (ticketing.staff_phones).
    phone: Mapped[str | None] = mapped_column(String(32), index=True)

    parent: Mapped[Unit | None] = relationship(remote_side=[id])


class User(Base):
    """Anyone who acts on tickets: operators, handlers (承办人), supervisors, admins."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    # Indexed: a unit's handlers are read at every filing (service._ON_DUTY_LOADS), which
    # without it read every account of the city (migration 0030).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)  # as Unit.phone
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Only the SHA-256 of a bearer token is stored; the token is shown once when issued.
    token_sha256: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Carried in every console cookie and compared on each request: bumping it (logout,
    # disable, token rotation) ends all of the user's console sessions at once, on every
    # node, although nothing about a session is stored.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # A disabled account's number stays a staff number for tickets filed before this
    # (disabled_at + verification.staff_number_days; ticketing.staff_phones). None while
    # active, and for accounts disabled before the twenty-fifth round: staff for good.
    staff_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    unit: Mapped[Unit | None] = relationship()


class DirectoryVersion(Base):
    """One row: bumped whenever a number enters or leaves the staff numbers (a user or a
    unit added with a phone, an account with one disabled or enabled), so the survey
    planner re-checks the closed tickets only then (ticketing.staff_phones)."""

    __tablename__ = "directory_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(Integer, default=0)


class StaffGap(Base):
    """A span in which a user's number was no staff number: from the cut-off of a disabling
    (``User.staff_until``) to the enabling that came after it. A ticket filed in it stays a
    citizen's after the account is enabled again (ticketing.staff_phones; mend55)."""

    __tablename__ = "staff_gaps"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime] = mapped_column(UTCDateTime)


class AccountEvent(Base):
    """One audited change to an account (disable, enable, new token). Only ever inserted."""

    __tablename__ = "account_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # None: the command line (whoever can run it already holds the database).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))


class LoginFailure(Base):
    """One failed console login, counted against its key ("name:<user name>" or
    "addr:<client address>"). In the database rather than in memory so that every worker
    process and node shares one count and a restart keeps it (hotline.console.auth). Rows
    are only inserted and deleted, never updated, so concurrent failures cannot lose one."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_key_at", "key", "failed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(160))
    failed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class Ticket(Base):
    """A citizen's complaint or request (工单)."""

    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_unit_status", "unit_id", "status"),
        Index("ix_tickets_caller", "caller_phone", "received_at"),
        Index("ix_tickets_address", "category", "address"),
        # 多诉督办 and 一诉多办 look up one category in one place over a span of days.
        Index("ix_tickets_place", "community", "category", "received_at"),
        # The CSV export pages through tickets in call-time order (keyset on both).
        Index("ix_tickets_received", "received_at", "id"),
        # The survey planner takes the closed tickets not checked against the directory's
        # current version (ticketing.staff_phones.unchecked).
        Index("ix_tickets_staff_check", "status", "staff_checked_version"),
        # A handler's tickets, and the open ones alone: auto-dispatch counts each on-duty
        # handler's open tickets at every filing (service._OPEN_TICKETS), which by
        # handler_id alone read every ticket the handler ever held (migration 0030).
        Index("ix_tickets_handler_status", "handler_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(numbers.NUMBER_CHARS), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    # E.164 (ticketing.phones.normalise); None when the caller withheld their number.
    caller_phone: Mapped[str | None] = mapped_column(String(32))
    # The caller keyed the number in on the IVR: good to call back, proof of nothing
    # (ticketing.queries.identified_caller).
    caller_phone_keyed: Mapped[bool] = mapped_column(Boolean, default=False,
                                                     server_default=false())
    caller_name: Mapped[str | None] = mapped_column(String(64))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    # The caller asked not to be called back (no satisfaction survey).
    no_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    address: Mapped[str | None] = mapped_column(String(256))
    district: Mapped[str | None] = mapped_column(String(32))
    # Street office (街道/乡镇) and community (社区/村, or the 小区 named), from
    # ticketing.places; None when the caller named none.
    street: Mapped[str | None] = mapped_column(String(64))
    community: Mapped[str | None] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(32), default="other")
    # 细分类: a code of the category's [sub_categories] table (config/categories.toml), never
    # one of another category (ticketing.service clears it when the category changes); None
    # when the rules were in doubt and nobody set it.
    sub_category: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(16), default="general")
    subject: Mapped[str] = mapped_column(String(128), default="")
    # 反映主体: whom the complaint is about (a company, shop, 物业, site, landlord, office),
    # as the caller's words named it (ticketing.respondent) or an operator set it; None
    # when unknown.
    respondent: Mapped[str | None] = mapped_column(String(100))
    demand: Mapped[str] = mapped_column(Text, default="")
    transcript: Mapped[str | None] = mapped_column(Text)
    transcript_meta: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    recording_path: Mapped[str | None] = mapped_column(String(512))
    recording_sha256: Mapped[str | None] = mapped_column(String(64))
    call_id: Mapped[str | None] = mapped_column(String(128), index=True)
    classification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    kind: Mapped[str] = mapped_column(String(16), default="complaint",
                                      server_default="complaint")  # 诉求类型
    emergency: Mapped[str] = mapped_column(String(8), default="none", server_default="none")
    # 待确认: the classifier was unsure; an operator confirms or corrects it.
    needs_confirmation: Mapped[bool] = mapped_column(Boolean, default=False, index=True,
                                                     server_default=false())
    # Lowest probability among the learned fields; None when the rules alone classified.
    classification_confidence: Mapped[float | None] = mapped_column(Float)

    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False)
    redo_count: Mapped[int] = mapped_column(Integer, default=0)
    # The directory version (``DirectoryVersion``) and the closure (``redo_count``) at which
    # the survey planner last decided this ticket's survey or 不参与回访
    # (ticketing.staff_phones.unchecked): a closed ticket is looked at again only when
    # either moved, not on every tick of all history.
    staff_checked_version: Mapped[int | None] = mapped_column(Integer)
    staff_checked_round: Mapped[int | None] = mapped_column(Integer)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    # 并单 (ticketing.merging): the group's primary, when this ticket was merged into one;
    # kept after the group is closed (the record of whose answer it got). The status it
    # was merged from is what 拆单 restores; merged_at bounds what the figures still count.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    merged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    merged_from_status: Mapped[str | None] = mapped_column(String(16))
    reply_text: Mapped[str | None] = mapped_column(Text)
    # The handler's structured answer (ticketing.service.REPLY_OUTCOMES) and, unless
    # resolved, why; compared with the citizen's survey answer (办理情况契合度).
    reply_outcome: Mapped[str | None] = mapped_column(String(16))
    reply_reason: Mapped[str | None] = mapped_column(Text)
    # The handler's pending 剔除 request, then the 剔除's grounds (service.excluded_for): a
    # reason from settings.verification.exclusion_reasons (None: none listed), and words.
    exclusion_reason: Mapped[str | None] = mapped_column(String(32))
    exclusion_text: Mapped[str | None] = mapped_column(Text)
    # The citizen's key to the public status page (ticketing.citizen): random, never the
    # number (numbers are sequential, so anyone could walk them). Made on first use.
    status_token: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)

    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sign_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    # Optimistic lock: a concurrent writer's UPDATE matches no row and fails (→ HTTP 409).
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    @hybrid_property
    def done_at(self) -> datetime | None:
        """办结 as 按期办结率 dates it: when the unit gave the answer the centre accepted
        (``replied_at`` of a closed ticket; 核实退回 clears it, so a re-answer is dated
        anew), not when the centre got round to 核实. None while not closed."""
        return self.replied_at if self.closed_at is not None else None

    @done_at.inplace.expression
    @classmethod
    def _done_at(cls) -> Any:
        return case((cls.closed_at.is_not(None), cls.replied_at))

    unit: Mapped[Unit | None] = relationship()
    handler: Mapped[User | None] = relationship()
    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", viewonly=True
    )


class TicketEvent(Base):
    """One audited step of a ticket (全程留痕). Rows are only ever inserted."""

    __tablename__ = "ticket_events"
    # The outbound planner looks up recent steps by kind (outbound.citizen_sms). A ticket's
    # own steps of one kind (its first dispatch, its last 退单) are looked up per ticket by
    # the figures and the dispatch queue: without (ticket_id, action, at) SQLite answered
    # ``min(at) ... where ticket_id = ? and action = ?`` by walking every step of that kind
    # in (action, at) order, once per ticket (migration 0019). Its prefix serves every
    # lookup by ticket alone, so it replaces the index on ticket_id.
    __table_args__ = (Index("ix_ticket_events_action_at", "action", "at"),
                      Index("ix_ticket_events_ticket_action_at", "ticket_id", "action", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    ticket: Mapped[Ticket] = relationship(back_populates="events")


class SurveyResult(Base):
    """The citizen's answer to the satisfaction callback, one per closure round."""

    __tablename__ = "survey_results"
    __table_args__ = (UniqueConstraint("ticket_id", "closure_round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    closure_round: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16), default="answered")  # answered|unreachable
    resolved: Mapped[bool | None] = mapped_column(Boolean)
    satisfied: Mapped[bool | None] = mapped_column(Boolean)
    score: Mapped[float | None] = mapped_column(Float)
    keys: Mapped[str | None] = mapped_column(String(16))
    # The handler's structured answer this verdict judged (that closure round's
    # ``Ticket.reply_outcome``): 契合度 pairs the two, and a redo's answer is another
    # round's (migration 0029).
    reply_outcome: Mapped[str | None] = mapped_column(String(16))
    # The unit that gave that answer: the verdict counts in its figures, wherever a redo
    # takes the ticket (reports.loop_counts, ticketing.points; NULL: no unit's, the
    # hotline's 直接答复 at intake, whichever unit its redo goes to).
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # The handler who gave that answer (service.answered_by; ticketing.points charges the
    # verdict's points to them; NULL: a supervisor's answer): a 改派 of the redo within the
    # unit does not hand the citizen's −1 to the next handler (migration 0031).
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    call_ref: Mapped[str | None] = mapped_column(String(128))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TicketSequence(Base):
    """Per-day counter behind the readable ticket numbers."""

    __tablename__ = "ticket_sequences"

    day: Mapped[str] = mapped_column(String(8), primary_key=True)
    # SQLite: the day's last number. PostgreSQL: numbers handed out by the counter row
    # before the sequence took over (the day of the upgrade); the day's numbers are then
    # ``nextval('ticket_numbers') - base`` (ticketing.service._next_number, migration 0026).
    last: Mapped[int] = mapped_column(Integer, default=0)
    base: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SupervisionCase(Base):
    """多诉督办: many tickets about one problem (one category) in one community within a
    window. One open record per (category, place); later tickets join it."""

    __tablename__ = "supervision_cases"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32))
    district: Mapped[str | None] = mapped_column(String(32))
    street: Mapped[str | None] = mapped_column(String(64))
    community: Mapped[str] = mapped_column(String(64))
    # category|district|street|community while open, NULL once closed: a unique key that
    # lets only one open record exist per group, even with two nodes creating at once
    # (NULLs never collide, on either database).
    open_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    tickets: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    last_ticket_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(64))
    close_note: Mapped[str | None] = mapped_column(Text)


class SupervisionLink(Base):
    """A ticket in a 督办 record."""

    __tablename__ = "supervision_links"
    __table_args__ = (UniqueConstraint("case_id", "ticket_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("supervision_cases.id"), index=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReplyAttachment(Base):
    """A photo or document (jpeg, png, pdf) the handler attaches to the reply: evidence, kept
    like a recording with its SHA-256 (ticketing.attachments). Only ever inserted; the one
    later write ties an upload made before the reply to that reply's event."""

    __tablename__ = "reply_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    # The reply event it went with; None while the reply is still being written.
    event_id: Mapped[int | None] = mapped_column(ForeignKey("ticket_events.id"), index=True)
    filename: Mapped[str] = mapped_column(String(128))
    media_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    # Also the file's name in the store: the content decides where it lives, so no path
    # from the database is ever opened.
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyKey(Base):
    """A client's ``Idempotency-Key`` on ``POST /api/v1/tickets`` and the ticket it filed
    (ticketing.idempotency). Scoped per user: the unique key is (user, key), so one client's
    key never answers with another's ticket. Written in the ticket's own transaction; kept
    ``idempotency.KEY_TTL``, then pruned."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_keys_user_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the validated body: the same key with another body is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # None only inside the transaction that claimed the key, until its ticket is written.
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
