"""Units, users and their bearer tokens (only a token's SHA-256 is stored; it is shown once)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from config.settings import VerificationSettings
from ticketing.actors import Actor
from ticketing.inputs import InvalidInput, StateConflict, clean_name
from ticketing.models import AccountEvent, DirectoryVersion, StaffGap, Unit, User, utcnow
from ticketing.phones import normalise
from ticketing.states import Role

log = logging.getLogger("ticketing.accounts")

# As shipped (settings.verification.staff_number_days): for callers with no settings at hand.
STAFF_NUMBER_DAYS = VerificationSettings.model_fields["staff_number_days"].default

# What a user name or a unit code may be: ASCII letters, digits, "_", "." and "-". The one
# rule of the API (``schemas.UserCreate``, ``UnitCreate``) and the CLI (``hotline user add``,
# ``unit add``), kept here where both create them: the CLI took any text, so a user
# "admin" spelt with a Cyrillic U+0430 read as "admin" in every trail, and a unit code "a b/../c"
# could be named in no URL's ``?unit=`` (judge36).
CODE_PATTERN = r"^[A-Za-z0-9_.-]+$"
CODE_MAX_LENGTH = 64
UNIT_KINDS = ("city", "district", "street", "agency", "utility")
# The roles an account may have. ``system`` is the service's own (the survey call, the
# SMS gateway, the schedulers: ``Actor.system``): `hotline user add --role system` made
# an account that passed what only the service's own steps pass (a survey answer, the
# closing of a merged ticket), its trail reading role "system" (judge36).
ACCOUNT_ROLES = tuple(r.value for r in Role if r is not Role.SYSTEM)


def check_code(value: str, *, what: str, field: str) -> str:
    """``value`` if it is a valid user name or unit code (``CODE_PATTERN``), else
    InvalidInput naming ``field``."""
    if not (0 < len(value) <= CODE_MAX_LENGTH and re.fullmatch(CODE_PATTERN, value)):
        raise InvalidInput(field, f"{what} {value!r} must be 1-{CODE_MAX_LENGTH} ASCII "
                                  "letters, digits, '_', '.' or '-'")
    return value


# Compared against when a login names no such user, so that a wrong name costs the same
# work as a wrong token.
_NO_TOKEN = hashlib.sha256(b"no such user").hexdigest()


class AccountAction(StrEnum):
    DISABLE = "disable"
    ENABLE = "enable"
    ROTATE_TOKEN = "rotate_token"
    # The token taken and none issued: migration 0028 retiring the accounts of role
    # ``system`` made before the role was refused (mend89).
    REVOKE_TOKEN = "revoke_token"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user: User) -> str:
    token = secrets.token_urlsafe(24)
    user.token_sha256 = hash_token(token)
    return token


# The one check for the API and the console: the active user a bearer token belongs to.
# The look-up is by the token's SHA-256 (``token_sha256``), so timing can at most reveal a
# prefix of a hash, never of a token.
_TOKEN_HOLDER = (User.token_sha256 == bindparam("token_sha256"), User.active.is_(True))
# Built once: every API request runs one of them, and building a SELECT (and its cache key)
# cost SQLAlchemy about twice what running it does.
_USER_FOR_TOKEN = select(User).where(*_TOKEN_HOLDER)
_ACTOR_FOR_TOKEN = (select(User.id, User.display_name, User.role, User.unit_id, Unit.path,
                           Unit.code)
                    .outerjoin(Unit, Unit.id == User.unit_id).where(*_TOKEN_HOLDER))


def user_for_token(*, session: Session, token: str) -> User | None:
    """The active user a bearer token belongs to (``_TOKEN_HOLDER``)."""
    if not token:
        return None
    return session.scalars(_USER_FOR_TOKEN, {"token_sha256": hash_token(token)}).first()


def actor_for_token(*, session: Session, token: str) -> Actor | None:
    """``Actor.of(user_for_token(...))`` in one statement that loads no User object (every
    API request starts with it): the user's columns and their unit's path."""
    if not token:
        return None
    # On the session's connection: a column SELECT needs none of the ORM's work, and a
    # request runs this first, with nothing to flush.
    row = session.connection().execute(
        _ACTOR_FOR_TOKEN, {"token_sha256": hash_token(token)}).first()
    if row is None:
        return None
    return Actor(id=row.id, name=row.display_name, role=Role(row.role), unit_id=row.unit_id,
                 unit_path=row.path, unit_code=row.code)


def authenticate(*, session: Session, username: str, token: str) -> User | None:
    """The active user with this name and token (the console login), or None.

    Looks the user up by name and compares the token's hash in constant time; a wrong name
    and a wrong token cost the same and give the same answer."""
    user = session.scalars(select(User).where(User.username == username)).first()
    stored = user.token_sha256 if user is not None and user.token_sha256 else _NO_TOKEN
    matches = hmac.compare_digest(hash_token(token), stored)
    if user is None or not matches or not user.active or not token:
        return None
    return user


def end_sessions(user: User) -> None:
    """End every console session of the user, on every node (see ``User.session_epoch``)."""
    user.session_epoch = (user.session_epoch or 0) + 1


def _audit(session: Session, user: User, actor: Actor, action: AccountAction) -> None:
    session.add(AccountEvent(user_id=user.id, actor_id=actor.id, actor_name=actor.name,
                             action=action.value))
    log.info("account %s: %s by %s (%s)", user.username, action.value, actor.name,
             actor.role.value)


def bump_directory_version(session: Session) -> None:
    """A number entered the staff numbers: the survey planner checks the closed tickets
    against the directory again (ticketing.staff_phones.unchecked). Only where a decision
    can change: disabling and enabling an account change no filed ticket's standing."""
    bumped = session.execute(update(DirectoryVersion).where(DirectoryVersion.id == 1)
                             .values(version=DirectoryVersion.version + 1))
    if not bumped.rowcount:  # type: ignore[attr-defined]
        # A schema made without the migrations (create_all: a bench) has no row yet.
        session.add(DirectoryVersion(id=1, version=1))


def disable_user(*, session: Session, user: User, actor: Actor,
                 staff_number_days: float = STAFF_NUMBER_DAYS) -> None:
    """Lock the user out now: their bearer token and console sessions stop working.

    The sessions are ended too, not only refused while disabled: enabling the account
    again must not bring back a cookie that may have leaked. Their number stays a staff
    number for tickets filed in the next ``staff_number_days``
    (``settings.verification.staff_number_days``; ticketing.staff_phones)."""
    if user.active:
        # Disabling a disabled account again keeps the first cut-off: a new one would make
        # the citizens' tickets filed since the first one staff tickets (review55); one
        # disabled before cut-offs were kept (no staff_until) stays staff for good.
        user.staff_until = utcnow() + timedelta(days=staff_number_days)
    user.active = False
    # No directory bump: the tickets filed so far keep their standing (staff, filed before
    # the cut-off), so no decision of the survey planner can change (review55).
    end_sessions(user)
    _audit(session, user, actor, AccountAction.DISABLE)
    session.flush()


def check_account_role(user: User) -> None:
    """ValueError for an account whose role is none an account may have (``ACCOUNT_ROLES``):
    one of role ``system`` made before the role was refused, disabled and its token revoked
    by migration 0028, must not be let in again or given a token (mend89)."""
    if user.role not in ACCOUNT_ROLES:
        raise ValueError(f"user {user.username} has role {user.role}, the service's own: "
                         "it stays disabled, make an account of another role instead")


def enable_user(*, session: Session, user: User, actor: Actor) -> None:
    """Let the user in again with their current token (rotate it if it leaked)."""
    check_account_role(user)
    now = utcnow()
    if not user.active and user.staff_until is not None and user.staff_until < now:
        # The tickets filed from the cut-off until now were citizens'; they stay so (a
        # ticket's standing never changes, docs/metrics.md): enabling makes the number
        # staff only from now on (review55).
        session.add(StaffGap(user_id=user.id, since=user.staff_until, until=now))
    user.active = True
    user.staff_until = None
    # No bump: nor does enabling change a filed ticket's standing (the span is kept above).
    _audit(session, user, actor, AccountAction.ENABLE)
    session.flush()


def rotate_token(*, session: Session, user: User, actor: Actor) -> str:
    """A new bearer token for the user, returned once; the old one and the user's console
    sessions stop working."""
    check_account_role(user)
    token = issue_token(user)
    end_sessions(user)
    _audit(session, user, actor, AccountAction.ROTATE_TOKEN)
    session.flush()
    return token


def _directory_phone(phone: str | None) -> str | None:
    """A handler's or unit's number in E.164, like the callers' (reminders and their daily
    counts compare numbers)."""
    if phone is None or not phone.strip():
        return None
    e164 = normalise(phone)
    if e164 is None:
        raise InvalidInput("phone", f"invalid phone number {phone!r}")
    return e164


def find_user(*, session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def _taken_user(username: str) -> StateConflict:
    return StateConflict("username", f"user {username} already exists")


def _taken_unit(code: str) -> StateConflict:
    return StateConflict("code", f"unit {code} already exists")


def _insert_new(session: Session, row: User | Unit, taken: Callable[[], object],
                conflict: StateConflict) -> None:
    """Insert ``row``, whose name the caller found free: another admin's request may have
    taken it since (both looked it up before either committed), and the unique index
    refuses the second. That is the ``conflict`` the look-up answers, not a 500: the
    savepoint rolls back alone, and ``taken`` (the look-up) tells that refusal from any
    other, which is raised as it came."""
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        if not taken():
            raise
        raise conflict from None


def find_unit(*, session: Session, code: str) -> Unit | None:
    return session.scalars(select(Unit).where(Unit.code == code)).first()


def add_user(
    *,
    session: Session,
    username: str,
    display_name: str,
    role: Role,
    unit_code: str | None = None,
    phone: str | None = None,
    on_duty: bool = True,
) -> tuple[User, str]:
    """Create a user and return it with its new bearer token."""
    # What the sender must change is 422 (InvalidInput), what the directory already holds
    # 409 (StateConflict): the API's one rule, which the CLI's one-line errors share.
    check_code(username, what="user name", field="username")
    if Role(role).value not in ACCOUNT_ROLES:
        raise InvalidInput("role", f"role {Role(role).value} is the service's own, no account's")
    unit = None
    if unit_code:
        unit = session.scalars(select(Unit).where(Unit.code == unit_code)).first()
        if unit is None:
            raise InvalidInput("unit_code", f"unit {unit_code} does not exist")
    if role in (Role.HANDLER, Role.SUPERVISOR) and unit is None:
        raise InvalidInput("unit_code", f"a {role.value} must belong to a unit")
    if find_user(session=session, username=username):
        raise _taken_user(username)
    user = User(
        username=username,
        display_name=clean_name(display_name, field="display_name"),
        role=role.value,
        unit_id=unit.id if unit else None,
        unit=unit,
        phone=_directory_phone(phone),
        on_duty=on_duty,
    )
    token = issue_token(user)
    _insert_new(session, user, lambda: find_user(session=session, username=username),
                _taken_user(username))
    if user.phone:
        bump_directory_version(session)
        session.flush()
    return user, token


def add_unit(
    *,
    session: Session,
    code: str,
    name: str,
    kind: str = "agency",
    parent_code: str | None = None,
    phone: str | None = None,
) -> Unit:
    check_code(code, what="unit code", field="code")
    if kind not in UNIT_KINDS:
        raise InvalidInput("kind", f"unit kind {kind!r} is none of {', '.join(UNIT_KINDS)}")
    parent = None
    if parent_code:
        parent = session.scalars(select(Unit).where(Unit.code == parent_code)).first()
        if parent is None:
            raise InvalidInput("parent_code", f"parent unit {parent_code} does not exist")
    if find_unit(session=session, code=code):
        raise _taken_unit(code)
    unit = Unit(code=code, name=clean_name(name, field="name"), kind=kind,
                parent_id=parent.id if parent else None, phone=_directory_phone(phone))
    _insert_new(session, unit, lambda: find_unit(session=session, code=code), _taken_unit(code))
    if unit.phone:
        bump_directory_version(session)
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    session.flush()
    return unit
