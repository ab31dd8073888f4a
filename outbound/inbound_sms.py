"""Citizens' SMS replies (from the SMS gateway's webhook or Twilio's), read in this order:

1. an unknown sender (no ticket was ever filed from the number): ignored, logged, nothing
   stored;
2. "TD" / "不要回访" (and the like): no callback on any of their open or closed-and-awaiting
   tickets (``ticketing.citizen.stop_callbacks``, audited);
3. a survey answer, two digits as the closing SMS says ("11", "1 1", "2,1"), optionally
   after the reply code of the survey SMS (``outbound.survey.reply_code``): scored exactly
   like the keypad (``outbound.survey.apply_answer``), only for a ticket of theirs closed
   and awaiting its survey -- the code picks which, else the most recently closed. A
   second answer finds nothing awaiting and changes nothing;
4. anything else: added to their most recent open ticket as a follow-up (audited), and its
   handler is told by SMS (``outbound.reminders.FollowUpSms``, one per follow-up); when
   that ticket is merged (并单), to its primary, whose handler writes the group's answer;
   with nothing open it is logged and dropped.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from enum import StrEnum

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import Session

from config.settings import OutboundSettings
from outbound.reminders import tell_handler_of_follow_up
from outbound.survey import apply_answer, reply_code
from ticketing import citizen, merging
from ticketing.actors import Actor, mask_phone
from ticketing.context import Domain
from ticketing.inputs import has_text
from ticketing.models import SurveyResult, Ticket, TicketEvent
from ticketing.phones import normalise
from ticketing.service import InvalidInput

log = logging.getLogger("outbound.inbound_sms")

CITIZEN = Actor.system("citizen_sms")
STOP_WORDS = frozenset({"TD", "T", "退订", "不要回访", "不需要回访", "不用回访"})
_ANSWER = re.compile(r"(?:(\d{7,})\s*)?([12])[\s,，、.。]*([12])")


# An HMAC under an empty key is anyone's to compute: with no secret the gateway's webhook
# refuses every message (outbound.views), so this is said wherever configuration is checked.
EMPTY_SECRET = "outbound.sms_inbound_secret is empty: inbound SMS are refused"


def gateway_secret_problem(outbound: OutboundSettings) -> str | None:
    """What is wrong when SMS go out through the gateway (``sms_provider`` "webhook"), whose
    citizens' replies come back to its webhook, and no shared secret is set: every reply
    (TD, a survey answer, a follow-up) is refused and lost. None when nothing is."""
    if outbound.sms_provider == "webhook" and not outbound.sms_inbound_secret:
        return f"{EMPTY_SECRET}, yet SMS go out through the gateway, whose replies come there"
    return None


class Handled(StrEnum):
    UNKNOWN_SENDER = "unknown_sender"
    NO_CONTACT = "no_contact"
    SURVEY = "survey"
    SURVEY_NOT_AWAITED = "survey_not_awaited"  # a second answer, or nothing to answer
    FOLLOW_UP = "follow_up"
    DUPLICATE = "duplicate"  # the same message delivered again
    NOTHING_OPEN = "nothing_open"
    REFUSED = "refused"  # text the ticket cannot store (control characters)


def _senders_tickets(sender: str, also: list[Ticket]) -> Select[tuple[int]]:
    """The ids of the tickets a message from ``sender`` may already have reached: those
    filed from the number and ``also`` (a merged group's answering ticket). A message id
    seen on any of them is the same message again: the signatures carry no time."""
    return select(Ticket.id).where(or_(Ticket.caller_phone == normalise(sender),
                                       Ticket.id.in_([t.id for t in also])))


def _written_by(sender: str) -> ColumnElement[bool]:
    """A follow-up ``sender`` wrote: on a ticket filed from the number in its caller's own
    words, or on a group's primary saying it came from one of theirs (``merged``). The
    message id is the gateway's, unique for no one but the sender: a primary's trail, or
    a ticket of theirs that is one, holds other callers' words, and a neighbour's new
    message under an id once used by another was dropped as a duplicate (review144)."""
    theirs = Ticket.caller_phone == normalise(sender)
    merged = TicketEvent.data["merged"].as_string()
    return or_(and_(merged.is_(None), TicketEvent.ticket_id.in_(select(Ticket.id).where(theirs))),
               merged.in_(select(Ticket.number).where(theirs)))


def _normalise(text: str) -> str:
    # Full-width digits and letters (１１, ＴＤ) are what many phones send.
    return unicodedata.normalize("NFKC", text or "").strip()


def receive(*, session: Session, domain: Domain, sender: str, text: str,
            ref: str) -> Handled:
    """Act on one inbound SMS (flushes, the caller commits). ``ref`` is the provider's
    message id (a redelivered message is not added twice)."""
    now = domain.now()
    masked = mask_phone(sender)
    if not citizen.known_sender(session=session, phone=sender):
        log.warning("inbound SMS %s from unknown sender %s ignored", ref, masked)
        return Handled.UNKNOWN_SENDER
    words = _normalise(text)
    if words.upper() in STOP_WORDS:
        marked = citizen.stop_callbacks(session=session, phone=sender, actor=CITIZEN,
                                        via="sms", now=now)
        log.info("inbound SMS %s from %s: no callback on %d ticket(s)", ref, masked,
                 len(marked))
        return Handled.NO_CONTACT
    answer = _ANSWER.fullmatch(words)
    if answer is not None:
        code, first, second = answer.groups()
        awaiting = citizen.awaiting_survey(session=session, phone=sender, now=now)
        if code is not None:
            awaiting = [t for t in awaiting if reply_code(t) == code]
        if not awaiting:
            log.info("inbound SMS %s from %s: a survey answer with no survey awaiting it",
                     ref, masked)
            return Handled.SURVEY_NOT_AWAITED
        call_ref = f"sms:{ref}"[:128]
        if session.scalar(select(SurveyResult.id).where(
                SurveyResult.ticket_id.in_(_senders_tickets(sender, awaiting)),
                SurveyResult.call_ref == call_ref
        ).limit(1)) is not None:
            # The same message again (the signatures carry no time: a replayed request
            # would otherwise answer the survey of a round redone since, or of their
            # next ticket).
            log.warning("inbound SMS %s from %s: survey answer already counted", ref, masked)
            return Handled.DUPLICATE
        ticket = awaiting[0]
        apply_answer(session=session, domain=domain, ticket=ticket, keys=first + second,
                     call_ref=call_ref)
        log.info("inbound SMS %s from %s: survey answer for ticket %s", ref, masked,
                 ticket.number)
        return Handled.SURVEY
    theirs = citizen.latest_open(session=session, phone=sender)
    if theirs is None or not has_text(words):  # nothing to read: as an empty message
        log.info("inbound SMS %s from %s: no open ticket to add it to, or nothing to add",
                 ref, masked)
        return Handled.NOTHING_OPEN
    ticket = merging.answering(session=session, ticket=theirs)
    if session.scalar(select(TicketEvent.id).where(
            TicketEvent.ticket_id.in_(_senders_tickets(sender, [theirs, ticket])),
            TicketEvent.action == "citizen_follow_up",
            TicketEvent.data["ref"].as_string() == ref, _written_by(sender)).limit(1)) \
            is not None:
        # The same message again, wherever it went first: looked for on the answering
        # ticket's trail alone, a redelivery after a 并单 (or after the citizen's next
        # ticket) was added again and texted to a handler again (sec57). Matched in SQL:
        # read back per SMS, every follow-up of a number's thousands of tickets cost
        # ~40 ms (review144).
        return Handled.DUPLICATE
    try:
        # Kept as typed: the normalised form is only for reading codes.
        event = citizen.follow_up(session=session, ticket=ticket, actor=CITIZEN,
                                  text=text.strip(), via="sms", ref=ref, at=now,
                                  merged_from=theirs if theirs is not ticket else None)
    except InvalidInput:
        log.warning("inbound SMS %s from %s: text refused (control characters)", ref, masked)
        return Handled.REFUSED
    tell_handler_of_follow_up(session=session, ticket=ticket, event=event, now=now)
    log.info("inbound SMS %s from %s: follow-up on ticket %s", ref, masked, ticket.number)
    return Handled.FOLLOW_UP
