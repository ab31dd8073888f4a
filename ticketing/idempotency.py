"""A client's retry of ``POST /api/v1/tickets`` files no second ticket.

The ``Idempotency-Key`` request header (draft-ietf-httpapi-idempotency-key-header) is a
string the client picks per complaint and sends again with every retry of it. The first
request with a key files the ticket; a later one with the same key by the same user gets
that ticket back and nothing is created, dispatched, texted or audited again. Keys are the
user's own: another user's same key files that user's own ticket.

The key is claimed (a row in ``idempotency_keys``, unique per user and key) in the ticket's
own transaction, before the ticket is written. Of two requests racing with one key, the
second's claim waits for the first's transaction (PostgreSQL: on the unique index;
SQLite: at BEGIN, for the write lock) and then reads the ticket the first committed; if
the first rolled back, the second claims the key and files it. A retry never burns a
ticket number or classifies into a second ticket.

A web form that files a ticket (the console's intake) carries a one-time token of the
same kind (``new_form_token``, rendered into the form): its resend -- a double click, the
browser posting again after a slow answer -- is the same request with the same key
(``form_key``), and finds the ticket the first post filed.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel
from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ticketing.actors import Actor
from ticketing.inputs import InvalidInput
from ticketing.models import IdempotencyKey, Ticket

HEADER = "Idempotency-Key"
FIELD = f"header.{HEADER}"  # where the API's errors say the problem is
MAX_KEY_LENGTH = 255  # idempotency_keys.key
# Printable ASCII, no blank at either end (HTTP strips those): a UUID, a quoted
# Structured Field string ("…", as the draft writes it) or any client's own scheme.
KEY_PATTERN = rf"^[!-~]([ -~]{{0,{MAX_KEY_LENGTH - 2}}}[!-~])?$"
# How long a key answers with its ticket; a retry after that files a new one. Longer than
# any client's retry loop, short enough that the table holds about a day of tickets.
KEY_TTL = timedelta(hours=24)


class KeyReused(InvalidInput):
    """The key came before with another body: the draft's 422, never the earlier ticket."""

    def __init__(self) -> None:
        super().__init__(FIELD, "this Idempotency-Key was used with a different request body; "
                                "use a new key for a new complaint")


# A form's token, as the form posts it, and its key: apart from any key an API client picks.
FORM_FIELD = "form_token"
FORM_KEY_PREFIX = "form:"
_FORM_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_form_token() -> str:
    """A one-time token for a form that files a ticket (``form_key``)."""
    return secrets.token_urlsafe(24)


def form_key(token: str) -> str | None:
    """The key of a form's one-time token; None for a post without one (a client that is
    no browser: every post files, as a request without an Idempotency-Key). A token
    ``new_form_token`` could not have made is refused (``InvalidInput``)."""
    if not token:
        return None
    if not _FORM_TOKEN.fullmatch(token):
        raise InvalidInput(FORM_FIELD, "not a form token of this service")
    return FORM_KEY_PREFIX + token


def fingerprint(body: BaseModel | Mapping[str, Any]) -> str:
    """SHA-256 of the validated body (a form's fields): the same fields with the same
    values (after the body's own clean-up) are the same request, however it was spelled."""
    fields = body.model_dump(mode="json") if isinstance(body, BaseModel) else dict(body)
    text = json.dumps(fields, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _insert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(IdempotencyKey)
    return sqlite_insert(IdempotencyKey)


def create_once(
    *, session: Session, actor: Actor, key: str | None, body: BaseModel | Mapping[str, Any],
    now: datetime, create: Callable[[], Ticket],
) -> Ticket:
    """The ticket ``create`` files, or, when ``key`` came from ``actor`` with this ``body``
    within ``KEY_TTL``, the ticket it filed then (``create`` is not called). ``key`` None:
    just ``create()``. Raises ``KeyReused`` for the key with another body."""
    if key is None:
        return create()
    if actor.id is None:
        raise ValueError("an Idempotency-Key belongs to a user; the system has none")
    mine = (IdempotencyKey.user_id == actor.id, IdempotencyKey.key == key)
    digest = fingerprint(body)
    # An expired key is free again (one row: no lock on anyone else's keys).
    session.execute(delete(IdempotencyKey).where(*mine, IdempotencyKey.created_at <= now - KEY_TTL)
                    .execution_options(synchronize_session=False))
    claimed = session.execute(
        _insert(session).values(user_id=actor.id, key=key, fingerprint=digest, created_at=now)
        .on_conflict_do_nothing(index_elements=[IdempotencyKey.user_id, IdempotencyKey.key])
        .returning(IdempotencyKey.id)
    ).scalar()
    if claimed is None:
        # Committed by an earlier request (a claim still in flight was waited for).
        earlier = session.execute(
            select(IdempotencyKey.fingerprint, IdempotencyKey.ticket_id).where(*mine)).one()
        if earlier.fingerprint != digest:
            raise KeyReused()
        ticket = session.get(Ticket, earlier.ticket_id) if earlier.ticket_id else None
        if ticket is None:
            raise RuntimeError(f"Idempotency-Key of user {actor.id} committed without a ticket")
        return ticket
    ticket = create()
    session.flush()  # the ticket's id (with accept_now it is written only now)
    session.execute(update(IdempotencyKey).where(IdempotencyKey.id == claimed)
                    .values(ticket_id=ticket.id).execution_options(synchronize_session=False))
    return ticket


def prune_keys(*, session: Session, now: datetime) -> int:
    """Delete the keys past ``KEY_TTL`` (a scheduled job, hotline.scheduler); how many."""
    result = session.execute(delete(IdempotencyKey)
                             .where(IdempotencyKey.created_at <= now - KEY_TTL)
                             .execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
