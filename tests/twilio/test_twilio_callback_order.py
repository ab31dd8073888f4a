"""A caller who hangs up mid-<Record>: Twilio's three callbacks of that recording -- the
<Record> action (posted only when the recording ended on the line, not always on a
hang-up), the recording status callback and the final call status -- come in no order
Twilio guarantees, and any of them may be sent again. Whatever the order, the complaint
is one ticket with the recording, downloaded once (review83: the recording first and then
the status, no action, closed the call ``abandoned`` with the recording on disk and no
ticket). Signed webhooks, the local stand-in for Twilio's API."""

from __future__ import annotations

import hashlib
import itertools
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr.callrecords import CallOutcome, CallRecord
from ivr.intake import RECORDING_NOT_FETCHED_NOTE, Spool
from tests.twilio.helpers import (
    ACCOUNT_SID,
    StandIn,
    Twilio,
    call_form,
    count,
    new_sid,
    twiml,
)
from tests.twilio.test_twilio_stop_journal import _restarted
from ticketing.models import Ticket
from ticketing.service import TRANSCRIPT_PENDING

# The callbacks of one recording, by name: what each posts.
_ACTION, _RECORDING, _STATUS = "action", "recording", "status"
_ORDERS = ([list(p) for p in itertools.permutations((_RECORDING, _STATUS))]
           + [list(p) for p in itertools.permutations((_ACTION, _RECORDING, _STATUS))])


def _post(twilio: Twilio, what: str, call: str, rec: str, url: str, *,
          fetched: bool = True) -> None:
    """One callback, as Twilio posts it. ``fetched`` False: the recording status callback
    cannot download the recording, and answers 503 (mend89) where the others answer 200."""
    if what == _ACTION:
        twiml(twilio.post("/twilio/recorded", call_form(
            call, RecordingSid=rec, RecordingUrl=url, RecordingDuration="3", Digits="hangup")))
    elif what == _RECORDING:  # recordingStatusCallback carries no From
        resp = twilio.post("/twilio/recording-status", {
            "AccountSid": ACCOUNT_SID, "CallSid": call, "RecordingSid": rec,
            "RecordingUrl": url, "RecordingStatus": "completed", "RecordingDuration": "3",
            "RecordingChannels": "1", "RecordingSource": "RecordVerb"})
        if fetched:
            twiml(resp)
        else:
            assert resp.status_code == 503, resp.text
    else:
        twiml(twilio.post("/twilio/status", call_form(call, CallStatus="completed")))


@pytest.mark.usefixtures("decode_once")  # about the call, not the decoding
@pytest.mark.parametrize("retried", [False, True], ids=["once", "each-twice"])
@pytest.mark.parametrize("order", _ORDERS, ids=["-".join(o) for o in _ORDERS])
def test_hang_up_mid_recording_is_one_ticket_whatever_the_order(
        twilio: Twilio, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session], order: list[str], retried: bool) -> None:
    call, rec = new_sid("CA"), new_sid("RE")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    url = standin.add_recording(call, rec, recording_wav)
    for what in order:
        for _ in range(2 if retried else 1):
            _post(twilio, what, call, rec, url)

    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        record = s.scalars(select(CallRecord).where(CallRecord.call_id == call)).one()
    assert count(sessions, Ticket) == 1
    assert ticket.call_id == call and ticket.transcript
    assert ticket.recording_sha256 == hashlib.sha256(recording_wav).hexdigest()
    assert record.outcome == CallOutcome.TICKET and record.ticket_id == ticket.id
    assert record.ended_at is not None
    assert len(standin.downloads) == 1  # the file taken once, whoever came first
    assert not Spool(twilio.settings.data_dir / "spool" / "calls").path(call).exists()


@pytest.mark.usefixtures("decode_once")
def test_recording_first_not_downloadable_then_status_keeps_the_complaint(
        twilio: Twilio, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    """The recording callback could not download (the API failing), the caller had hung
    up, no action: the status still files the ticket, the recording's URL on the call
    record (``RECORDING_NOT_FETCHED_NOTE``), and the callback sent again fills it in."""
    call, rec = new_sid("CA"), new_sid("RE")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    url = standin.add_recording(call, rec, recording_wav)
    standin.fail_status = 500
    _post(twilio, _RECORDING, call, rec, url, fetched=False)
    _post(twilio, _STATUS, call, rec, url)

    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        record = s.scalars(select(CallRecord).where(CallRecord.call_id == call)).one()
    assert ticket.demand == TRANSCRIPT_PENDING and ticket.recording_sha256 is None
    assert record.outcome == CallOutcome.TICKET and record.ticket_id == ticket.id
    assert record.note == RECORDING_NOT_FETCHED_NOTE + url

    standin.fail_status = None
    _post(twilio, _RECORDING, call, rec, url)
    sha = hashlib.sha256(recording_wav).hexdigest()
    with sessions() as s:
        assert s.scalars(select(Ticket)).one().recording_sha256 == sha
        assert s.scalars(select(CallRecord)).one().note is None
    assert count(sessions, Ticket) == 1


# A callback that cannot download the recording (False: answered 503) and is sent again,
# the status among them; "restart": the next start, Twilio's API failing for its look.
_RESTART = "restart"
_SENT_AGAIN = {
    "status-first": [(_STATUS, True), (_RECORDING, False), (_RECORDING, False),
                     (_RECORDING, True)],
    "recording-first": [(_RECORDING, False), (_RECORDING, False), (_STATUS, True),
                        (_RECORDING, True)],
    "action-first": [(_ACTION, False), (_RECORDING, False), (_STATUS, True),
                     (_RECORDING, True)],
    "restart-before-status": [(_RECORDING, False), (_RESTART, False), (_STATUS, True),
                              (_RECORDING, True)],
    "restart-after-status": [(_STATUS, True), (_RECORDING, False), (_RESTART, False),
                             (_RECORDING, True)],
}


@pytest.mark.usefixtures("decode_once")
@pytest.mark.parametrize("script", list(_SENT_AGAIN))
def test_a_recording_not_downloaded_and_sent_again_is_one_ticket(
        twilio: Twilio, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session], script: str) -> None:
    """The caller's only recording: its recording status callback cannot download it and
    is answered 503 (mend89), Twilio sends it again, failing again, before or after the
    status filed the ticket, or across a restart whose look at Twilio cannot download it
    either. Once it downloads, the complaint is one ticket with the recording, the URL's
    note gone (review92: the 503's retries checked for a second ticket)."""
    call, rec = new_sid("CA"), new_sid("RE")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    url = standin.add_recording(call, rec, recording_wav)
    for what, fetched in _SENT_AGAIN[script]:
        standin.fail_status = None if fetched else 500
        if what == _RESTART:
            standin.calls[call] = "completed"
            standin.call_recordings[call] = [rec]
            twilio = _restarted(make_twilio)
        elif what == _ACTION:  # heard as a recording not downloaded: filed, the URL kept
            twiml(twilio.post("/twilio/recorded", call_form(
                call, RecordingSid=rec, RecordingUrl=url, RecordingDuration="3",
                Digits="hangup")))
        else:
            _post(twilio, what, call, rec, url, fetched=fetched or what != _RECORDING)
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        record = s.scalars(select(CallRecord).where(CallRecord.call_id == call)).one()
    assert ticket.recording_sha256 == hashlib.sha256(recording_wav).hexdigest()
    assert record.note is None and record.ticket_id == ticket.id
    assert record.recording_sha256 == ticket.recording_sha256
