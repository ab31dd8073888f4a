"""Key 2 at the read-back over Twilio, as on SIP (ivr.decisions.rerecord): the complaint
is said again MAX_RERECORDS times, the next 2 puts the caller through to the operator
with the complaint already filed, instead of a Record verb for as long as 2 is pressed.
The app, a Twilio stand-in for the recordings and the real Vosk test model, on SQLite and
PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts
from ivr.decisions import MAX_RERECORDS
from tests.twilio.helpers import StandIn, call_form, new_sid, says, twiml, verbs
from tests.twilio.test_twilio_flow import _record_params, _start_and_record, _ticket


@pytest.mark.usefixtures("decode_once")  # about the call, not the decoding
def test_a_third_2_at_the_read_back_reaches_the_operator(
        make_twilio: Any, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    twilio = make_twilio(sip={"operator_uri": "sip:operator@10.0.0.5"})
    call, _, resp = _start_and_record(twilio, standin, recording_wav)
    twiml(resp)
    for _ in range(MAX_RERECORDS):
        root = twiml(twilio.post("/twilio/confirm", call_form(call, Digits="2")))
        assert says(root)[0] == prompts.speakable(prompts.text("rerecord"))
        rec = new_sid("RE")
        url = standin.add_recording(call, rec, recording_wav)
        twiml(twilio.post("/twilio/recorded", _record_params(call, rec, url)))
    root = twiml(twilio.post("/twilio/confirm", call_form(call, Digits="2")))
    assert "Record" not in verbs(root) and verbs(root)[-1] == "Dial"
    assert says(root) == [prompts.text("transfer")]
    assert _ticket(sessions).recording_path.endswith(f"{rec}.wav")  # the last one said


@pytest.mark.usefixtures("decode_once")
def test_a_second_wrong_key_at_the_read_back_files_the_complaint(
        make_twilio: Any, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    """As on SIP (ivr.decisions.confirm_again): asked once more, then filed as it is,
    instead of the question again for as long as a line keys garbage."""
    twilio = make_twilio()
    call, _, resp = _start_and_record(twilio, standin, recording_wav)
    twiml(resp)
    root = twiml(twilio.post("/twilio/confirm", call_form(call, Digits="*")))
    assert prompts.text("confirm_again") in says(root)
    root = twiml(twilio.post("/twilio/confirm", call_form(call, Digits="A")))
    ticket = _ticket(sessions)
    assert says(root)[0] == prompts.text("ticket_number") + prompts.digits_text(ticket.number) + "。"
