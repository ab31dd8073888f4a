"""Status lookup by phone (key 1): what the caller's number has open, as it is read out;
or, when no trusted source vouched for that number, the step of the one ticket whose
number the caller keys in (``keyed_ticket_status``).

The caller is known only by caller ID, which anyone can set on a direct SIP call (and
many trunks pass through). So the answer is only what is safe to tell whoever claims the
number: how many tickets are open, and for each the last digits of its number and a coarse
step (ticketing.states.public_label); for tickets closed in the last 30 days also the
short answer (outcome and the start of the reply, ticketing.citizen.short_answer) -- with
the handler's name and any phone number taken out of it; for tickets set aside (剔除) in
the last 30 days that they will not be handled, with the listed reason their 剔除 SMS gave
(ticketing.citizen.set_aside_reason), never the words staff wrote. Never a confidential
ticket (that a number filed one is itself the secret), never the demand, the unit, a
handler's name or phone.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, joinedload, sessionmaker

from ivr.callrecords import KeyedTicketTry
from ticketing.citizen import (
    RECENT_CLOSED_DAYS,
    exclusion_label,
    public_step,
    set_aside_where,
    short_answer,
)
from ticketing.db import hold_key, make_read_session_factory, transaction
from ticketing.models import Ticket, TicketEvent, utcnow
from ticketing.phones import call_number
from ticketing.queries import same_identified_caller
from ticketing.states import (
    AWAITING_ANSWER_STATUSES,
    FINISHED_STATUSES,
    Action,
    Status,
    public_label,
    values,
)

# Enough for the caller to tell their tickets apart, too little to act on one elsewhere
# (the API, the console and the outbound menus all want the full number).
TAIL_DIGITS = 4
# The answer as read at key 1: short enough to hear, long enough to mean something.
ANSWER_CHARS = 40
_PHONE_LIKE = re.compile(r"\d[\d -]{5,}\d")
_CJK_NAME = re.compile(r"[\u4e00-\u9fff]{2}$")


@dataclass(frozen=True)
class TicketStatus:
    tail: str  # the last TAIL_DIGITS digits of the ticket number
    label: str  # zh-CN: 已受理 / 办理中 / 已办结 / 不予办理 (states.public_label)
    # Closed ones: "已解决：……" (ANSWER_CHARS at most); set-aside ones: the listed reason,
    # "" when none is listed.
    answer: str = ""


@dataclass(frozen=True)
class StatusReport:
    open_count: int
    tickets: list[TicketStatus] = field(default_factory=list)  # newest first
    # Closed in the last RECENT_CLOSED_DAYS days, most recently closed first.
    closed: list[TicketStatus] = field(default_factory=list)
    # The caller's number is withheld: there is nothing to look up by (the dialogue says so).
    no_number: bool = False
    # Set aside (剔除) in the last RECENT_CLOSED_DAYS days, most recently first (mend85:
    # before, key 1 told none of them, and a keyed number's read 已办结).
    set_aside: list[TicketStatus] = field(default_factory=list)


def told_answer(ticket: Ticket) -> str:
    """The short answer with what must not be read to a caller ID taken out: the handler's
    name and anything that looks like a phone number."""
    text = short_answer(ticket, ANSWER_CHARS)
    for name in _name_forms(ticket.handler.display_name if ticket.handler else ""):
        text = text.replace(name, "承办人")
    return _PHONE_LIKE.sub("", text)


def _name_forms(display_name: str) -> list[str]:
    """The handler's display name and, when it ends in Chinese characters, its last two and
    three (a display name is often "unit + title + 姓名"; replies use the 姓名 alone).
    Longest first, so the whole name goes before its parts."""
    forms = {display_name} if display_name else set()
    if _CJK_NAME.search(display_name):
        forms |= {display_name[-3:], display_name[-2:]}
    return sorted(forms, key=len, reverse=True)



def open_tickets(sessions: sessionmaker[Session], caller: str, *, reasons: list[str],
                 limit: int = 3, closed_limit: int = 2,
                 now: datetime | None = None) -> StatusReport:
    """The open (or merged into an open primary: ``AWAITING_ANSWER_STATUSES``),
    non-confidential tickets filed from this number (in any spelling: it is
    compared in E.164): their count and the latest ``limit`` (newest first); the latest
    ``closed_limit`` closed in the last RECENT_CLOSED_DAYS days with their short answer,
    and as many set aside (剔除) in those days with the reason of ``reasons``
    (settings.verification.exclusion_reasons) their 剔除 gave.
    Tickets whose number was keyed in on the IVR are not the caller's to hear about: anyone
    can key any number. Raises SQLAlchemyError when the database is down (the dialogue says
    so)."""
    number = call_number(caller)
    if number is None:
        return StatusReport(0, no_number=True)
    mine = (same_identified_caller(number), Ticket.confidential.is_(False))
    conds = (*mine, Ticket.status.in_(values(AWAITING_ANSWER_STATUSES)))
    since = (now or datetime.now(UTC)) - timedelta(days=RECENT_CLOSED_DAYS)
    with sessions() as session:
        count = session.scalar(select(func.count(Ticket.id)).where(*conds)) or 0
        rows = session.execute(
            select(Ticket.number, Ticket.status).where(*conds)
            .order_by(Ticket.received_at.desc(), Ticket.id.desc())
            .limit(limit)
        ).all()
        closed = session.scalars(
            select(Ticket).options(joinedload(Ticket.handler))
            .where(*mine, Ticket.status.in_(values(FINISHED_STATUSES)),
                   Ticket.closed_at >= since)
            .order_by(Ticket.closed_at.desc(), Ticket.id.desc()).limit(closed_limit)
        ).all()
        closed_told = [TicketStatus(t.number[-TAIL_DIGITS:], public_step(t), told_answer(t))
                       for t in closed]
        # Set aside once (EXCLUDED is left only for ARCHIVED): dated by its 剔除 event.
        aside = session.execute(
            select(Ticket, TicketEvent)
            .join(TicketEvent, (TicketEvent.ticket_id == Ticket.id)
                  & (TicketEvent.action == Action.EXCLUDE.value))
            .where(*mine, set_aside_where(), TicketEvent.at >= since)
            .order_by(TicketEvent.at.desc(), Ticket.id.desc()).limit(closed_limit)
        ).all()
        aside_told = [TicketStatus(t.number[-TAIL_DIGITS:], public_step(t),
                                   exclusion_label(ticket=t, event=e, listed=reasons) or "")
                      for t, e in aside]
    return StatusReport(count, [
        TicketStatus(number[-TAIL_DIGITS:], public_label(Status(status), closed=False))
        for number, status in rows
    ], closed_told, set_aside=aside_told)


def keyed_ticket_status(sessions: sessionmaker[Session], number: str) -> TicketStatus | None:
    """Key 1 when the caller's number is not vouched for (ivr.call_flow): the one ticket
    whose number the caller keyed in, and its coarse step alone: no answer, nothing of the
    caller; never a confidential ticket (as by number). None when there is no such ticket.
    Raises SQLAlchemyError when the database is down."""
    if not (number.isascii() and number.isdigit()) or len(number) > 32:
        return None
    with sessions() as session:
        found = session.execute(select(Ticket.status, Ticket.closed_at).where(
            Ticket.number == number, Ticket.confidential.is_(False))).first()
    if found is None:
        return None
    status, closed_at = found
    return TicketStatus(number[-TAIL_DIGITS:],
                        public_label(Status(status), closed=closed_at is not None))


# Ticket numbers a caller nobody vouched for may key in (``keyed_ticket_status``): a few in
# one call (a mistyped digit, a second ticket), and more in an hour from one address
# (``settings.ivr.ticket_numbers_per_address``), so that hanging up and calling again does
# not start the count afresh. Before (loose26) a caller could key number after number and
# hear each one's step: the numbers are dated and sequential, so a night's calls walked a
# day's tickets. A try is a number keyed: pressing 1 and hanging up (or # at once) is none.
TICKET_TRIES_PER_CALL = 3
TICKET_TRIES_WINDOW_SECONDS = 3600.0
# What the table keeps of an address (an IPv6 address is at most 45 characters).
_ADDRESS_CHARS = 64
# Expired tries of other addresses a take clears (more than the one row it adds: the table
# stays bounded by the window's tries).
_EXPIRED_PER_TAKE = 100


class KeyedLookups:
    """Ticket numbers keyed by callers nobody vouched for, counted by network address over
    ``TICKET_TRIES_WINDOW_SECONDS``, in the database (``ivr.callrecords.KeyedTicketTry``):
    every node behind the front shares one count, and a restart keeps it. Before (loose27)
    each IVR process counted in memory, and two nodes behind Kamailio each allowed the
    hour's tries to one address. In direct mode every caller of a carrier trunk comes from
    the trunk's address: the limit is the whole trunk's (review53), so it is a setting, and
    a carrier trunk belongs in ``sip.trusted_sources`` (docs/sip.md). Raises
    SQLAlchemyError when the database is down (the dialogue says it cannot look)."""

    def __init__(self, *, sessions: sessionmaker[Session], per_address: int,
                 window: float = TICKET_TRIES_WINDOW_SECONDS,
                 clock: Callable[[], datetime] = utcnow,
                 read_sessions: sessionmaker[Session] | None = None) -> None:
        self.sessions = sessions
        # Counting is a read: a writer's session took SQLite's write lock at BEGIN (and
        # waited out another process's write) only to look (review55).
        self.read_sessions = read_sessions or make_read_session_factory(sessions.kw["bind"])
        self.per_address = per_address
        self.window = timedelta(seconds=window)
        self._clock = clock  # wall time: the nodes share it, not their monotonic clocks

    def __len__(self) -> int:
        """Addresses with a try in the table (those past the window go as tries come)."""
        addresses = select(func.count(func.distinct(KeyedTicketTry.address)))
        with self.read_sessions() as session:
            return session.scalar(addresses) or 0

    def _count(self, session: Session, address: str, now: datetime) -> int:
        return session.scalar(select(func.count()).select_from(KeyedTicketTry).where(
            KeyedTicketTry.address == address, KeyedTicketTry.tried_at > now - self.window)
        ) or 0

    def open(self, *keys: str) -> bool:
        """Whether every one of ``keys`` (``keyed_count_keys``) has a try left now (nothing
        counted): asked before the caller is asked for a number. None known (a trusted trunk
        or relay that names no caller, on SIP or as Twilio's ``SipSourceIp``
        (``floodguard.counted_source``); a Twilio PSTN caller; a withheld number behind a
        trusted trunk): not counted here, the call's own cap still holds; one bucket for all
        such calls would refuse every one of them."""
        known = _known(keys)
        if not known:
            return True
        with self.read_sessions() as session:
            now = self._clock()
            return all(self._count(session, key, now) < self.per_address for key in known)

    def take(self, *keys: str) -> bool:
        """Whether the number just keyed may be looked up: every one of ``keys`` has a try
        left, and then each is counted. The counts and the try they allow are one step on
        every node (``hold_key``, taken in one order so that two takes never wait on each
        other crosswise)."""
        known = _known(keys)
        if not known:
            return True
        now = self._clock()
        with transaction(self.sessions) as session:
            for key in known:
                hold_key(session, "keyed-ticket", key)
            # Made-up sources must not grow the table: what is past the window goes. The
            # keys' own rows (under their locks), and a bounded few of others' that no
            # other transaction holds: deleting every expired row made callers of unrelated
            # addresses queue on the same rows on PostgreSQL (review55).
            expired = KeyedTicketTry.tried_at <= now - self.window
            session.execute(delete(KeyedTicketTry).where(
                KeyedTicketTry.address.in_(known), expired))
            others = session.scalars(select(KeyedTicketTry.id).where(expired)
                                     .limit(_EXPIRED_PER_TAKE)
                                     .with_for_update(skip_locked=True)).all()
            if others:
                session.execute(delete(KeyedTicketTry).where(KeyedTicketTry.id.in_(others)))
            if any(self._count(session, key, now) >= self.per_address for key in known):
                return False
            session.add_all(KeyedTicketTry(address=key, tried_at=now)
                            for key in charged_keys(known))
            return True


_NUMBER_KEY = "from:"  # a caller's number's count, beside the addresses' (keyed_count_keys)


def _known(keys: tuple[str, ...]) -> list[str]:
    return sorted({key[:_ADDRESS_CHARS] for key in keys if key})


def charged_keys(keys: list[str]) -> list[str]:
    """Which of a try's counts it is charged to (all of them are checked): the address
    alone where one is known, the number only where none is (a trusted trunk or relay
    that names no caller's address, Twilio's PSTN lines). On SIP an untrusted source
    writes any From: charged to the number too, a spoofer at one address used up a
    citizen's hour of tries (loose28) and the citizen, calling through the trunk, was
    refused. The spoofer's own address still runs out as before: a From written anew
    on each call gets it no fresh try."""
    addresses = [key for key in keys if not key.startswith(_NUMBER_KEY)]
    return addresses or keys


def keyed_count_keys(*, caller: str | None, address: str) -> tuple[str, ...]:
    """Whose counts a caller's keyed ticket numbers go to (``KeyedLookups``), on both
    carriers: the network address the call came from, where one is known (the SIP INVITE's
    source, ``telephony.sip.identity.caller_address``; Twilio's ``SipSourceIp`` on a call
    that reached it over SIP), and the caller's number, where it reads as one (``from:``
    and E.164). A try needs room in each. Either alone could be walked around: a From is
    written by the caller (each spoof costs a call, 3 numbers, but calls are cheap), and
    behind a trusted relay that names no caller, or on Twilio's phone lines, no address is
    known at all (Twilio names none for a PSTN caller; one count for its whole line would
    refuse the city once one caller spent it, review53). A withheld number counts by the
    address alone (one bucket for every withheld caller would refuse them all). An IPv6
    address counts by its /64 (``_counted_address``)."""
    e164 = call_number(caller)
    return tuple(key for key in (_counted_address(address),
                                 f"{_NUMBER_KEY}{e164}" if e164 else "") if key)


def _counted_address(address: str) -> str:
    """The address a caller's tries are counted by: an IPv6 one's /64 (review77: one host
    is handed a whole /64, RFC 7421, and could take a fresh count from each address of
    it), any other as given (one spelling already: ``uri.canonical_host``)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)

