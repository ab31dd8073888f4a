"""The shape every kind of work item has: prepare (at claim time: still wanted? who?),
a conversation or SMS text, and after (at the end: done, retry when, or what next)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from outbound.conversation import Conversation
from outbound.models import OutboundAttempt, OutboundTask, TaskStatus
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket

SYSTEM = Actor.system("outbound")


@dataclass(frozen=True)
class Target:
    channel: str  # call | sms
    phone: str
    user_id: int | None = None
    text: str | None = None  # the SMS body


class Policy(Protocol):
    def prepare(self, *, session: Session, domain: Domain, task: OutboundTask, ticket: Ticket,
                now: datetime) -> Target | None:
        """The target to contact now, or None after settling the task itself (cancelled,
        postponed, failed)."""
        ...

    def conversation(self, *, sessions: sessionmaker[Session], domain: Domain,
                     task: OutboundTask, attempt: OutboundAttempt, ticket: Ticket
                     ) -> Conversation: ...

    def after(self, *, session: Session, domain: Domain, task: OutboundTask, ticket: Ticket,
              attempt: OutboundAttempt, now: datetime) -> None:
        """Settle the task after an attempt ended (or was found abandoned by a crash)."""
        ...


def cancel(task: OutboundTask, now: datetime, why: str) -> None:
    task.status = TaskStatus.CANCELLED.value
    task.result = why[:32]
    task.finished_at = now
    task.claimed_by = task.claimed_until = None


def finish(task: OutboundTask, now: datetime, result: str,
           status: TaskStatus = TaskStatus.DONE) -> None:
    task.status = status.value
    task.result = result[:32]
    task.finished_at = now
    task.claimed_by = task.claimed_until = None


def postpone(task: OutboundTask, until: datetime, why: str | None = None) -> None:
    task.status = TaskStatus.PENDING.value
    task.due_at = until
    task.claimed_by = task.claimed_until = None
    if why:
        task.result = why[:32]


def hold(task: OutboundTask, why: str) -> None:
    """Set aside, its due time kept: not claimed until released back to pending."""
    task.status = TaskStatus.HELD.value
    task.result = why[:32]
    task.claimed_by = task.claimed_until = None


def retry_or_none(task: OutboundTask, schedule: list[int], now: datetime) -> datetime | None:
    """When to try again after ``task.attempts`` attempts, or None when the schedule is
    used up. Never 'now': a busy phone is not redialled in a loop."""
    index = task.attempts - 1
    if index < 0 or index >= len(schedule):
        return None
    return now + timedelta(seconds=max(1, schedule[index]))


def insert_ignore(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert task rows, skipping any whose (ticket, kind, round, step) already exists —
    the unique key, not a cursor, decides what has been planned. Returns rows inserted."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database {dialect}")
    stmt = dialect_insert(OutboundTask).on_conflict_do_nothing(
        index_elements=["ticket_id", "kind", "round", "step"]
    )
    inserted = 0
    for i in range(0, len(rows), 500):  # multi-row VALUES, within SQLite's variable limit
        result = session.execute(stmt.values(rows[i:i + 500]))
        inserted += max(0, getattr(result, "rowcount", 0) or 0)
    return inserted


def task_row(*, ticket_id: int, kind: str, round_: int, step: int, due_at: datetime,
             now: datetime) -> dict[str, Any]:
    return {"ticket_id": ticket_id, "kind": kind, "round": round_, "step": step,
            "due_at": due_at, "attempts": 0, "status": TaskStatus.PENDING.value,
            "created_at": now}


# OutboundAttempt.data: settled by crash recovery (``worker.recover_abandoned``), its
# worker dead before the attempt's end was recorded.
RECOVERED = "recovered"


def abandoned(attempt: OutboundAttempt) -> bool:
    """Whether the attempt's worker died in it: what is known of it is what was committed."""
    return bool((attempt.data or {}).get(RECOVERED))


def answered_then_abandoned(attempt: OutboundAttempt) -> bool:
    """The callee answered, then the worker died before the call's end was recorded: what
    they pressed after the last committed key is unknown. A reminder's handler is not
    called again (``reminders``: the supervisor is); a survey does not ask this, its call
    is retried as an unanswered one (``survey``, docs/outbound.md "Crash rule")."""
    return attempt.outcome == "answered" and abandoned(attempt)
