"""A fax machine's tones recorded on the Twilio carrier with no speech model (the shipped
state): no ticket, the call counted NO_SPEECH, its recording kept, as on the SIP line
(loose28; tests/ivr/test_dialogue_no_speech.py). Speech is still a ticket there
(``test_twilio_flow.py::test_no_time_or_no_model_still_reads_the_number``)."""

from __future__ import annotations

import io
import wave
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from ivr.callrecords import CallOutcome
from tests.ivr.test_dialogue_no_speech import fax_ced, fax_cng
from tests.twilio.helpers import StandIn, count, twiml, verbs
from tests.twilio.test_twilio_flow import _call_record, _start_and_record
from ticketing.models import Ticket


def _wav(pcm16: bytes) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(pcm16)
    return out.getvalue()


def test_a_fax_recorded_on_twilio_is_no_ticket(make_twilio: Any, standin: StandIn,
                                              sessions: sessionmaker[Session]) -> None:
    twilio = make_twilio(engine=False)
    for sound in (fax_cng(8), fax_ced(4)):
        call, _, resp = _start_and_record(twilio, standin, _wav(sound))
        assert verbs(twiml(resp)) == ["Hangup"]
        record = _call_record(sessions, call)
        assert record.outcome == CallOutcome.NO_SPEECH and record.ticket_id is None
        assert Path(record.recording_path or "").is_file()
    assert count(sessions, Ticket) == 0
