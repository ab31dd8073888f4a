"""Twilio's callers at our stop (loose30): from the signal on (``hotline.serving``) each
webhook of a call in a dialogue ends it with the SIP IVR's notice, the words filed and
marked 服务停止 (``TwilioDialogue.stop_notice``). Real app, signed webhooks, the local
stand-in for Twilio's API (not Twilio); the stop is set as the signal's drain sets it. The
real process with SIGTERM: tests/twilio/test_serve_stop.py."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts
from ivr.callrecords import CallOutcome, CallRecord
from ivr.twilio.views import CALLS_REFUSED, dialogue_of
from tests.ivr.test_emergency_decline import NOISE, ReadsPolice
from tests.support.city import City
from tests.twilio.helpers import StandIn, Twilio, call_form, new_sid, says, twiml, verbs
from tests.twilio.test_twilio_decline import _asked, meant  # noqa: F401 (a fixture)
from tests.twilio.test_twilio_flow import _record_params
from tests.twilio.test_twilio_parity import FIRE, _recorded
from ticketing.models import Ticket, TicketEvent

pytestmark = pytest.mark.usefixtures("decode_once")


def _stop(twilio: Twilio) -> None:
    dialogue_of(twilio.client.app.state).stopping.set()  # type: ignore[attr-defined]


def _said(resp: Any) -> list[str]:
    root = twiml(resp)
    assert verbs(root)[-1] == "Hangup"
    return says(root)


def test_a_caller_at_the_read_back_is_told_their_words_are_kept(
        twilio: Twilio, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session], city: City) -> None:
    call, rec = new_sid("CA"), new_sid("RE")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    url = standin.add_recording(call, rec, recording_wav)
    twiml(twilio.post("/twilio/recorded", _record_params(call, rec, url)))  # the read-back
    _stop(twilio)
    assert _said(twilio.post("/twilio/confirm", call_form(call, Digits="1"))) == [
        prompts.speakable(prompts.text("stopping_kept"))]
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        record = s.scalars(select(CallRecord)).one()
        cut = s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id,
            TicketEvent.action == "call_interrupted")).one()
    assert cut.data["stopped"] is True
    assert record.outcome == CallOutcome.TICKET and record.ended_at is not None
    # Twilio's status callback after it: nothing filed twice.
    twilio.post("/twilio/status", call_form(call, CallStatus="completed"))
    with sessions() as s:
        assert len(s.scalars(select(Ticket)).all()) == 1


def test_a_caller_who_said_nothing_hears_the_service_stops(
        twilio: Twilio, sessions: sessionmaker[Session]) -> None:
    call = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    _stop(twilio)
    assert _said(twilio.post("/twilio/menu", call_form(call, Digits="5"))) == [
        prompts.speakable(prompts.text("stopping"))]
    with sessions() as s:
        assert s.scalars(select(Ticket)).all() == []
        assert s.scalars(select(CallRecord)).one().ended_at is not None


def _handovers(sessions: sessionmaker[Session]) -> list[dict[str, str]]:
    with sessions() as s:
        return [e.data for e in s.scalars(select(TicketEvent).where(
            TicketEvent.action == "emergency_handover"))]


def _answered_at_stop(twilio: Twilio, standin: StandIn, wav: bytes, meant: dict[str, str],  # noqa: F811
                      **keys: str) -> Any:
    """The hand-over asked before our stop, its answer (``keys``) once it began."""
    call, _ = _asked(twilio, standin, wav, meant)
    _stop(twilio)
    return twilio.post("/twilio/emergency", call_form(call, **keys))


def _recorded_at_stop(twilio: Twilio, standin: StandIn, wav: bytes) -> Any:
    """A call's recording whose webhook arrives once our stop began."""
    call = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    _stop(twilio)
    return _recorded(twilio, standin, wav, call)[1]


def test_a_caller_asked_about_the_hand_over_before_the_stop_is_put_through(
        make_twilio: Any, standin: StandIn, recording_wav: bytes,
        meant: dict[str, str],  # noqa: F811
        sessions: sessionmaker[Session], city: City) -> None:
    """mend74: the answer to the question asked before the stop is taken at the stop too:
    no key puts the caller through (Twilio runs the <Dial>, needing nothing of this
    process). Before, the answer was dropped and the caller told to dial 110."""
    twilio = make_twilio(sip={"operator_uri": "sip:duty@10.0.0.5"})
    root = twiml(_answered_at_stop(twilio, standin, recording_wav, meant))
    assert verbs(root) == ["Say", "Dial"]
    assert _handovers(sessions) == [{"service": "110", "target": "operator"}]


def test_a_caller_asked_about_the_hand_over_with_nobody_to_take_it_is_told_to_dial_it(
        twilio: Twilio, standin: StandIn, recording_wav: bytes, meant: dict[str, str],  # noqa: F811
        sessions: sessionmaker[Session], city: City) -> None:
    assert _said(_answered_at_stop(twilio, standin, recording_wav, meant)) == [
        prompts.speakable(prompts.text("emergency_failed_110"))]
    assert _handovers(sessions) == [{"service": "110", "target": "none"}]


def test_a_caller_declining_the_hand_over_at_the_stop_is_told_their_words_are_kept(
        twilio: Twilio, standin: StandIn, recording_wav: bytes, meant: dict[str, str],  # noqa: F811
        sessions: sessionmaker[Session], city: City) -> None:
    assert _said(_answered_at_stop(twilio, standin, recording_wav, meant, Digits="2")) == [
        prompts.speakable(prompts.text("stopping_kept"))]
    assert _handovers(sessions) == []
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.urgency == "urgent"  # declined: urgent, never handed over


def test_the_hand_over_question_is_not_asked_at_the_stop(
        twilio: Twilio, standin: StandIn, recording_wav: bytes, meant: dict[str, str],  # noqa: F811
        sessions: sessionmaker[Session], city: City) -> None:
    """A recording the model alone reads as 110's, arriving once the stop began: no
    question (its answer needs a webhook the stop may not take), as on SIP: "请挂机后直接
    拨打110" and the hand-over journaled as cut ("stopped")."""
    twilio.client.app.state.domain.model = ReadsPolice()  # type: ignore[attr-defined]
    meant["text"] = NOISE
    resp = _recorded_at_stop(twilio, standin, recording_wav)
    assert _said(resp) == [prompts.speakable(prompts.text("emergency_failed_110"))]
    assert _handovers(sessions) == [{"service": "110", "target": "stopped"}]


def test_a_fire_reported_during_the_stop_is_handed_over(
        make_twilio: Any, standin: StandIn, recording_wav: bytes,
        meant: dict[str, str],  # noqa: F811
        sessions: sessionmaker[Session], city: City) -> None:
    """mend74 (review75): the words were filed unread and the caller heard "您的诉求已记录…
    稍后再拨12345": no <Dial>, no hand-over event. Now understood first: the <Dial> (Twilio
    runs it whatever our process does), the urgent ticket and its event committed first."""
    twilio = make_twilio(sip={"operator_uri": "sip:duty@10.0.0.5"})
    meant["text"] = FIRE
    resp = _recorded_at_stop(twilio, standin, recording_wav)
    root = twiml(resp)
    assert verbs(root) == ["Say", "Dial"]
    assert says(root) == [prompts.speakable(prompts.text("emergency_transfer_119"))]
    assert _handovers(sessions) == [{"service": "119", "target": "operator"}]
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
    assert ticket.emergency == "119" and ticket.urgency == "urgent"


def test_a_fire_reported_during_the_stop_with_nobody_to_take_it(
        twilio: Twilio, standin: StandIn, recording_wav: bytes,
        meant: dict[str, str],  # noqa: F811
        sessions: sessionmaker[Session], city: City) -> None:
    meant["text"] = FIRE
    resp = _recorded_at_stop(twilio, standin, recording_wav)
    assert _said(resp) == [prompts.speakable(prompts.text("emergency_failed_119"))]
    assert _handovers(sessions) == [{"service": "119", "target": "none"}]


def test_a_new_call_at_the_stop_gets_a_503_and_leaves_a_trace(
        twilio: Twilio, sessions: sessionmaker[Session],
        caplog: pytest.LogCaptureFixture) -> None:
    """mend74 (review75): a new call heard "服务即将暂停" with a 200, so a Fallback URL
    pointed at another node was never used, and nothing here said a caller was lost."""
    before = CALLS_REFUSED.labels(reason="stopping")._value.get()
    _stop(twilio)
    resp = twilio.post("/twilio/voice", call_form(new_sid("CA"), From="+8613900139000"))
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "30"
    assert CALLS_REFUSED.labels(reason="stopping")._value.get() == before + 1
    assert "from 139****9000 refused: our stop has begun" in caplog.text
    with sessions() as s:
        assert s.scalars(select(CallRecord)).all() == []
    # Unsigned: refused as ever (403), not counted.
    forged = twilio.post("/twilio/voice", call_form(new_sid("CA")), signature=None)
    assert forged.status_code == 403
    assert CALLS_REFUSED.labels(reason="stopping")._value.get() == before + 1
