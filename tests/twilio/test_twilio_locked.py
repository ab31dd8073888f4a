"""A Twilio call answered while another process holds SQLite's write lock (SQLite's busy
wait is 30 s, Twilio's webhook timeout 15 s): the answer must not wait on the database,
and nothing the call gave is lost once the lock goes. In-process webhooks (TestClient), a
real SQLite file locked by a second connection."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts
from ivr.callrecords import CallOutcome, CallRecord
from ivr.intake import Spool
from tests.twilio.helpers import (
    CALLER,
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
from ticketing.models import Ticket


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: SQLite's write lock
@pytest.mark.usefixtures("decode_once")  # about the call, not the decoding
def test_answer_with_the_database_locked_greets_and_keeps_the_call(
        twilio: Twilio, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    """Before, the answer's own reads (is this CallSid a settled call's?) and its call
    record took the write lock: the webhook waited out the busy time and answered with the
    apology and a hang-up, the caller never heard the greeting."""
    call, rec = new_sid("CA"), new_sid("RE")
    holder = sqlite3.connect(twilio.settings.database_url.removeprefix("sqlite:///"),
                             isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        root = twiml(twilio.post("/twilio/voice", call_form(call)))
        # The greeting and the recording turn, while the lock is still held.
        assert verbs(root) == ["Gather", "Record", "Redirect"]
        assert says(root[0]) == [prompts.speakable(prompts.text("greeting"))]
        # Meanwhile the spool has the caller (nothing is in the database yet).
        spool = Spool(twilio.settings.data_dir / "spool" / "calls")
        journal = json.loads(spool.path(call).read_text(encoding="utf-8"))
        assert journal["caller"] == CALLER and journal["answered_at"]
    finally:
        holder.execute("COMMIT")
        holder.close()

    # The lock gone, the call record written aside reaches the database, still live.
    answer_written(call)
    with sessions() as s:
        record = s.scalars(select(CallRecord).where(CallRecord.call_id == call)).one()
        assert record.caller == CALLER and record.answered_at is not None
        assert record.outcome == CallOutcome.IN_PROGRESS

    # The call goes on as any other: one ticket, the one record pointing at it.
    url = standin.add_recording(call, rec, recording_wav)
    twiml(twilio.post("/twilio/recorded", call_form(
        call, RecordingSid=rec, RecordingUrl=url, RecordingDuration="3", Digits="#")))
    twiml(twilio.post("/twilio/confirm", call_form(call, Digits="1")))
    twiml(twilio.post("/twilio/preferences", call_form(call, Digits="")))
    twiml(twilio.post("/twilio/status", call_form(call, CallStatus="completed")))
    assert count(sessions, Ticket) == 1 and count(sessions, CallRecord) == 1
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        record = s.scalars(select(CallRecord)).one()
        assert ticket.caller_phone == CALLER and ticket.call_id == call
        assert ticket.recording_sha256 and ticket.transcript
        assert record.ticket_id == ticket.id and record.outcome == CallOutcome.TICKET
