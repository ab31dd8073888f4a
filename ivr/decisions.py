"""What a caller's words and keys lead to, for every carrier.

The SIP dialogue (``ivr.call_flow``) and the Twilio webhooks (``ivr.twilio.call_flow``) ask
the same questions of a turn -- is it an emergency (三号联动), does the knowledge base answer
it (知识库), else read it back -- and record the same things: an urgent ticket with its
hand-over event, a 直接答复 closed at intake, the caller's 保密 / 不要回访 choices. They are
decided here, once; each carrier only says them its own way (audio on the line, TwiML).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts as P
from ivr.callrecords import CallOutcome
from ivr.intake import CallIntake, FiledTicket
from ivr.kb_answer import KbAnswer, find_answer
from ticketing.classify import category_label
from ticketing.service import HANDOVER_NOWHERE

if TYPE_CHECKING:
    from config.settings import Settings
    from ticketing.context import Domain
    from ticketing.intake_model import Understanding

log = logging.getLogger("hotline.ivr.decisions")


def keyed_digits(keys: str) -> str:
    """The number in what a caller keyed (a ticket number, a callback number), on every
    carrier: the digits 0-9 alone; ``*``, the letter keys A-D and anything else are no part
    of a number. The SIP line collects key by key, Twilio posts ``Digits`` whole; before
    (review55) SIP dropped a ``*`` and Twilio looked up ``*2612…`` as keyed, so one keying
    found a ticket on one carrier and not on the other."""
    return "".join(k for k in keys if k in "0123456789")

# Times a caller may say the complaint again (key 2 at the read-back); the next 2 goes to
# the operator (a callback ticket when none answers). Without a bound, say, 2, say, 2...
# held a line for as long as the caller (or a script) kept at it.
MAX_RERECORDS = 2
# Times the read-back's question is asked again after no key or a wrong one (confirm_again).
MAX_CONFIRM_ASKS = 1
# A hand-over only the intake model asked for (``Understanding.model_handover``) is
# announced with a way out: this key declines it, and the call goes on as a complaint.
DECLINE_KEY = "2"
# How long after that announcement the key is waited for: short, since the hand-over goes
# ahead by default and a real emergency told without the rules' words must not wait long.
DECLINE_WAIT_SECONDS = 2.0


class Step(Enum):
    """Where a classified turn goes (the values are the SIP dialogue's state names)."""

    EMERGENCY = "emergency"  # hand over at once: no read-back, no confirm key
    ASK_AGAIN = "ask_again"  # unsure words: say it once more
    ANSWER = "answer"  # a knowledge entry answers: read it, then 1 resolved / 2 file it
    CONFIRM_ENTRY = "confirm_entry"  # likely answers: "您是想问…吗", 1 read it / 2 file it
    READBACK = "readback"  # "您反映的是…问题" + confirm


class AfterAnswer(Enum):
    """The key pressed after a knowledge entry's answer was read."""

    RESOLVED = "resolved"  # 1: a 直接答复 ticket, closed at intake
    OPERATOR = "operator"  # 0
    TICKET = "ticket"  # 2, no key or any other: the words go on as a ticket
    MORE = "more"  # after a part of a long answer, 3 or no key: the next part


# The keypad choices offered after the confirm key (both carriers, one menu).
PREFERENCE_KEYS: dict[str, str] = {"1": "confidential", "2": "no_contact"}
PREFERENCE_SAID: dict[str, str] = {"confidential": "preference_confidential",
                                   "no_contact": "preference_no_contact"}


@dataclass(frozen=True)
class Turn:
    understanding: Understanding | None
    answer: KbAnswer | None
    step: Step


def emergency_service(understanding: Understanding | None) -> str | None:
    """"110", "119" or "120" when the words call for a hand-over, else None."""
    if understanding is None or understanding.emergency == "none":
        return None
    return understanding.emergency


def may_decline(understanding: Understanding | None) -> bool:
    """Whether the caller is asked before being handed over: only when the hand-over is the
    model's alone (no emergency rule named a service). A rule's hand-over goes at once."""
    return understanding is not None and understanding.model_handover


class Handover(Enum):
    """How an emergency turn hands the caller over (SIP and Twilio alike)."""

    AT_ONCE = "at_once"  # a rule named the service: no question
    OFFER = "offer"  # the model's alone: announced with a way out (DECLINE_KEY)
    DECLINED = "declined"  # the caller declined this service earlier in the call: read back


def handover_way(understanding: Understanding | None, declined: str | None) -> Handover:
    """One rule for both flows: a hand-over the caller may decline is asked once a call per
    service (a re-record read as the same service again is not asked again)."""
    if not may_decline(understanding):
        return Handover.AT_ONCE
    if declined is not None and declined == emergency_service(understanding):
        return Handover.DECLINED
    return Handover.OFFER


class OfferReply(Enum):
    """What the caller's answer to an announced hand-over does (SIP and Twilio alike)."""

    DECLINE = "decline"  # DECLINE_KEY: no hand-over, read back and filed as a complaint
    OPERATOR = "operator"  # 0 with an operator: handed over on record, then the operator
    HAND_OVER = "hand_over"  # any other key, none, or a hang-up: put through, the default


def offer_reply(key: str | None, *, operator: bool) -> OfferReply:
    """The one rule for the answer to "…马上为您转接。不需要转接请按2。": ``key`` pressed
    during it or within DECLINE_WAIT_SECONDS after, None for none or a hang-up; ``operator``
    whether an operator is configured to put the caller through to (``sip.operator_uri``).
    0 goes to the operator only when there is one, and an operator who does not answer
    hands the caller over to the service as silence would (each flow does so). Before
    (review53) 0 with no operator -- the shipped default -- or an operator not answering
    recorded the hand-over and ended in a callback request: the emergency was dropped.
    Before that (loose26) Twilio put a 0 through to the service, the SIP line to the
    operator."""
    if key == DECLINE_KEY:
        return OfferReply.DECLINE
    if key == "0" and operator:
        return OfferReply.OPERATOR
    return OfferReply.HAND_OVER


def offer_pending(asked: str | None, handover: dict[str, str] | None,
                  declined: str | None) -> bool:
    """Whether the hand-over announced for service ``asked`` still awaits the caller's
    answer (Twilio keeps it between webhooks): not handed over, and not that service
    declined. A decline of another service earlier in the call answers nothing here:
    before (loose26), a caller who declined 110, said it again, was offered 119 and hung up
    was handed over on SIP but not on Twilio."""
    return asked is not None and handover is None and declined != asked


def unserved_at_stop(understanding: Understanding | None, declined: str | None
                     ) -> str | None:
    """The service (110, 119, 120) the caller's words call for when our stop came before
    they were put through to it and they did not decline it; else None. (Twilio's journal
    between webhooks holds the question instead: ``offer_pending``.)"""
    if handover_way(understanding, declined) is Handover.DECLINED:
        return None
    return emergency_service(understanding)


def stop_notice(unserved: str | None, *, kept: bool) -> str:
    """The one rule for our stop's notice, SIP and Twilio alike (the prompt's name):
    "请挂机后直接拨打119" to a caller whose words call for a service nobody puts them
    through to now (``unserved``); "您的诉求已记录…稍后再拨12345" when their words are kept
    (a ticket filed, or speech taken, filed now or by the next start's recovery); else
    "服务即将暂停…". Before (mend74) Twilio chose with rules of its own beside SIP's."""
    if unserved is not None:
        return f"emergency_failed_{unserved}"
    return "stopping_kept" if kept else "stopping"


def next_step(understanding: Understanding | None, *, ask_again: bool,
              answer: KbAnswer | None = None) -> Step:
    """An emergency is handed over at once -- never read back for a confirm key, nor asked
    again when the words were unsure (a false alarm costs a transfer, a miss can cost a
    life); ``ask_again`` is "unsure and not asked yet"; a question the knowledge base
    answers is answered before anything is read back."""
    if emergency_service(understanding) is not None:
        return Step.EMERGENCY
    if ask_again:
        return Step.ASK_AGAIN
    if answer is None:
        return Step.READBACK
    return Step.CONFIRM_ENTRY if answer.confirm else Step.ANSWER


def take_turn(*, sessions: sessionmaker[Session], domain: Domain, text: str | None,
              ask_again: bool, offer_answer: bool, call_id: str,
              may_confirm: bool = False, may_ask_again: bool = False,
              kb_text: str | None = None) -> Turn:
    """Classify a turn's words and decide its step. ``offer_answer`` is False once an
    answer was read in this call (offered once: a caller who pressed 2 wants a ticket);
    ``may_confirm``: the carrier has the confirmation turn (``Step.CONFIRM_ENTRY``);
    ``may_ask_again``: the carrier may still ask once more, which words that say too
    little ("喂", "嗯嗯") make it do, as unsure words do. ``kb_text``: the same words as
    the knowledge base should read them, with clauses marked (``ivr.kb_answer.clause_text``)."""
    understanding = domain.understand(text) if text and text.strip() else None
    if may_ask_again and understanding is not None and understanding.too_little:
        ask_again = True
    answer = None
    if text and offer_answer and not ask_again:
        answer = answer_for(sessions=sessions, domain=domain, text=kb_text or text,
                            understanding=understanding, call_id=call_id,
                            may_confirm=may_confirm)
    return Turn(understanding, answer,
                next_step(understanding, ask_again=ask_again, answer=answer))


def answer_for(*, sessions: sessionmaker[Session], domain: Domain, text: str,
               understanding: Understanding | None, call_id: str,
               may_confirm: bool = False) -> KbAnswer | None:
    try:
        with sessions() as session:
            return find_answer(session=session, domain=domain, text=text,
                               understanding=understanding, may_confirm=may_confirm)
    except SQLAlchemyError as exc:
        # Without the knowledge base the caller is served as before: a ticket.
        log.error("call %s: knowledge base unavailable: %s", call_id, exc.__class__.__name__)
        return None


# After a part of a long answer (prompt kb_more): the key that reads the next part. No key
# reads it too: a caller who only listens hears the whole answer, as before it was cut.
MORE_KEY = "3"


def after_answer(key: str | None, *, more: bool = False) -> AfterAnswer:
    """What the key after a knowledge entry's answer means; ``more``: a part of it is still
    unread (both carriers read an answer by ``ivr.kb_answer.answer_parts``)."""
    if more and key in (MORE_KEY, None, ""):
        return AfterAnswer.MORE
    if key == "1":
        return AfterAnswer.RESOLVED
    if key == "0":
        return AfterAnswer.OPERATOR
    return AfterAnswer.TICKET


def readback_sentence(understanding: Understanding | None) -> str:
    """"您反映的是…问题，地址是…。" from what was understood; words that say too little
    get no category read back (it would be a guess at nothing): "您的诉求已录音。"."""
    if understanding is None or understanding.too_little:
        return P.readback_text(None, None)
    try:
        label: str | None = category_label(understanding.category)
    except KeyError:  # a category the label table does not know: no label, no crash
        label = None
    return P.readback_text(label, understanding.address)


def deadline_told(filed: FiledTicket, settings: Settings) -> str | None:
    """"我们将在…办理并答复您。" after the ticket number; None while the ticket's words wait
    for the transcription backlog (the caller then hears ``transcript_pending``): its
    urgency is a placeholder until they come and move the deadline, so a burst main or a
    gas leak was promised "5个工作日内"."""
    if filed.words_pending:
        return None
    return P.text("deadline", deadline=P.deadline_phrase(filed.urgency, settings.deadlines))


def emergency_target(settings: Settings, service_number: str) -> tuple[str, str]:
    """(URI or number, kind) the caller is handed to: the service's own line ("uri"), else
    the duty operator ("operator"), else ("", "none")."""
    uri = settings.ivr.emergency_uris.get(service_number, "")
    if uri:
        return uri, "uri"
    if settings.sip.operator_uri:
        return settings.sip.operator_uri, "operator"
    return "", HANDOVER_NOWHERE


def file_emergency(intake: CallIntake, *, service_number: str,
                   target: str) -> FiledTicket | None:
    """The urgent ticket and its hand-over event, journaled first (the spool's one rule,
    as the SIP line's CallIntake.hand_over), then filed now, in this thread, for a caller
    who waits on the answer (Twilio's webhook). None when the database is down: the spool
    files the ticket and the event later, the caller is still put through. Safe to repeat
    (a webhook retried): one ticket (by call id), one hand-over event."""
    intake.journal_handover(service_number, target)
    return intake.file_ticket(CallOutcome.TICKET)


def file_direct_answer(intake: CallIntake, entry_id: str) -> FiledTicket | None:
    """Key 1 after an entry's answer: a ticket closed at intake as 直接答复 (the console's
    function, counted in 直办率); None when the database is down (the spool files it)."""
    intake.answered_from(entry_id)
    return intake.file_ticket(CallOutcome.TICKET)


def choose_preference(intake: CallIntake, key: str) -> str | None:
    """Key 1 保密 / 2 不要回访 after the confirm key: switched on in the journal; the
    catalog key of the sentence that says it back, or None for any other key."""
    choice = PREFERENCE_KEYS.get(key)
    if choice is None:
        return None
    intake.preferences(**{choice: True})
    return PREFERENCE_SAID[choice]


def rerecord(intake: CallIntake) -> bool:
    """Key 2 at the read-back: True (counted in the journal) while the caller may say the
    complaint again, False once MAX_RERECORDS were used: then the operator."""
    j = intake.journal
    if j.rerecords >= MAX_RERECORDS:
        return False
    j.rerecords += 1
    j.confirm_asks = 0  # a new recording gets its own read-back
    return True


def confirm_again(intake: CallIntake) -> bool:
    """No key or a wrong one at the read-back: True (counted in the journal) the first
    time, when the question is asked once more; False after: the complaint is filed as it
    is -- the caller said it and is still on the line, and a ticket is better than none.
    Without a bound a line keying garbage heard the question for as long as it went on."""
    j = intake.journal
    if j.confirm_asks >= MAX_CONFIRM_ASKS:
        return False
    j.confirm_asks += 1
    return True


def ask_callback_number(intake: CallIntake, *, asked: bool, callback_request: bool) -> bool:
    """Whether a caller is offered to key in a number to be called back on: only when the
    network gave none, none was keyed in and the offer was not made yet in this call. A
    caller who chose 不要回访 is not asked before a ticket -- but is before a callback
    request (they pressed 0 and nobody answered: a call back is what they want now). An
    emergency is never delayed for it (its callers never reach this)."""
    j = intake.journal
    if asked or intake.caller_number is not None or j.callback_number is not None:
        return False
    return callback_request or not j.no_contact
