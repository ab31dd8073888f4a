"""The citizen hears back: SMS to the caller's number when the ticket is accepted, when more
information is asked of them, and with the answer when it is closed; the status page the
SMS links to. On SQLite and PostgreSQL, through the real worker and WebhookSms posting to a
loopback stand-in for the SMS gateway (tests.support.nodes.SmsGateway)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.app import create_app
from outbound.citizen_sms import (
    MAX_CHARS,
    REPLY_CODES_TEXT,
    WORDS_POLL,
    WORDS_WAIT,
    CitizenStep,
    accepted_text,
)
from outbound.models import Kind
from outbound.planner import plan
from outbound.sms import WebhookSms
from outbound.worker import OutboundWorker
from tests.outbound.support import (
    Clock,
    ScriptedDialer,
    close_ticket,
    drive,
    events,
    new_ticket,
    redo_and_close,
    tasks,
    ticket,
)
from tests.support.city import City
from tests.support.nodes import SmsGateway
from ticketing import citizen, merging, service
from ticketing.actors import Actor
from ticketing.classify import category_label
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.phones import normalise
from ticketing.views import status_page_body

CITIZEN = "13811112222"
TOKEN_IN_URL = re.compile(r"/s/([A-Za-z0-9_-]+)")


@pytest.fixture
def gateway() -> Iterator[SmsGateway]:
    g = SmsGateway()
    yield g
    g.close()


def _worker(sessions: sessionmaker[Session], domain: Domain, gateway: SmsGateway
            ) -> OutboundWorker:
    # Calls (the handler's reminders, the survey) go unanswered: only the SMS matter here.
    return OutboundWorker(sessions=sessions, domain=domain, dialer=ScriptedDialer(),
                          sms=WebhookSms(gateway.url), name="test-worker")


def _texts(gateway: SmsGateway, phone: str = CITIZEN) -> list[str]:
    return [m["text"] for m in gateway.to(normalise(phone) or phone)]


def _ask(sessions: sessionmaker[Session], domain: Domain, city: City, number: str,
         question: str) -> None:
    op = city.actor("operator")
    with sessions() as s:
        t = service.get_ticket(session=s, actor=op, ref=number)
        citizen.request_info(session=s, domain=domain, ticket=t, actor=op,
                             question=question, at=domain.now())
        s.commit()


def test_accepted_info_requested_and_closed_reach_the_caller(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        ob_settings: Settings, gateway: SmsGateway) -> None:
    assert Settings().outbound.citizen_sms  # shipped: on
    number = new_ticket(ob_sessions, ob_domain, ob_city, phone=CITIZEN)
    worker = _worker(ob_sessions, ob_domain, gateway)
    drive(worker, lambda: len(_texts(gateway)) >= 1)
    accepted = _texts(gateway)[0]
    due = ticket(ob_sessions, number).due_at
    assert due is not None
    local_due = due.astimezone(ob_domain.tz)
    assert number in accepted and "已受理" in accepted and "12345按1" in accepted
    assert f"{local_due.month}月{local_due.day}日{local_due:%H:%M}前" in accepted

    _ask(ob_sessions, ob_domain, ob_city, number, "请补充具体楼门号")
    _ask(ob_sessions, ob_domain, ob_city, number, "请补充具体楼门号")  # a retry: one SMS
    drive(worker, lambda: len(_texts(gateway)) >= 2)
    info = _texts(gateway)[1]
    assert number in info and "请补充具体楼门号" in info and "回复本短信" in info

    close_ticket(ob_sessions, ob_domain, ob_city, number)  # reply "已修复", resolved
    drive(worker, lambda: len(_texts(gateway)) >= 3)
    closed = _texts(gateway)[2]
    assert number in closed and "已办结" in closed and "已解决：已修复" in closed
    assert REPLY_CODES_TEXT in closed
    for text in _texts(gateway):
        assert len(text) <= MAX_CHARS, text
        assert CITIZEN not in text
    # One per step, whatever the number of planning passes.
    worker.plan_now()
    worker.plan_now()
    sms_tasks = tasks(ob_sessions, number, Kind.CITIZEN_SMS)
    assert sorted(t.step for t in sms_tasks) == [
        CitizenStep.ACCEPTED, CitizenStep.INFO_REQUESTED, CitizenStep.CLOSED]
    assert {t.status for t in sms_tasks} == {"done"}
    assert [e.data["kind"] for e in events(ob_sessions, number)
            if e.action == "outbound_sms"].count(Kind.CITIZEN_SMS.value) == 3

    # The link in every SMS is the same unguessable token; the page shows the answer.
    tokens = {TOKEN_IN_URL.search(t).group(1) for t in _texts(gateway)}  # type: ignore[union-attr]
    assert tokens == {ticket(ob_sessions, number).status_token}
    (token,) = tokens
    assert len(token) >= 22
    client = TestClient(create_app(ob_settings))
    page = client.get(f"/s/{token}")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    assert number in page.text and "已办结" in page.text and "已修复" in page.text
    for withheld in (CITIZEN, "孙强", "bj-water", "13900000030"):  # caller, handler, unit
        assert withheld not in page.text
    assert client.get(f"/s/{number}").status_code == 404  # the number never opens it
    assert client.get(f"/s/{token[:-1]}x").status_code == 404


def test_long_answer_is_cut_to_two_segments(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        gateway: SmsGateway) -> None:
    number = new_ticket(ob_sessions, ob_domain, ob_city, phone=CITIZEN)
    handler, operator = ob_city.actor("water-handler"), ob_city.actor("operator")
    reply = "经现场核查，望京西园三区5号楼停水系小区二次供水泵房水泵故障所致。" * 6
    with ob_sessions() as s:
        t = service.get_ticket(session=s, actor=handler, ref=number)
        service.sign(session=s, domain=ob_domain, ticket=t, actor=handler)
        service.reply(session=s, domain=ob_domain, ticket=t, actor=handler, text=reply,
                      outcome="partly", reason="需更换水泵")
        service.close(session=s, domain=ob_domain, ticket=t, actor=operator)
        s.commit()
    drive(_worker(ob_sessions, ob_domain, gateway),
          lambda: any("已办结" in t for t in _texts(gateway)))
    (closed,) = [t for t in _texts(gateway) if "已办结" in t]
    assert len(closed) <= MAX_CHARS and "部分解决：经现场核查" in closed
    assert REPLY_CODES_TEXT in closed and TOKEN_IN_URL.search(closed)


def test_no_sms_to_a_caller_who_asked_for_no_callback(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        gateway: SmsGateway) -> None:
    quiet = new_ticket(ob_sessions, ob_domain, ob_city, phone=CITIZEN, no_contact=True)
    close_ticket(ob_sessions, ob_domain, ob_city, quiet)
    with ob_sessions() as s:
        plan(session=s, domain=ob_domain, now=ob_domain.now())
        s.commit()
    assert tasks(ob_sessions, quiet, Kind.CITIZEN_SMS) == []
    # Asked for after the SMS was planned: the claim sees it and sends nothing.
    later = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811113333")
    op = ob_city.actor("operator")  # before our session: SQLite has one writer
    with ob_sessions() as s:
        plan(session=s, domain=ob_domain, now=ob_domain.now())
        t = service.get_ticket(session=s, actor=op, ref=later)
        citizen.set_preferences(session=s, ticket=t, actor=op, no_contact=True, via="test")
        s.commit()
    drive(_worker(ob_sessions, ob_domain, gateway),
          lambda: all(t.status != "pending"
                      for t in tasks(ob_sessions, later, Kind.CITIZEN_SMS)))
    (task,) = tasks(ob_sessions, later, Kind.CITIZEN_SMS)
    assert (task.status, task.result) == ("cancelled", "no_contact")
    assert _texts(gateway) == [] and _texts(gateway, "13811113333") == []


def test_confidential_caller_is_texted_on_their_own_number(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        gateway: SmsGateway) -> None:
    op = ob_city.actor("operator")
    with ob_sessions() as s:
        t = service.create_ticket(session=s, domain=ob_domain, actor=op, channel="api",
                                  caller_phone=CITIZEN, demand="朝阳区望京西园三区5号楼停水了",
                                  confidential=True)
        service.accept(session=s, domain=ob_domain, ticket=t, actor=op)
        s.commit()
        number = t.number
    drive(_worker(ob_sessions, ob_domain, gateway), lambda: len(_texts(gateway)) >= 1)
    assert number in _texts(gateway)[0]
    # Only ever the caller's number: the handler got their own dispatch SMS, without it.
    for m in gateway.received:
        assert m["to"] == normalise(CITIZEN) or CITIZEN not in m["text"]


def test_gateway_failure_is_retried(ob_sessions: sessionmaker[Session], ob_domain: Domain,
                                    ob_city: City, gateway: SmsGateway) -> None:
    gateway.fail_next = 100  # everything fails until told otherwise
    clock = Clock(ob_domain)
    number = new_ticket(ob_sessions, ob_domain, ob_city, phone=CITIZEN)
    worker = _worker(ob_sessions, ob_domain, gateway)
    drive(worker, lambda: any(m["to"] == normalise(CITIZEN) for m in gateway.refused),
          clock=clock)
    gateway.fail_next = 0
    drive(worker, lambda: len(_texts(gateway)) == 1, clock=clock)
    (task,) = tasks(ob_sessions, number, Kind.CITIZEN_SMS)
    assert task.status == "done" and task.attempts == 2


def _filed_before_its_words(s: Session, domain: Domain) -> Ticket:
    """A call's ticket as ivr.intake files it before its words are known: "（录音待转写）",
    accepted, in the manual queue, committed."""
    ivr = Actor.system("ivr")
    t = service.create_ticket(session=s, domain=domain, actor=ivr, channel="phone",
                              caller_phone=CITIZEN, demand=service.TRANSCRIPT_PENDING)
    service.accept(session=s, domain=domain, ticket=t, actor=ivr)
    s.commit()
    return t


def test_a_ticket_waiting_for_its_words_is_texted_no_deadline(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """A call filed before its words were known (no speech model, a recognizer far behind)
    is "（录音待转写）" with a placeholder urgency: the deadline comes with the words
    (service.attach_transcript), so the SMS promises none until then (as the call itself)."""
    with ob_sessions() as s:
        t = _filed_before_its_words(s, ob_domain)
        pending = ticket(ob_sessions, t.number)
    known = ticket(ob_sessions, new_ticket(ob_sessions, ob_domain, ob_city))
    assert pending.due_at is not None and known.due_at is not None
    url = "http://127.0.0.1:8000/s/x"
    without = accepted_text(ob_domain, pending, url)
    assert pending.number in without and "已受理" in without and "前办理答复" not in without
    assert "前办理答复" in accepted_text(ob_domain, known, url)


def test_the_status_page_of_a_ticket_waiting_for_its_words_shows_no_deadline(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """The page the acceptance SMS links to tells what the SMS and the call tell: no
    deadline (nor category) while the words wait for the backlog -- the placeholder's
    "5个工作日" there was the promise the SMS leaves out -- and the real one once they came."""
    with ob_sessions() as s:
        t = _filed_before_its_words(s, ob_domain)
        placeholder = t.due_at
        assert placeholder is not None
        shown = placeholder.astimezone(ob_domain.tz).strftime("%Y-%m-%d %H:%M")
        page = status_page_body(t, ob_domain)
        assert t.number in page and "办理时限" in page
        assert shown not in page and category_label(t.category) not in page
        service.attach_transcript(session=s, domain=ob_domain, ticket=t,
                                  actor=Actor.system("asr"), text="小区里燃气泄漏了，味道很大")
        s.commit()
        assert t.due_at is not None and t.due_at != placeholder  # the words moved it
        page = status_page_body(t, ob_domain)
        assert t.due_at.astimezone(ob_domain.tz).strftime("%Y-%m-%d %H:%M") in page
        assert category_label(t.category) in page


def test_a_ticket_the_operator_classified_before_its_words_came_shows_what_was_set(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """trial47: no speech model; the operator listened to the call, set its category and it
    was dispatched with a unit's deadline, which the words can no longer move
    (``service.attach_transcript`` leaves a ticket with a unit as it is). Its status page
    still read "诉求类别 录音转写后确定" -- closed and answered too -- and the acceptance SMS
    waited for words that would change nothing, then promised no deadline."""
    operator = ob_city.actor("operator")
    with ob_sessions() as s:
        t = _filed_before_its_words(s, ob_domain)
        assert service.words_pending(t)
        service.confirm_classification(session=s, domain=ob_domain, ticket=t, actor=operator,
                                       category="water", urgency="livelihood")
        s.commit()
        assert t.status == "dispatched" and t.due_at is not None
        assert not service.words_pending(t)
        assert not service.words_coming(session=s, ticket=t)
        page = status_page_body(t, ob_domain)
        due = t.due_at.astimezone(ob_domain.tz)
        assert category_label("water") in page and due.strftime("%Y-%m-%d %H:%M") in page
        text = accepted_text(ob_domain, t, "http://127.0.0.1:8000/s/x")
        assert f"将于{due.month}月{due.day}日{due.hour:02d}:{due.minute:02d}前办理答复" in text


def test_the_status_page_of_a_ticket_set_aside_promises_no_deadline_and_no_answer(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """剔除 (judge27): the page of an excluded ticket read "已办结" and then "办理时限
    <tomorrow>", a deadline nobody would keep; archived after, "办理结果 已答复, 答复内容 —"
    where nobody answered. A deadline only while the ticket is waited on, a closure's rows
    only for a closure. mend85: its state reads 不予办理 (it read 已办结, excluded and
    archived alike), with the reason its SMS gave: a listed one, never staff's words."""
    number = new_ticket(ob_sessions, ob_domain, ob_city)
    other = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811113333")
    boss = ob_city.actor("supervisor")
    with ob_sessions() as s:
        t = service.get_ticket(session=s, actor=boss, ref=number)
        assert t.due_at is not None
        due = t.due_at.astimezone(ob_domain.tz).strftime("%Y-%m-%d %H:%M")
        assert due in status_page_body(t, ob_domain)
        service.exclude(session=s, domain=ob_domain, ticket=t, actor=boss, reason="非本市事项")
        excluded = status_page_body(t, ob_domain)
        service.archive(session=s, domain=ob_domain, ticket=t, actor=boss)
        archived = status_page_body(t, ob_domain)
        free = service.get_ticket(session=s, actor=boss, ref=other)
        service.exclude(session=s, domain=ob_domain, ticket=free, actor=boss,
                        reason="来电人多次骚扰座席")
        free_text = status_page_body(free, ob_domain)
        s.commit()
    for page in (excluded, archived, free_text):
        assert "<td>不予办理</td>" in page and "已办结" not in page, page
        for untrue in ("办理时限", due, "已答复", "答复内容", "办结时间"):
            assert untrue not in page, (untrue, page)
    for page in (excluded, archived):
        assert number in page and "<th align=left>不予办理原因</th><td>非本市事项</td>" in page
    assert "<th align=left>不予办理原因</th><td>—</td>" in free_text
    assert "骚扰" not in free_text


def test_the_acceptance_sms_waits_for_the_words_that_bring_its_deadline(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        gateway: SmsGateway) -> None:
    """A call filed while its words wait for the backlog: the SMS sent at once told no
    deadline, and none ever came once the words had set it. It waits for them now, then
    tells the deadline they set; a recording the backlog found no words in is texted as
    soon as it has, and with no words within WORDS_WAIT (no speech model: the backlog
    never runs) the number still goes."""
    ivr, asr = Actor.system("ivr"), Actor.system("asr")
    late, mumbled, never = "13811113333", "13811114444", "13811115555"
    numbers = {}
    with ob_sessions() as s:  # as ivr.intake files them: accepted, in the manual queue
        for phone in (late, mumbled, never):
            t = service.create_ticket(session=s, domain=ob_domain, actor=ivr,
                                      channel="phone", caller_phone=phone,
                                      demand=service.TRANSCRIPT_PENDING)
            service.accept(session=s, domain=ob_domain, ticket=t, actor=ivr)
            numbers[phone] = t.number
        s.commit()
    clock = Clock(ob_domain)
    worker = _worker(ob_sessions, ob_domain, gateway)
    for _ in range(3):
        worker.plan_now()
        worker.tick()
        assert worker.wait_idle(5)
    assert not any(_texts(gateway, phone) for phone in numbers)
    operator = ob_city.actor("operator")  # before our session: SQLite has one writer
    with ob_sessions() as s:  # the backlog's words for two of them
        for phone, words in ((late, "小区里燃气泄漏了，味道很大"), (mumbled, "")):
            t = service.get_ticket(session=s, actor=operator, ref=numbers[phone])
            service.attach_transcript(session=s, domain=ob_domain, ticket=t, actor=asr,
                                      text=words)
        s.commit()
    clock.at += WORDS_POLL
    drive(worker, lambda: all(len(_texts(gateway, p)) == 1 for p in (late, mumbled)),
          clock=clock)
    due = ticket(ob_sessions, numbers[late]).due_at
    assert due is not None
    local = due.astimezone(ob_domain.tz)
    (text,) = _texts(gateway, late)
    assert f"将于{local.month}月{local.day}日{local.hour:02d}:{local.minute:02d}前办理答复" in text
    (text,) = _texts(gateway, mumbled)
    assert numbers[mumbled] in text and "前办理答复" not in text
    assert _texts(gateway, never) == []
    clock.at += WORDS_WAIT
    drive(worker, lambda: len(_texts(gateway, never)) == 1, clock=clock)
    (text,) = _texts(gateway, never)
    assert numbers[never] in text and "前办理答复" not in text


def test_an_sms_the_gateway_took_but_answered_late_is_retried_under_the_same_id(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        gateway: SmsGateway) -> None:
    """The gateway takes the first SMS (the handler's dispatch SMS) but answers after our
    timeout: the attempt counts as failed and is retried, and the retry must carry the
    first one's id, the provider's one way to drop the repeat (docs/outbound.md, the crash
    rule). Before, each attempt had an id of its own: texted twice (fault trial, fifteenth
    round)."""
    gateway.slow_next, gateway.slow_seconds = 1, 1.5
    new_ticket(ob_sessions, ob_domain, ob_city, phone=CITIZEN)
    worker = OutboundWorker(sessions=ob_sessions, domain=ob_domain, dialer=ScriptedDialer(),
                            sms=WebhookSms(gateway.url, timeout=0.3), name="test-worker")

    def posted_again() -> list[dict[str, str]]:
        with gateway.lock:
            return [m for m in gateway.received[1:] if m["text"] == gateway.received[0]["text"]]

    drive(worker, lambda: bool(gateway.received) and bool(posted_again()))
    (retry,) = posted_again()
    assert retry["to"] == gateway.received[0]["to"]
    assert retry["id"] == gateway.received[0]["id"]


def test_the_status_page_of_a_merged_ticket_shows_its_primarys_deadline(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """review56: a ticket merged (并单) into another is answered with that one, by its
    deadline; the page showed the merged ticket's own due_at, a date nobody works to."""
    primary_no = new_ticket(ob_sessions, ob_domain, ob_city)
    merged_no = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811113333")
    boss = ob_city.actor("supervisor")
    with ob_sessions() as s:
        primary = service.get_ticket(session=s, actor=boss, ref=primary_no)
        merged = service.get_ticket(session=s, actor=boss, ref=merged_no)
        merging.merge(session=s, domain=ob_domain, primary=primary, others=[merged],
                      actor=boss, reason="同一事项")
        assert primary.due_at is not None and merged.due_at is not None
        primary.due_at = merged.due_at + timedelta(days=3)  # e.g. extended (延期)
        s.commit()
        own = merged.due_at.astimezone(ob_domain.tz).strftime("%Y-%m-%d %H:%M")
        theirs = primary.due_at.astimezone(ob_domain.tz).strftime("%Y-%m-%d %H:%M")
        page = status_page_body(merged, ob_domain)
    assert merged_no in page and "办理中" in page
    assert theirs in page and own not in page


def test_a_ticket_set_aside_tells_its_caller_the_outcome_and_the_listed_reason(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        gateway: SmsGateway) -> None:
    """mend84 (judge35): a ticket 剔除'd ~20 s after filing had no outbound work at all:
    its acceptance SMS was cancelled at claim (the ticket no longer open) or never planned
    (an excluded ticket was neither open nor finished), and nothing else was texted, so the
    caller never learnt the number, nor that the complaint would not be handled. Now 剔除
    is texted as a closure is: the outcome and, when the centre named one of the listed
    reasons (its own words, or the handler's 申请剔除 it agreed to), that reason -- never
    the free text, which staff write for the record."""
    clock = Clock(ob_domain)
    boss, handler = ob_city.actor("supervisor"), ob_city.actor("water-handler")
    phones = {"centre": CITIZEN, "requested": "13811113333", "free_text": "13811114444"}
    numbers = {k: new_ticket(ob_sessions, ob_domain, ob_city, phone=p)
               for k, p in phones.items()}
    clock.at += timedelta(seconds=20)
    with ob_sessions() as s:
        def get(key: str) -> Ticket:
            return service.get_ticket(session=s, actor=boss, ref=numbers[key])
        service.exclude(session=s, domain=ob_domain, ticket=get("centre"), actor=boss,
                        reason="非本市事项：反映的是河北省廊坊市的道路")
        t = get("requested")
        service.sign(session=s, domain=ob_domain, ticket=t, actor=handler)
        service.request_exclusion(session=s, domain=ob_domain, ticket=t, actor=handler,
                                  reason="重复诉求", text="与上周工单同一事项，已答复")
        service.exclude(session=s, domain=ob_domain, ticket=t, actor=boss, reason="同意")
        service.exclude(session=s, domain=ob_domain, ticket=get("free_text"), actor=boss,
                        reason="来电人多次骚扰座席")
        s.commit()

    def settled() -> bool:
        return all(x.status in ("done", "cancelled", "failed")
                   for n in numbers.values() for x in tasks(ob_sessions, n, Kind.CITIZEN_SMS))
    drive(_worker(ob_sessions, ob_domain, gateway),
          lambda: all(_texts(gateway, p) for p in phones.values()) and settled(), clock=clock)
    said = {k: _texts(gateway, p) for k, p in phones.items()}
    why = {"centre": "，原因：非本市事项。", "requested": "，原因：重复诉求。", "free_text": "不予办理。"}
    for key, (text,) in said.items():  # one SMS each: the outcome, not "已受理" first
        assert numbers[key] in text and "经审核不予办理" in text and why[key] in text, text
        assert "已受理" not in text and TOKEN_IN_URL.search(text) and len(text) <= MAX_CHARS
    for withheld in ("廊坊", "同意", "已答复", "骚扰"):
        assert not any(withheld in t for texts in said.values() for t in texts), withheld
    for number in numbers.values():
        steps = {x.step: (x.status, x.result) for x in tasks(ob_sessions, number,
                                                             Kind.CITIZEN_SMS)}
        assert steps[CitizenStep.EXCLUDED][0] == "done"
        # Superseded, as an acceptance notice of a ticket closed meanwhile is.
        assert steps.get(CitizenStep.ACCEPTED, ("cancelled", "moved")) == ("cancelled", "moved")


def _closure_held(sessions: sessionmaker[Session], domain: Domain, city: City,
                  gateway: SmsGateway) -> tuple[Clock, OutboundWorker, str]:
    """A ticket whose acceptance SMS went out and whose closure SMS is planned, not sent
    (held for quiet hours, say)."""
    clock = Clock(domain)
    number = new_ticket(sessions, domain, city, phone=CITIZEN)
    worker = _worker(sessions, domain, gateway)
    drive(worker, lambda: len(_texts(gateway)) >= 1, clock=clock)
    close_ticket(sessions, domain, city, number)
    worker.plan_now()
    assert [x.status for x in tasks(sessions, number, Kind.CITIZEN_SMS)
            if x.step == CitizenStep.CLOSED] == ["pending"]
    return clock, worker, number


def _settled(sessions: sessionmaker[Session], number: str) -> bool:
    return all(x.status in ("done", "cancelled", "failed")
               for x in tasks(sessions, number, Kind.CITIZEN_SMS))


def test_a_closure_sms_held_back_says_nothing_of_a_closure_the_ticket_lost_since(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        gateway: SmsGateway) -> None:
    """The closure SMS planned, not sent yet (held for quiet hours, say); meanwhile the
    closure is rejected (驳回重办), the ticket set aside (剔除) and archived. Archived is a
    finished state, and before (review87) the held SMS still told the caller 已办结: it is
    cancelled as moved, and the 剔除 SMS tells the outcome."""
    boss = ob_city.actor("supervisor")
    clock, worker, number = _closure_held(ob_sessions, ob_domain, ob_city, gateway)
    with ob_sessions() as s:
        t = service.get_ticket(session=s, actor=boss, ref=number)
        service.reject_redo(session=s, domain=ob_domain, ticket=t, actor=boss,
                            reason="市民反映仍未修复")
        service.exclude(session=s, domain=ob_domain, ticket=t, actor=boss,
                        reason="非本市事项")
        service.archive(session=s, domain=ob_domain, ticket=t, actor=boss)
        s.commit()
    assert citizen.is_set_aside(ticket(ob_sessions, number))
    drive(worker, lambda: len(_texts(gateway)) >= 2 and _settled(ob_sessions, number),
          clock=clock)
    steps = {x.step: (x.status, x.result) for x in tasks(ob_sessions, number,
                                                         Kind.CITIZEN_SMS)}
    assert steps[CitizenStep.CLOSED] == ("cancelled", "moved")
    assert steps[CitizenStep.EXCLUDED][0] == "done"
    accepted, excluded = _texts(gateway)
    assert "已受理" in accepted
    assert "经审核不予办理，原因：非本市事项。" in excluded and "已办结" not in excluded


def test_a_closure_sms_held_back_is_not_sent_again_beside_the_redos_closure(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        gateway: SmsGateway) -> None:
    """ux44's night walk: the closure SMS held for quiet hours, the centre's 驳回重办, and
    the redo closed again before 08:00: both closures' SMS were due at 08:00 and both
    still held (the ticket finished), so the caller was told 已办结 twice, the same text."""
    clock, worker, number = _closure_held(ob_sessions, ob_domain, ob_city, gateway)
    redo_and_close(ob_sessions, ob_domain, ob_city, number, reason="市民反映仍未修复")
    worker.plan_now()
    drive(worker, lambda: len(_texts(gateway)) >= 2 and _settled(ob_sessions, number),
          clock=clock)
    closed = [x for x in tasks(ob_sessions, number, Kind.CITIZEN_SMS)
              if x.step == CitizenStep.CLOSED]
    assert sorted((x.status, x.result) for x in closed) == [("cancelled", "moved"),
                                                            ("done", "sent")]
    assert sum("已办结" in text for text in _texts(gateway)) == 1


def test_a_closure_sms_held_back_while_the_redo_is_open_leaves_the_redos_to_tell(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        gateway: SmsGateway) -> None:
    """review121, beside ux44's: the closure SMS held, 驳回重办, and the redo still open
    when the SMS falls due. It is cancelled (the ticket is not closed), and the redo's
    closure, days later, is texted: the caller hears 已办结 once, never zero times."""
    clock, worker, number = _closure_held(ob_sessions, ob_domain, ob_city, gateway)
    boss = ob_city.actor("supervisor")
    with ob_sessions() as s:
        t = service.get_ticket(session=s, actor=boss, ref=number)
        service.reject_redo(session=s, domain=ob_domain, ticket=t, actor=boss,
                            reason="市民反映仍未修复")
        s.commit()
    drive(worker, lambda: _settled(ob_sessions, number), clock=clock)
    assert [(x.status, x.result) for x in tasks(ob_sessions, number, Kind.CITIZEN_SMS)
            if x.step == CitizenStep.CLOSED] == [("cancelled", "moved")]
    clock.at += timedelta(days=2)
    close_ticket(ob_sessions, ob_domain, ob_city, number)
    worker.plan_now()
    drive(worker, lambda: len(_texts(gateway)) >= 2 and _settled(ob_sessions, number),
          clock=clock)
    assert sum("已办结" in text for text in _texts(gateway)) == 1


def test_a_ticket_returned_after_the_operator_dispatched_it_is_not_said_to_wait_for_words(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """review134: trial47 ended "words pending" once a unit was set, not once the late words
    can no longer move anything (``attach_transcript`` re-classifies only a ticket still
    waiting for its first dispatch, without a unit). The operator dispatched a call before
    its words came, the citizen was texted its deadline; the unit gave it back (退单) and
    the page read "诉求类别 录音转写后确定" and "办理时限 录音转写后确定" again, though
    the words, when they came, changed neither."""
    operator, water = ob_city.actor("operator"), ob_city.actor("water-handler")
    with ob_sessions() as s:
        t = _filed_before_its_words(s, ob_domain)
        service.confirm_classification(session=s, domain=ob_domain, ticket=t, actor=operator,
                                       category="water", urgency="livelihood")
        service.return_ticket(session=s, domain=ob_domain, ticket=t, actor=water,
                              reason="不属于本单位职责范围")
        s.commit()
        assert t.status == "returned" and t.unit_id is None
        assert not service.words_pending(t)
        assert not service.words_coming(session=s, ticket=t)
        assert "录音转写后确定" not in status_page_body(t, ob_domain)
        before = (t.category, t.urgency, t.due_at)
        service.attach_transcript(session=s, domain=ob_domain, ticket=t,
                                  actor=Actor.system("asr"), text="小区路灯坏了一个星期没人修")
        assert (t.category, t.urgency, t.due_at) == before  # the words moved nothing
