"""The citizen hears back: an SMS to the caller's own number when their ticket is accepted,
when more information is asked of them (补充信息), and with the handler's answer when it is
closed -- each with the ticket number and a link to the status page, the closing one with
the survey reply codes (outbound.inbound_sms reads the replies) -- or, when the centre sets
it aside (剔除), that it will not be handled and the listed reason why.

Never to any number but the ticket's caller; never when they asked for no callback or gave
no number. A 保密 ticket is kept from the handler, not from its own citizen, so it is texted
like any other (docs/outbound.md). One work item per (ticket, audit event): the planner
inserts it, the unique key makes that idempotent, and the worker sends it with the SMS
retries of every other SMS.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from enum import IntEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from outbound.conversation import Conversation
from outbound.models import Kind, OutboundAttempt, OutboundTask, Outcome, TaskStatus
from outbound.policies import (
    SYSTEM,
    Target,
    cancel,
    finish,
    insert_ignore,
    postpone,
    retry_or_none,
    task_row,
)
from outbound.survey import allowed_at
from outbound.timing import placed_today
from ticketing import citizen, service
from ticketing.context import Domain
from ticketing.merging import surveyed_caller
from ticketing.models import Ticket, TicketEvent
from ticketing.phones import can_text, mask
from ticketing.queries import may_contact
from ticketing.quiet import in_quiet_hours
from ticketing.states import (
    FINISHED_STATUSES,
    OPEN_STATUSES,
    SET_ASIDE_SENTENCE,
    SET_ASIDE_STATUSES,
    Action,
    Status,
    values,
)

log = logging.getLogger("outbound.citizen_sms")

# A Chinese SMS travels as UCS-2: 70 characters in a single message, 67 in each part of a
# concatenated one. Two parts at most, so the answer is cut to fit 2 x 67.
SEGMENT_CHARS = 67
MAX_SEGMENTS = 2
MAX_CHARS = SEGMENT_CHARS * MAX_SEGMENTS
SIGNATURE = "【12345】"
# The two-digit survey reply (outbound.inbound_sms): first 1 resolved / 2 not, second
# 1 satisfied / 2 not -- the same two answers as the keypad survey.
REPLY_CODES_TEXT = "评价请回复两位数字：首位1已解决/2未解决，次位1满意/2不满意。"


# The acceptance SMS of a call whose words wait for the transcription backlog waits for
# them too, since they bring its deadline (``service.words_pending``): sent at once, it
# went without one and no SMS ever told it. Looked at again every WORDS_POLL, for at most
# WORDS_WAIT: with no speech model the backlog never runs, and the number still goes.
WORDS_POLL = timedelta(minutes=1)
WORDS_WAIT = timedelta(minutes=30)


class CitizenStep(IntEnum):
    ACCEPTED = 1
    INFO_REQUESTED = 2
    CLOSED = 3
    EXCLUDED = 4


STEP_OF_ACTION: dict[str, CitizenStep] = {
    Action.ACCEPT.value: CitizenStep.ACCEPTED,
    "request_info": CitizenStep.INFO_REQUESTED,
    Action.CLOSE.value: CitizenStep.CLOSED,
    Action.ANSWER.value: CitizenStep.CLOSED,  # 直接答复: closed at intake
    Action.CLOSE_MERGED.value: CitizenStep.CLOSED,  # 并单: closed with its group's primary
    Action.EXCLUDE.value: CitizenStep.EXCLUDED,  # 剔除: the outcome, as a closure's answer is
}


def status_url(domain: Domain, token: str) -> str:
    return f"{domain.settings.outbound.status_page_base_url.rstrip('/')}/s/{token}"


def _local(domain: Domain, at: datetime | None) -> str:
    if at is None:
        return ""
    t = at.astimezone(domain.tz)
    return f"{t.month}月{t.day}日{t.hour:02d}:{t.minute:02d}"


def fit_sms(template: str, filler: str) -> str:
    """``template`` with ``{}`` replaced by as much of ``filler`` as fits MAX_CHARS: the
    one rule for an SMS's length, the citizen's and the handler's dispatch SMS."""
    room = MAX_CHARS - (len(template) - 2)
    return template.replace("{}", citizen.shorten(filler, max(0, room)), 1)


def accepted_text(domain: Domain, ticket: Ticket, url: str) -> str:
    due = "" if service.words_pending(ticket) else _local(domain, ticket.due_at)
    by = f"，将于{due}前办理答复" if due else ""
    return (f"{SIGNATURE}您的诉求已受理，工单号{ticket.number}{by}。"
            f"查询请拨12345按1，或访问{url}")


def info_text(ticket: Ticket, question: str, url: str) -> str:
    return fit_sms(f"{SIGNATURE}您的工单{ticket.number}需补充信息：{{}}请直接回复本短信，"
                f"或拨打12345。详情{url}", question.rstrip("。") + "。")


def closed_text(ticket: Ticket, url: str, *, surveyed: bool) -> str:
    """``surveyed``: the group's survey goes to this ticket's caller (a 并单 group is
    surveyed once, ticketing.merging.surveyed_caller): only they are given the codes."""
    head = f"{SIGNATURE}您的工单{ticket.number}已办结，"
    codes = REPLY_CODES_TEXT if surveyed else ""
    tail = f"。{codes}详情{url}"
    room = MAX_CHARS - len(head) - len(tail)
    return head + citizen.short_answer(ticket, room) + tail


def excluded_text(ticket: Ticket, why: str | None, url: str) -> str:
    """剔除: the citizen is told it will not be handled, with the listed reason when there
    is one (ticketing.citizen.exclusion_label), and where to ask."""
    because = "，原因：{}" if why else "{}"
    return fit_sms(f"{SIGNATURE}您的工单{ticket.number}{SET_ASIDE_SENTENCE}{because}。"
                   f"如有疑问请拨打12345。详情{url}", why or "")


def text_for(*, session: Session, domain: Domain, ticket: Ticket, step: int,
             event: TicketEvent | None) -> str:
    url = status_url(domain, citizen.status_token(session=session, ticket=ticket))
    if step == CitizenStep.ACCEPTED:
        return accepted_text(domain, ticket, url)
    if step == CitizenStep.INFO_REQUESTED:
        return info_text(ticket, (event.note if event else "") or "", url)
    if step == CitizenStep.EXCLUDED:
        return excluded_text(ticket, citizen.exclusion_label(
            ticket=ticket, event=event,
            listed=domain.settings.verification.exclusion_reasons), url)
    surveyed = surveyed_caller(session=session, ticket=ticket)
    return closed_text(ticket, url,
                       surveyed=surveyed is not None and surveyed.id == ticket.id)


def _waits_for_words(session: Session, ticket: Ticket, task: OutboundTask,
                     now: datetime) -> bool:
    """Whether the acceptance SMS waits on for the ticket's words (WORDS_WAIT)."""
    return (task.step == CitizenStep.ACCEPTED and now - task.created_at < WORDS_WAIT
            and service.words_coming(session=session, ticket=ticket))


def _closed_again(session: Session, ticket: Ticket, task: OutboundTask) -> bool:
    """Whether a closure SMS not sent yet (held for quiet hours) was followed by another
    closure of the ticket (驳回重办, then closed again): that one's SMS tells the answer.
    Both held, the caller was texted 已办结 twice, the same text (ux44)."""
    if task.step != CitizenStep.CLOSED:
        return False
    closings = sorted(a for a, step in STEP_OF_ACTION.items() if step == CitizenStep.CLOSED)
    return session.scalar(select(TicketEvent.id).where(
        TicketEvent.ticket_id == ticket.id, TicketEvent.action.in_(closings),
        TicketEvent.id > task.round).limit(1)) is not None


def _still_true(ticket: Ticket, step: int) -> bool:
    """Whether the step the SMS is about still holds when it is sent."""
    status = Status(ticket.status)
    if step == CitizenStep.CLOSED:
        # An archived ticket may have been set aside (剔除) since its closure, after a
        # 驳回重办: its 剔除 SMS tells the outcome, not 已办结 (review87).
        return status in FINISHED_STATUSES and not citizen.is_set_aside(ticket)
    if step == CitizenStep.EXCLUDED:
        return citizen.is_set_aside(ticket)
    # An acceptance (or a question) the ticket has left: its closure's or its 剔除's SMS,
    # planned from that event, tells the citizen the number and the outcome instead.
    return status in OPEN_STATUSES


# The trail's event of an SMS the daily cap kept back (``citizen_sms_daily_cap``).
CAPPED_EVENT = "citizen_sms_capped"
CITIZEN_SMS_KINDS = (Kind.CITIZEN_SMS, Kind.SURVEY_SMS)


def _texted_before(session: Session, task: OutboundTask) -> bool:
    """Whether an SMS of this ticket reached (or may have reached) its citizen already."""
    return session.scalar(select(OutboundAttempt.id).where(
        OutboundAttempt.ticket_id == task.ticket_id,
        OutboundAttempt.kind == Kind.CITIZEN_SMS.value,
        OutboundAttempt.outcome.in_([Outcome.SENT.value, Outcome.UNKNOWN.value]))
        .limit(1)) is not None


def _over_daily_cap(session: Session, domain: Domain, task: OutboundTask, ticket: Ticket,
                    now: datetime) -> bool:
    """Cancel the SMS (and say True) when its number has had ``citizen_sms_daily_cap`` SMS
    today. Not postponed: a spoofed caller's hundreds of tickets would be the number's
    next days too. The trail says the citizen was not texted, and why (sec43).

    Only a ticket's first SMS is held: once its citizen has been texted about it, its
    question, answer or 剔除 are owed (counted, never held). The cap held them all, and a
    pump's six calls in the morning ate the victim's own closure SMS (review120); a pump's
    ticket past the cap was never texted, so its later SMS stay held."""
    if _texted_before(session, task):
        return False
    cap = domain.settings.outbound.citizen_sms_daily_cap
    phone = ticket.caller_phone or ""
    sent = placed_today(session, phone=phone, kinds=CITIZEN_SMS_KINDS, now=now,
                        tz=domain.tz, failed_too=False)
    if sent < cap:
        return False
    cancel(task, now, "daily_cap")
    service.record_event(
        session=session, ticket=ticket, actor=SYSTEM, action=CAPPED_EVENT, at=now,
        note=f"该号码今日已收到{sent}条12345短信（每日上限{cap}条），本条短信未发送；"
             "市民可拨12345按1或访问状态页查询",
        data={"kind": Kind.CITIZEN_SMS.value, "step": task.step, "cap": cap})
    log.warning("citizen SMS %s of ticket %s not sent: %s had %d SMS today (cap %d)",
                task.id, ticket.number, mask(phone), sent, cap)
    return True


class CitizenSms:
    def prepare(self, *, session: Session, domain: Domain, task: OutboundTask, ticket: Ticket,
                now: datetime) -> Target | None:
        if not may_contact(ticket) or not can_text(ticket.caller_phone):
            cancel(task, now, "no_contact")
            return None
        if not _still_true(ticket, task.step) or _closed_again(session, ticket, task):
            cancel(task, now, "moved")
            return None
        o = domain.settings.outbound
        if in_quiet_hours(now, tz=domain.tz, start=o.quiet_start, end=o.quiet_end):
            postpone(task, allowed_at(domain, now), "quiet_hours")
            return None
        if _waits_for_words(session, ticket, task, now):
            postpone(task, now + WORDS_POLL, "words_pending")
            return None
        if _over_daily_cap(session, domain, task, ticket, now):
            return None
        event = session.get(TicketEvent, task.round)
        text = text_for(session=session, domain=domain, ticket=ticket, step=task.step,
                        event=event)
        return Target(channel="sms", phone=ticket.caller_phone, text=text)

    def conversation(self, *, sessions: sessionmaker[Session], domain: Domain,
                     task: OutboundTask, attempt: OutboundAttempt, ticket: Ticket
                     ) -> Conversation:
        raise TypeError("an SMS has no conversation")

    def after(self, *, session: Session, domain: Domain, task: OutboundTask, ticket: Ticket,
              attempt: OutboundAttempt, now: datetime) -> None:
        if attempt.outcome in (Outcome.SENT, Outcome.UNKNOWN):
            # UNKNOWN: the worker died after handing it to the provider, maybe; a second
            # copy of a notice is worse than none (the status page and key 1 still tell).
            finish(task, now, str(attempt.outcome))
            return
        again = retry_or_none(task, domain.settings.outbound.sms_retry_seconds, now)
        if again is not None:
            postpone(task, allowed_at(domain, again), attempt.outcome)
            return
        finish(task, now, f"sms_{attempt.outcome}", TaskStatus.FAILED)


def plan_citizen_sms(*, session: Session, domain: Domain, now: datetime) -> int:
    """One SMS per recent accept / request_info / close / answer / exclude event of a ticket whose
    caller may be contacted; the unique key (ticket, kind, event id, step) makes repeats
    no-ops."""
    o = domain.settings.outbound
    if not o.citizen_sms:
        return 0
    no_task = ~select(OutboundTask.id).where(
        OutboundTask.ticket_id == TicketEvent.ticket_id,
        OutboundTask.kind == Kind.CITIZEN_SMS.value,
        OutboundTask.round == TicketEvent.id).exists()
    rows = session.execute(
        select(TicketEvent.id, TicketEvent.ticket_id, TicketEvent.action)
        .join(Ticket, Ticket.id == TicketEvent.ticket_id)
        .where(TicketEvent.action.in_(sorted(STEP_OF_ACTION)),
               TicketEvent.at >= now - timedelta(hours=o.citizen_sms_max_age_hours),
               Ticket.no_contact.is_(False),
               Ticket.status.in_(values(OPEN_STATUSES | FINISHED_STATUSES | SET_ASIDE_STATUSES)),
               no_task)
    ).all()
    return insert_ignore(session, [
        task_row(ticket_id=tid, kind=Kind.CITIZEN_SMS.value, round_=event_id,
                 step=int(STEP_OF_ACTION[action]), due_at=now, now=now)
        for event_id, tid, action in rows])
