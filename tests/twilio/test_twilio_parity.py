"""The Twilio path does what the SIP IVR does with the caller's words (issue 14), decided by
the same ``ivr.decisions``: an emergency is handed over at once (urgent ticket and hand-over
event committed before the <Dial> is returned), a question a knowledge entry answers is
answered with 1 (直接答复) / 2 (a ticket), and the read-back's 1 is followed by 1 保密 /
2 不要回访. Real app, signed webhooks, the local stand-in for Twilio's API, real Vosk;
SQLite and PostgreSQL.

The Korean test model cannot hear Mandarin, so the Mandarin words a Chinese model would have
produced replace its transcript at the transcript step (``decode_within``), as the SIP
dialogue tests do at theirs; classification, knowledge base and ticket see them as from a
live model. A recording the model does not hear the marker word in keeps its own words."""

from __future__ import annotations

import dataclasses
import io
import wave
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from ivr import prompts
from ivr.callrecords import CallOutcome, CallRecord
from ivr.intake import Spool, recover_spool
from ivr.twilio import call_flow as twilio_flow
from ivr.twilio.decode import Decoded
from knowledge import service as kb
from tests.support.city import City
from tests.twilio.helpers import (
    AUTH_TOKEN,
    CALLER,
    PUBLIC_BASE,
    StandIn,
    Twilio,
    answer_written,
    call_form,
    count,
    new_sid,
    says,
    twiml,
    verbs,
)
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent
from ticketing.reports import figures
from ticketing.states import Status

# The calls here are about what follows the transcript: the one recording is decoded once
# per test process (decode_once, tests/twilio/conftest.py), not once per webhook.
pytestmark = pytest.mark.usefixtures("decode_once")

HEARD = "나오"  # part of what the test model hears in the recording (나오지 않습니다)
FIRE = "我们楼道里着火了，浓烟很大，快来人啊"
LINE_119 = {"emergency_uris": {"110": "", "119": "sip:119@10.0.0.9", "120": ""}}
QUESTION = "想问下失业金怎么申请"  # kb026's question, worded unlike the entry; asks no one detail (kb28)
ENTRY = "kb026"
WATER = "朝阳区望京西园三区5号楼停水一天了"


@pytest.fixture
def meant(monkeypatch: pytest.MonkeyPatch, decode_once: None) -> dict[str, str]:
    """meant["text"]: what a Mandarin model would have heard in the recording (decoded once
    per test process: decode_once, tests/twilio/conftest.py)."""
    said: dict[str, str] = {}
    decode = twilio_flow.decode_within

    def mandarin(*args: Any, **kwargs: Any) -> Decoded:
        result = decode(*args, **kwargs)
        if result.text and HEARD in result.text and "text" in said:
            return dataclasses.replace(result, text=said["text"])
        return result

    monkeypatch.setattr(twilio_flow, "decode_within", mandarin)
    return said



def _recorded(twilio: Twilio, standin: StandIn, wav: bytes, call: str,
              **form: str) -> tuple[dict[str, str], Any]:
    rec = new_sid("RE")
    url = standin.add_recording(call, rec, wav)
    params = call_form(call, RecordingSid=rec, RecordingUrl=url, RecordingDuration="3",
                       Digits="#", **form)
    return params, twilio.post("/twilio/recorded", params)


def _speak(twilio: Twilio, standin: StandIn, wav: bytes, **form: str
           ) -> tuple[str, dict[str, str], ET.Element]:
    call = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(call, **form)))
    params, resp = _recorded(twilio, standin, wav, call, **form)
    return call, params, twiml(resp)


def _ticket(sessions: sessionmaker[Session]) -> Ticket:
    with sessions() as s:
        return s.scalars(select(Ticket)).one()


def _events(sessions: sessionmaker[Session], action: str) -> list[TicketEvent]:
    with sessions() as s:
        events = list(s.scalars(select(TicketEvent).where(TicketEvent.action == action)))
        s.expunge_all()
    return events


def _outcome(sessions: sessionmaker[Session], call: str) -> str:
    with sessions() as s:
        return s.scalars(select(CallRecord.outcome).where(CallRecord.call_id == call)).one()


def _action(node: ET.Element) -> tuple[str, str]:
    """A webhook URL of ours as (path, query) for Twilio.post."""
    path, _, query = (node.get("action") or node.text or "").removeprefix(PUBLIC_BASE) \
        .partition("?")
    return path, query


# ------------------------------------------------------------------------- 三号联动
def test_fire_is_handed_to_the_operator_with_the_urgent_ticket_already_filed(
        make_twilio: Any, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
        sessions: sessionmaker[Session], city: City) -> None:
    twilio = make_twilio(sip={"operator_uri": "sip:duty@10.0.0.5"})
    assert twilio.settings.ivr.emergency_uris == {"110": "", "119": "", "120": ""}
    meant["text"] = FIRE
    call, params, root = _speak(twilio, standin, recording_wav)

    # No read-back, no key: "正在为您转接119" and the <Dial> to the duty operator's SIP URI.
    assert verbs(root) == ["Say", "Dial"]
    assert says(root) == [prompts.speakable(prompts.text("emergency_transfer_119"))]
    assert "正在为您转接" in says(root)[0]
    dial = root[1]
    assert [(c.tag, c.text) for c in dial] == [("Sip", "sip:duty@10.0.0.5")]
    assert _action(dial) == ("/twilio/dialed", "emergency=119")
    # Recorded before the TwiML went back: the urgent ticket and its hand-over event.
    ticket = _ticket(sessions)
    assert ticket.emergency == "119" and ticket.urgency == "urgent"
    assert ticket.transcript == FIRE and ticket.caller_phone == CALLER
    assert [(e.ticket_id, e.data, e.note) for e in _events(sessions, "emergency_handover")] == [
        (ticket.id, {"service": "119", "target": "operator"}, "发起转接119")]

    # Twilio sends the recording's webhook again: the same <Dial>, nothing recorded twice.
    again = twiml(twilio.post("/twilio/recorded", params))
    assert ET.tostring(again) == ET.tostring(root)
    assert count(sessions, Ticket) == 1 and len(_events(sessions, "emergency_handover")) == 1

    path, query = _action(dial)
    done = twiml(twilio.post(path, call_form(call, DialCallStatus="completed"), query=query))
    assert verbs(done) == ["Hangup"]
    assert _outcome(sessions, call) == CallOutcome.TICKET


def test_ambulance_line_as_a_number_unanswered_tells_the_caller_to_dial(
        make_twilio: Any, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
        sessions: sessionmaker[Session], city: City) -> None:
    twilio = make_twilio(sip={"operator_uri": "sip:duty@10.0.0.5"},
                         ivr={"emergency_uris": {"110": "", "119": "+8610119",
                                                 "120": "+8610120"}})
    meant["text"] = "我爸突然晕倒了，叫不醒，快叫救护车"
    call, _, root = _speak(twilio, standin, recording_wav)
    ticket = _ticket(sessions)
    assert ticket.emergency == "120" and ticket.urgency == "urgent"
    (dial,) = root.iter("Dial")
    assert [(c.tag, c.text) for c in dial] == [("Number", "+8610120")]
    assert [e.data for e in _events(sessions, "emergency_handover")] == [
        {"service": "120", "target": "uri"}]

    path, query = _action(dial)
    root = twiml(twilio.post(path, call_form(call, DialCallStatus="no-answer"), query=query))
    # Not a callback request: the caller must dial 120 now; the urgent ticket stands.
    assert says(root) == [prompts.speakable(prompts.text("emergency_failed_120"))]
    assert verbs(root)[-1] == "Hangup"
    assert count(sessions, Ticket) == 1 and _outcome(sessions, call) == CallOutcome.TICKET


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the trail's words
@pytest.mark.parametrize(("status", "said"), [
    ("completed", "已接通119"),
    ("failed", "未接通119：线路占线或拒绝呼叫，已告知来电人直接拨打119"),
    ("no-answer", "未接通119：无人应答，已告知来电人直接拨打119"),
], ids=["answered", "refused", "unanswered"])
def test_the_trail_says_how_the_hand_over_ended(
        status: str, said: str, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        meant: dict[str, str], sessions: sessionmaker[Session], city: City) -> None:
    """review121: the hand-over event is committed before the <Dial> and said "转接119",
    put through or not; the Dial's action now adds how it ended, as the SIP line does."""
    twilio = make_twilio(sip={"operator_uri": "sip:duty@10.0.0.5"}, ivr=LINE_119)
    meant["text"] = FIRE
    call, _, root = _speak(twilio, standin, recording_wav)
    (dial,) = root.iter("Dial")
    path, query = _action(dial)
    twiml(twilio.post(path, call_form(call, DialCallStatus=status), query=query))
    trail = [(e.action, e.note) for e in sorted(
        _events(sessions, "emergency_handover") + _events(sessions, "emergency_handover_result"),
        key=lambda e: e.id)]
    assert trail == [("emergency_handover", "发起转接119"), ("emergency_handover_result", said)]


def _trail(sessions: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    return [(e.action, e.note) for e in sorted(
        _events(sessions, "emergency_handover") + _events(sessions, "emergency_handover_result"),
        key=lambda e: e.id)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the trail's words
@pytest.mark.parametrize(("status", "said"), [
    ("completed", "已接通值班员（未拨打119）"),
    ("no-answer", "未接通值班员：无人应答，已告知来电人直接拨打119"),
], ids=["answered", "unanswered"])
def test_a_hand_over_to_the_duty_operator_names_the_operator(
        status: str, said: str, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        meant: dict[str, str], sessions: sessionmaker[Session], city: City) -> None:
    """handover47: no line for 119, the <Dial> rings the duty operator; the trail said
    "已接通119" when the operator answered, as if 119 had the call."""
    twilio = make_twilio(sip={"operator_uri": "sip:duty@10.0.0.5"})
    meant["text"] = FIRE
    call, _, root = _speak(twilio, standin, recording_wav)
    (dial,) = root.iter("Dial")
    assert [(c.tag, c.text) for c in dial] == [("Sip", "sip:duty@10.0.0.5")]
    path, query = _action(dial)
    twiml(twilio.post(path, call_form(call, DialCallStatus=status), query=query))
    assert _trail(sessions) == [("emergency_handover", "发起转接119"),
                                ("emergency_handover_result", said)]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the trail's words
def test_a_dial_whose_action_never_came_says_the_result_is_unknown(
        make_twilio: Any, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
        sessions: sessionmaker[Session], city: City) -> None:
    """handover47: the <Dial> went back and neither its action nor the call's status ever
    came: recovery's 15-minute rule settled the call with "发起转接119" alone on the trail,
    read as a call placed. It says the result is unknown, once however often recovered."""
    twilio = make_twilio(sip={"operator_uri": "sip:duty@10.0.0.5"}, ivr=LINE_119)
    meant["text"] = FIRE
    _speak(twilio, standin, recording_wav)
    spool = Spool(twilio.settings.data_dir / "spool" / "calls")
    (journal,) = spool.pending()
    assert journal.bridged_at and journal.handover_result is None
    domain = twilio.client.app.state.domain  # type: ignore[attr-defined]
    for _ in range(2):  # recovered, then recovered again (a crash before the spool's removal)
        recover_spool(sessions=sessions, domain=domain, spool=spool, stale_after_seconds=0)
        spool.write(journal)
    assert _trail(sessions) == [("emergency_handover", "发起转接119"),
                                ("emergency_handover_result", "转接119结果未知：未收到呼叫结果")]


def test_emergency_with_nobody_to_take_it_keeps_the_ticket(
        twilio: Twilio, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
        sessions: sessionmaker[Session], city: City) -> None:
    meant["text"] = FIRE  # shipped settings: no 119 line, no operator
    call, params, root = _speak(twilio, standin, recording_wav, From="anonymous")
    # A withheld number is not asked for before an emergency.
    assert says(root) == [prompts.speakable(prompts.text("emergency_failed_119"))]
    assert verbs(root) == ["Say", "Hangup"]
    ticket = _ticket(sessions)
    assert ticket.emergency == "119" and ticket.caller_phone is None
    assert [e.data for e in _events(sessions, "emergency_handover")] == [
        {"service": "119", "target": "none"}]
    assert _outcome(sessions, call) == CallOutcome.TICKET
    # Sent again after the call was settled: the same words, nothing recorded twice.
    again = twiml(twilio.post("/twilio/recorded", params))
    assert ET.tostring(again) == ET.tostring(root)
    assert count(sessions, Ticket) == 1 and len(_events(sessions, "emergency_handover")) == 1
    assert not list((twilio.settings.data_dir / "spool").rglob("*.json"))


# ------------------------------------------------------------------------- 知识库
def _answer_read(sessions: sessionmaker[Session], root: ET.Element) -> str:
    with sessions() as s:
        entry = kb.get_entry(session=s, entry_id=ENTRY)
        title, answer = entry.title, entry.answer
    assert verbs(root) == ["Gather", "Redirect"]
    gather = root[0]
    assert gather.get("numDigits") == "1" and _action(gather) == ("/twilio/answer", "")
    # The intro names the question the answer is for, as on the SIP line.
    assert says(gather) == [prompts.speakable(prompts.kb_intro_text(title)), prompts.speakable(answer),
                            prompts.text("kb_resolved_ask")]
    assert _action(root[1]) == ("/twilio/answer", "")
    return answer


def test_question_answered_and_key_1_files_a_direct_answer(
        make_twilio: Any, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
        sessions: sessionmaker[Session], domain: Domain, faq: None) -> None:
    twilio = make_twilio()
    meant["text"] = QUESTION
    call, params, root = _speak(twilio, standin, recording_wav)
    answer = _answer_read(sessions, root)
    assert count(sessions, Ticket) == 0  # nothing filed before the caller's key
    # The same recording's webhook again: the same answer offered.
    assert ET.tostring(twiml(twilio.post("/twilio/recorded", params))) == ET.tostring(root)

    replies = [twiml(twilio.post("/twilio/answer", call_form(call, Digits="1")))
               for _ in range(2)]
    for reply in replies:  # the webhook sent twice: one ticket, the same words
        assert says(reply) == [prompts.text("kb_answered"), prompts.text("goodbye")]
        assert verbs(reply)[-1] == "Hangup"
    ticket = _ticket(sessions)
    assert ticket.status == Status.CLOSED.value and ticket.reply_text == answer
    assert ticket.channel == "twilio" and ticket.transcript == QUESTION
    assert [e.data["kb_entry"] for e in _events(sessions, "answer")] == [ENTRY]
    with sessions() as s:
        f = figures(session=s, actor=Actor.system("test"), now=domain.now(),
                    utility_window=domain.utility_window)
    assert f.answered_directly == 1
    twiml(twilio.post("/twilio/status", call_form(call, CallStatus="completed")))
    assert _outcome(sessions, call) == CallOutcome.TICKET


@pytest.mark.parametrize("more", ["3", ""])
def test_a_long_answer_is_read_in_parts_and_3_or_no_key_reads_the_rest(
        more: str, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        meant: dict[str, str], sessions: sessionmaker[Session], faq: None) -> None:
    """kb27: an answer over ``ivr.kb_part_chars`` (here kb026's two sentences at 40) is read
    by parts, as on the SIP line (ivr.kb_answer.answer_parts): the first with the intro and
    "继续收听请按3…"; 3 or no key (the redirect) the next, then "问题解决了请按1…"."""
    twilio = make_twilio(ivr={"kb_part_chars": 40})
    meant["text"] = QUESTION
    call, _, root = _speak(twilio, standin, recording_wav)
    with sessions() as s:
        entry = kb.get_entry(session=s, entry_id=ENTRY)
        title, answer = entry.title, entry.answer
    first, rest = answer.split("。", 1)
    gather = root[0]
    assert says(gather) == [prompts.speakable(prompts.kb_intro_text(title)),
                            prompts.speakable(first + "。"), prompts.text("kb_more")]
    form = call_form(call, Digits=more) if more else call_form(call)
    root = twiml(twilio.post("/twilio/answer", form))
    assert verbs(root) == ["Gather", "Redirect"] and _action(root[0]) == ("/twilio/answer", "")
    assert says(root[0]) == [prompts.speakable(rest), prompts.text("kb_resolved_ask")]
    reply = twiml(twilio.post("/twilio/answer", call_form(call, Digits="1")))
    assert says(reply) == [prompts.text("kb_answered"), prompts.text("goodbye")]
    assert _ticket(sessions).reply_text == answer  # the 直接答复 is the whole answer


@pytest.mark.parametrize("more", ["3", ""])
def test_the_detail_asked_is_read_first_and_3_or_no_key_reads_the_rest(
        more: str, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        meant: dict[str, str], sessions: sessionmaker[Session], faq: None) -> None:
    """kb28, as on the SIP line (ivr.kb_answer.answer_reading): "在哪里申请" asks the place,
    which kb026's second sentence states: it comes first, then "听其他内容请按3…"; 3 or no key
    reads the first sentence after "下面是其他内容。", then "问题解决了请按1…"; 1 files the
    whole answer."""
    twilio = make_twilio()
    call, who, answer = _detail_read(twilio, standin, recording_wav, meant, sessions)
    form = call_form(call, Digits=more) if more else call_form(call)
    root = twiml(twilio.post("/twilio/answer", form))
    assert verbs(root) == ["Gather", "Redirect"] and _action(root[0]) == ("/twilio/answer", "")
    assert says(root[0]) == [prompts.speakable(prompts.text("kb_rest_intro") + who),
                             prompts.text("kb_resolved_ask")]
    reply = twiml(twilio.post("/twilio/answer", call_form(call, Digits="1")))
    assert says(reply) == [prompts.text("kb_answered"), prompts.text("goodbye")]
    assert _ticket(sessions).reply_text == answer  # the 直接答复 is the whole answer


def test_two_details_asked_are_read_first_in_their_order_then_the_rest(
        make_twilio: Any, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
        sessions: sessionmaker[Session], faq: None) -> None:
    """kb29, as on the SIP line (tests/ivr/test_kb_two_details.py): "要带啥，多久能领证" asks
    materials then the wait: kb008's second sentence, "再说要多长时间：", its third; no key
    reads its first after "下面是其他内容。"; 1 files the whole answer."""
    twilio = make_twilio()
    meant["text"] = "结婚登记要带啥，多久能领证？"
    call, _, root = _speak(twilio, standin, recording_wav)
    with sessions() as s:
        entry = kb.get_entry(session=s, entry_id="kb008")
        title, answer = entry.title, entry.answer
    first, where, when = (s + "。" for s in answer.split("。")[:3])
    assert says(root[0]) == [
        prompts.speakable(prompts.kb_detail_intro_text(title, "materials")),
        prompts.speakable(where + prompts.kb_detail_next_text("duration") + when),
        prompts.text("kb_detail_more")]
    root = twiml(twilio.post("/twilio/answer", call_form(call)))
    assert says(root[0]) == [prompts.speakable(prompts.text("kb_rest_intro") + first),
                             prompts.text("kb_resolved_ask")]
    twiml(twilio.post("/twilio/answer", call_form(call, Digits="1")))
    assert _ticket(sessions).reply_text == answer


WHERE = "想问下失业金在哪里申请"  # kb026's place asked: its second sentence read first


def _detail_read(twilio: Any, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
                 sessions: sessionmaker[Session]) -> tuple[str, str, str]:
    """The caller asked the place; the detail part was read. The call, kb026's first
    sentence (the rest) and its whole answer."""
    meant["text"] = WHERE
    call, _, root = _speak(twilio, standin, recording_wav)
    with sessions() as s:
        entry = kb.get_entry(session=s, entry_id=ENTRY)
        title, answer = entry.title, entry.answer
    who, where = answer.split("。", 1)
    assert says(root[0]) == [prompts.speakable(prompts.kb_detail_intro_text(title, "place")),
                             prompts.speakable(where), prompts.text("kb_detail_more")]
    return call, who + "。", answer


def test_2_after_the_detail_reads_back_and_files_no_answer(
        make_twilio: Any, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
        sessions: sessionmaker[Session], faq: None) -> None:
    """mend59: 2 after the detail (as after a whole answer): the read-back, the rest
    unread, an ordinary ticket."""
    twilio = make_twilio()
    call, _, _ = _detail_read(twilio, standin, recording_wav, meant, sessions)
    root = twiml(twilio.post("/twilio/answer", call_form(call, Digits="2")))
    assert _action(root[0]) == ("/twilio/confirm", "")
    assert prompts.text("kb_rest_intro") not in "".join(says(root))
    twiml(twilio.post("/twilio/confirm", call_form(call, Digits="1")))
    twiml(twilio.post("/twilio/preferences", call_form(call)))
    ticket = _ticket(sessions)
    assert ticket.status != Status.CLOSED.value and ticket.reply_text is None
    assert _events(sessions, "answer") == []


def test_a_hang_up_during_the_detail_files_the_words_not_an_answer(
        make_twilio: Any, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
        sessions: sessionmaker[Session], faq: None) -> None:
    """mend59: the caller gone during the detail: no 直接答复 (nobody pressed 1); the words
    are kept as on any call that ends after a question was read."""
    twilio = make_twilio()
    call, _, _ = _detail_read(twilio, standin, recording_wav, meant, sessions)
    twiml(twilio.post("/twilio/status", call_form(call, CallStatus="completed")))
    assert _events(sessions, "answer") == []
    ticket = _ticket(sessions)
    assert ticket.reply_text is None and ticket.transcript == WHERE
    assert _outcome(sessions, call) == CallOutcome.TICKET


@pytest.mark.parametrize("more", ["3", ""])
def test_a_restart_between_the_detail_and_the_rest_reads_the_rest_from_the_journal(
        more: str, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        meant: dict[str, str], sessions: sessionmaker[Session], faq: None) -> None:
    """mend59: the app restarted after the detail was read: the next webhook (3 or the
    redirect of no key) reaches the new process, which reads the rest from the call's
    journal (spooled), then 1 files the whole answer."""
    call, who, answer = _detail_read(make_twilio(), standin, recording_wav, meant, sessions)
    restarted = make_twilio()
    form = call_form(call, Digits=more) if more else call_form(call)
    root = twiml(restarted.post("/twilio/answer", form))
    assert says(root[0]) == [prompts.speakable(prompts.text("kb_rest_intro") + who),
                             prompts.text("kb_resolved_ask")]
    reply = twiml(restarted.post("/twilio/answer", call_form(call, Digits="1")))
    assert says(reply) == [prompts.text("kb_answered"), prompts.text("goodbye")]
    assert _ticket(sessions).reply_text == answer


@pytest.mark.parametrize("digits", ["2", "", "*", "7"])
def test_key_2_no_key_or_garbage_after_the_answer_goes_on_as_a_ticket(
        digits: str, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        meant: dict[str, str], sessions: sessionmaker[Session], faq: None) -> None:
    twilio = make_twilio()
    meant["text"] = QUESTION
    call, _, root = _speak(twilio, standin, recording_wav)
    _answer_read(sessions, root)
    form = call_form(call, Digits=digits) if digits else call_form(call)  # "": the redirect
    root = twiml(twilio.post("/twilio/answer", form))
    # The read-back, as without an answer.
    assert _action(root[0]) == ("/twilio/confirm", "")
    assert says(root)[-1] == prompts.text("confirm")
    twiml(twilio.post("/twilio/confirm", call_form(call, Digits="1")))
    root = twiml(twilio.post("/twilio/preferences", call_form(call)))
    assert says(root)[0].startswith(prompts.text("ticket_number"))
    ticket = _ticket(sessions)
    assert ticket.status != Status.CLOSED.value and ticket.reply_text is None
    assert ticket.demand == QUESTION and _events(sessions, "answer") == []


def test_answer_offered_once_and_re_recording_reads_back(
        make_twilio: Any, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
        sessions: sessionmaker[Session], faq: None) -> None:
    """2 after the answer, 2 at the read-back, the same question again: read back, not
    answered a second time (the caller asked for a ticket)."""
    twilio = make_twilio()
    meant["text"] = QUESTION
    call, _, root = _speak(twilio, standin, recording_wav)
    _answer_read(sessions, root)
    twiml(twilio.post("/twilio/answer", call_form(call, Digits="2")))
    twiml(twilio.post("/twilio/confirm", call_form(call, Digits="2")))
    _, resp = _recorded(twilio, standin, recording_wav, call)
    root = twiml(resp)
    assert _action(root[0]) == ("/twilio/confirm", "")


def test_complaint_sharing_words_with_an_entry_is_read_back(
        make_twilio: Any, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
        sessions: sessionmaker[Session], faq: None) -> None:
    twilio = make_twilio()
    meant["text"] = WATER
    call, _, root = _speak(twilio, standin, recording_wav)
    assert _action(root[0]) == ("/twilio/confirm", "")
    assert says(root)[0].startswith("您反映的是")
    # A key for an answer nobody was read means nothing: the read-back again, no 直接答复.
    root = twiml(twilio.post("/twilio/answer", call_form(call, Digits="1")))
    assert _action(root[0]) == ("/twilio/confirm", "")
    assert count(sessions, Ticket) == 0


# ------------------------------------------------------------------------- 保密 / 不要回访
def _to_preferences(twilio: Twilio, standin: StandIn, wav: bytes, **form: str) -> str:
    call, _, root = _speak(twilio, standin, wav, **form)
    assert _action(root[0]) == ("/twilio/confirm", "")
    root = twiml(twilio.post("/twilio/confirm", call_form(call, Digits="1", **form)))
    assert verbs(root) == ["Gather", "Redirect"]
    gather = root[0]
    assert gather.get("finishOnKey") == "#" and _action(gather) == ("/twilio/preferences", "")
    assert says(gather) == [prompts.text("preferences")]
    return call


def test_both_preferences_are_kept_and_said_back(
        twilio: Twilio, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session], city: City) -> None:
    call = _to_preferences(twilio, standin, recording_wav)
    root = twiml(twilio.post("/twilio/preferences", call_form(call, Digits="2*19")))
    spoken = says(root)
    # Keys other than 1/2 are ignored; the choices are said back, then the ticket.
    assert spoken[0] == prompts.text("preference_confidential") + prompts.text(
        "preference_no_contact")
    assert spoken[1].startswith(prompts.text("ticket_number"))
    ticket = _ticket(sessions)
    assert ticket.confidential and ticket.no_contact
    (event,) = _events(sessions, "citizen_preferences")
    assert event.data == {"confidential": True, "no_contact": True, "via": "ivr_keypad"}


def test_no_callback_wanted_is_not_asked_for_a_number(
        twilio: Twilio, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session], city: City) -> None:
    form = {"From": "anonymous"}
    call = _to_preferences(twilio, standin, recording_wav, **form)
    root = twiml(twilio.post("/twilio/preferences", call_form(call, Digits="2", **form)))
    spoken = says(root)
    assert spoken[0] == prompts.text("preference_no_contact")
    assert spoken[1].startswith(prompts.text("ticket_number"))
    assert prompts.text("ask_callback_number") not in spoken
    ticket = _ticket(sessions)
    assert ticket.no_contact and not ticket.confidential and ticket.caller_phone is None


def test_confidential_then_zero_reaches_the_operator(
        make_twilio: Any, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session], city: City) -> None:
    twilio = make_twilio(sip={"operator_uri": "sip:duty@10.0.0.5"})
    call = _to_preferences(twilio, standin, recording_wav)
    root = twiml(twilio.post("/twilio/preferences", call_form(call, Digits="10")))
    assert says(root) == [prompts.text("transfer")]
    (dial,) = root.iter("Dial")
    assert _action(dial) == ("/twilio/dialed", "")
    # What was said is filed before the transfer, with the choice made before the 0.
    assert _ticket(sessions).confidential


# ------------------------------------------------------------------------- bad input
def _silent_wav(seconds: float = 2.0) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * int(8000 * seconds))
    return buf.getvalue()


def test_no_speech_result_is_neither_answered_nor_handed_over(
        twilio: Twilio, standin: StandIn, meant: dict[str, str],
        sessions: sessionmaker[Session], faq: None) -> None:
    meant["text"] = FIRE  # would be an emergency, were anything heard
    _, _, root = _speak(twilio, standin, _silent_wav())
    spoken = says(root)
    assert spoken[0].startswith(prompts.text("ticket_number"))  # kept for the backlog
    assert "Dial" not in verbs(root) and "Gather" not in verbs(root)
    ticket = _ticket(sessions)
    assert ticket.emergency == "none" and _events(sessions, "emergency_handover") == []


def test_keys_before_anything_was_said_file_nothing(
        twilio: Twilio, sessions: sessionmaker[Session]) -> None:
    call = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    for path in ("/twilio/answer", "/twilio/preferences"):
        root = twiml(twilio.post(path, call_form(call, Digits="1")))
        assert "Record" in verbs(root), path  # asked to speak
    assert count(sessions, Ticket) == 0


def test_unknown_call_and_forged_emergency_parameter(
        make_twilio: Any, sessions: sessionmaker[Session]) -> None:
    twilio = make_twilio(sip={"operator_uri": "sip:duty@10.0.0.5"})
    for path in ("/twilio/answer", "/twilio/preferences"):
        root = twiml(twilio.post(path, call_form(new_sid("CA"), Digits="1")))
        assert says(root) == [prompts.speakable(
            "抱歉，系统没有找到您的通话信息，请您重新拨打12345。再见。")]
    # A service number that is none of 110/119/120 is no hand-over: the operator's dial.
    call = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    root = twiml(twilio.post("/twilio/dialed", call_form(call, DialCallStatus="no-answer"),
                             query="emergency=999"))
    assert says(root) == [prompts.text("operator_unavailable")]


@pytest.mark.parametrize("path,query", [("/twilio/answer", ""), ("/twilio/preferences", ""),
                                        ("/twilio/dialed", "emergency=119")])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the signature's gate
def test_forged_signature_is_refused_and_changes_nothing(
        path: str, query: str, twilio: Twilio, standin: StandIn, recording_wav: bytes,
        meant: dict[str, str], sessions: sessionmaker[Session], faq: None) -> None:
    meant["text"] = QUESTION
    call, _, _ = _speak(twilio, standin, recording_wav)
    form = call_form(call, Digits="1", DialCallStatus="completed")
    for signature in (None, "bm90IGEgc2lnbmF0dXJl"):
        resp = twilio.post(path, form, signature=signature, query=query)
        assert resp.status_code == 403
    # Signed for the URL without the query: the query is part of what Twilio signs.
    if query:
        forged = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC_BASE + path, form)
        assert twilio.post(path, form, signature=forged, query=query).status_code == 403
    assert count(sessions, Ticket) == 0
    answer_written(call)
    with sessions() as s:
        record = s.scalars(select(CallRecord).where(CallRecord.call_id == call)).one()
        assert record.ended_at is None and record.outcome == CallOutcome.IN_PROGRESS



@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the trail's order
def test_the_hand_over_result_is_kept_when_the_call_status_comes_first(
        make_twilio: Any, standin: StandIn, recording_wav: bytes, meant: dict[str, str],
        sessions: sessionmaker[Session], city: City) -> None:
    """review126: Twilio gives no order between the call-status callback and the Dial's
    action. The status first settled the call, and the action then found it settled and
    dropped how the hand-over ended; the action sent again adds nothing."""
    twilio = make_twilio(sip={"operator_uri": "sip:duty@10.0.0.5"}, ivr=LINE_119)
    meant["text"] = FIRE
    call, _, root = _speak(twilio, standin, recording_wav)
    (dial,) = root.iter("Dial")
    path, query = _action(dial)
    twiml(twilio.post("/twilio/status", call_form(call, CallStatus="completed")))
    for _ in range(2):  # the action, then the same action sent again
        twiml(twilio.post(path, call_form(call, DialCallStatus="no-answer"), query=query))
    trail = [(e.action, e.note) for e in sorted(
        _events(sessions, "emergency_handover") + _events(sessions, "emergency_handover_result"),
        key=lambda e: e.id)]
    assert trail == [("emergency_handover", "发起转接119"),
                     ("emergency_handover_result", "未接通119：无人应答，已告知来电人直接拨打119")]
    assert _outcome(sessions, call) == CallOutcome.TICKET
