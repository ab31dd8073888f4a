"""The Twilio side at our stop (twilio36): a journal entry of a call long gone does not hold
the drain, a live call still does; a caller mid-``<Record>`` keeps their complaint whether
the recording's callback comes during the drain or is lost with the process (the next
start asks Twilio, ``TwilioDialogue.reconcile``), one ticket either way. Real app, signed
webhooks, the local stand-in for Twilio's API (not Twilio)."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts
from ivr.callrecords import CallRecord
from ivr.intake import RECORDING_NOT_FETCHED_NOTE, CallJournal
from ivr.twilio import call_flow
from ivr.twilio.call_flow import TwilioDialogue, gone_after_seconds
from ivr.twilio.views import dialogue_of
from tests.twilio.helpers import StandIn, Twilio, call_form, new_sid, says, twiml, verbs
from tests.twilio.test_twilio_flow import _record_params, _recording_status
from ticketing.models import Ticket, utcnow

pytestmark = pytest.mark.usefixtures("decode_once")

# Bounds on waiting for the drain's thread, never what is asserted: the drain returns on
# its own, or is still waiting for the call that holds it.
_RETURNS_WITHIN = 30.0
_STILL_WAITING_AFTER = 1.0


def _dialogue(twilio: Twilio) -> TwilioDialogue:
    return dialogue_of(twilio.client.app.state)  # type: ignore[attr-defined]


def _draining(dialogue: TwilioDialogue) -> threading.Thread:
    """The stop's Twilio part as ``hotline.serving`` runs it, its deadline out of reach
    (the drain's clock is the tests' CPU time, ``budget_on_cpu_time``): it returns only
    when no call holds it."""
    dialogue.stopping.set()
    deadline = call_flow.time.monotonic() + 3600
    thread = threading.Thread(target=dialogue.drain, args=(deadline,), daemon=True)
    thread.start()
    return thread


def _held_until_its_final_status(twilio: Twilio, dialogue: TwilioDialogue, sid: str) -> None:
    """The stop's drain waits while the call ``sid`` is live and returns once Twilio's
    final status of it comes."""
    drain = _draining(dialogue)
    drain.join(_STILL_WAITING_AFTER)
    assert drain.is_alive()
    twilio.post("/twilio/status", call_form(sid, CallStatus="completed"))
    drain.join(_RETURNS_WITHIN)
    assert not drain.is_alive()


def _gone_entry(dialogue: TwilioDialogue, twilio: Twilio) -> str:
    """A Twilio call in a dialogue as a process that died long ago left it: arrived and
    last written before ``gone_after_seconds``, and no webhook since."""
    sid = new_sid("CA")
    then = utcnow() - timedelta(seconds=gone_after_seconds(twilio.settings) + 60)
    spool = dialogue.calls.spool
    spool.write(CallJournal(call_id=sid, caller="+8613800138000", carrier="twilio",
                            arrived_at=then.isoformat(), answered_at=then.isoformat()))
    os.utime(spool.path(sid), (then.timestamp(), then.timestamp()))
    return sid


def test_a_journal_entry_of_a_call_long_gone_does_not_hold_the_drain(twilio: Twilio) -> None:
    dialogue = _dialogue(twilio)
    gone = _gone_entry(dialogue, twilio)
    drain = _draining(dialogue)
    drain.join(_RETURNS_WITHIN)
    assert not drain.is_alive()
    # Not settled by the drain: that is recovery's (its 15 minutes, or Twilio's word).
    assert dialogue.calls.spool.path(gone).exists()


def test_a_live_call_still_holds_the_drain_beside_a_gone_one(
        twilio: Twilio, sessions: sessionmaker[Session]) -> None:
    dialogue = _dialogue(twilio)
    _gone_entry(dialogue, twilio)
    live = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(live)))
    _held_until_its_final_status(twilio, dialogue, live)


def test_a_webhook_heard_is_a_sign_of_life_though_the_journal_is_old(twilio: Twilio) -> None:
    """Not every webhook writes the journal (a key that changes nothing): the webhook
    itself keeps the call live for the drain."""
    dialogue = _dialogue(twilio)
    sid = _gone_entry(dialogue, twilio)
    dialogue.heard(sid)
    _held_until_its_final_status(twilio, dialogue, sid)


def test_the_gone_rule_follows_the_calls_own_timers(make_twilio: Any) -> None:
    """A longer ``<Record>`` is a longer step: an entry is gone only after it."""
    short = make_twilio(sip={"max_record_seconds": 60}).settings
    long = make_twilio(sip={"max_record_seconds": 600}).settings
    assert gone_after_seconds(long) - gone_after_seconds(short) == 2 * (600 - 60)


# ------------------------------------------------------------- a caller mid-<Record> at stop
def _wav_downloads(standin: StandIn) -> list[dict[str, Any]]:
    return [r for r in standin.downloads if r["path"].endswith(".wav")]


def _tickets(sessions: sessionmaker[Session]) -> list[Ticket]:
    with sessions() as s:
        return list(s.scalars(select(Ticket)))


def test_a_recording_that_ends_during_the_drain_is_filed_once(
        twilio: Twilio, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    """Speaking when the stop came: the <Record> holds the drain (the call is live), its
    action is taken with the listener still up, the ticket filed and the caller told their
    words are kept; Twilio's recording status and final status after it file nothing more."""
    dialogue = _dialogue(twilio)
    call, rec = new_sid("CA"), new_sid("RE")
    twiml(twilio.post("/twilio/voice", call_form(call)))  # the <Record> is running
    drain = _draining(dialogue)
    drain.join(_STILL_WAITING_AFTER)
    assert drain.is_alive()
    url = standin.add_recording(call, rec, recording_wav)
    root = twiml(twilio.post("/twilio/recorded", _record_params(call, rec, url)))
    assert verbs(root)[-1] == "Hangup"
    assert says(root)[-1] == prompts.speakable(prompts.text("stopping_kept"))
    drain.join(_RETURNS_WITHIN)
    assert not drain.is_alive()
    twilio.post("/twilio/recording-status", _recording_status(call, rec, url))
    twilio.post("/twilio/status", call_form(call, CallStatus="completed"))
    [ticket] = _tickets(sessions)
    assert ticket.call_id == call and ticket.recording_sha256
    assert len(_wav_downloads(standin)) == 1


def _lost_with_the_process(twilio: Twilio, standin: StandIn, wav: bytes) -> tuple[str, str,
                                                                                     str]:
    """A caller speaking when the stop came, whose <Record> ended after the listener was
    down: the action and the recording status callback found nobody, Twilio hung up; the
    spool keeps the call as the last answered webhook left it."""
    call, rec = new_sid("CA"), new_sid("RE")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    url = standin.add_recording(call, rec, wav)
    standin.calls[call] = "completed"
    standin.call_recordings[call] = [rec]
    return call, rec, url


def _restarted(make_twilio: Any) -> Twilio:
    """The next start: a new app on the same spool and database, its start's
    reconciliation waited for."""
    again = make_twilio()
    reconciling = _dialogue(again).reconciling
    assert reconciling is not None
    reconciling.join(_RETURNS_WITHIN)
    assert not reconciling.is_alive()
    return again


def test_a_recording_whose_callbacks_were_lost_is_filed_at_the_next_start(
        twilio: Twilio, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    call, rec, url = _lost_with_the_process(twilio, standin, recording_wav)
    again = _restarted(make_twilio)
    [ticket] = _tickets(sessions)
    assert ticket.call_id == call and ticket.recording_sha256 and ticket.transcript
    with sessions() as s:
        record = s.scalars(select(CallRecord).where(CallRecord.call_id == call)).one()
    assert record.ended_at is not None and record.ticket_id == ticket.id
    assert not _dialogue(again).calls.spool.path(call).exists()
    # Twilio's callbacks coming after all (retried): the same one ticket, one download.
    again.post("/twilio/recording-status", _recording_status(call, rec, url))
    again.post("/twilio/recorded", _record_params(call, rec, url))
    assert len(_tickets(sessions)) == 1
    assert len(_wav_downloads(standin)) == 1


def test_a_recording_the_next_start_cannot_download_is_filed_with_its_url(
        twilio: Twilio, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    """The next start's look at Twilio lists the call's recording but cannot download it
    (the media answers 404): the call is still a ticket, its URL on the call record, and
    the recording status callback sent again fetches it. Before (mend89) the failed
    download dropped the recording: the call was closed with no ticket, its URL nowhere."""
    call, rec, url = _lost_with_the_process(twilio, standin, recording_wav)
    wav = standin.recordings.pop(standin.recording_path(rec) + ".wav")
    again = _restarted(make_twilio)
    [ticket] = _tickets(sessions)
    assert ticket.call_id == call and ticket.recording_sha256 is None
    with sessions() as s:
        record = s.scalars(select(CallRecord).where(CallRecord.call_id == call)).one()
    assert record.note == RECORDING_NOT_FETCHED_NOTE + url and record.ticket_id == ticket.id
    assert not _dialogue(again).calls.spool.path(call).exists()
    standin.recordings[standin.recording_path(rec) + ".wav"] = wav
    twiml(again.post("/twilio/recording-status", _recording_status(call, rec, url)))
    [ticket] = _tickets(sessions)
    assert ticket.recording_sha256 and len(_wav_downloads(standin)) == 1


def test_a_callback_taken_first_leaves_the_start_nothing_to_file(
        twilio: Twilio, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    call, rec, url = _lost_with_the_process(twilio, standin, recording_wav)
    # The hang-up's order the flow files from (status, then the recording's callback).
    twilio.post("/twilio/status", call_form(call, CallStatus="completed"))
    twilio.post("/twilio/recording-status", _recording_status(call, rec, url))
    again = _restarted(make_twilio)
    assert _dialogue(again).reconcile() == []
    assert len(_tickets(sessions)) == 1
    assert len(_wav_downloads(standin)) == 1


def test_a_call_twilio_says_is_up_is_left_to_its_webhooks(
        twilio: Twilio, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    call, rec, url = _lost_with_the_process(twilio, standin, recording_wav)
    standin.calls[call] = "in-progress"
    again = _restarted(make_twilio)
    assert _tickets(sessions) == []
    assert _dialogue(again).calls.spool.path(call).exists()
    # Its action comes to the new process, the dialogue goes on (the read-back); the
    # hang-up files the one ticket, a later start's look finds nothing to do.
    twiml(again.post("/twilio/recorded", _record_params(call, rec, url)))
    again.post("/twilio/status", call_form(call, CallStatus="completed"))
    assert _dialogue(again).reconcile() == []
    assert len(_tickets(sessions)) == 1


def test_a_call_the_api_says_nothing_of_is_left_to_recovery(
        twilio: Twilio, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session]) -> None:
    call, _rec, _url = _lost_with_the_process(twilio, standin, recording_wav)
    standin.fail_status = 500
    again = _restarted(make_twilio)
    assert _tickets(sessions) == []
    assert _dialogue(again).calls.spool.path(call).exists()


@pytest.mark.usefixtures("decode_once")
def test_one_call_failing_at_the_start_leaves_the_others_settled(
        twilio: Twilio, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch) -> None:
    """``reconcile`` settles each call on its own: one whose settling raises (its database
    write) is logged and left to recovery, the next one is still filed (review83: one
    exception ended the whole look, every later call left to the 15 minutes)."""
    calls = [_lost_with_the_process(twilio, standin, recording_wav)[0] for _ in range(2)]
    for call in calls:
        standin.calls[call] = "in-progress"  # the start's own look settles nothing
    again = _restarted(make_twilio)
    dialogue = _dialogue(again)
    for call in calls:
        standin.calls[call] = "completed"
    broken = sorted(calls)[0]  # the spool's order
    real = dialogue.status

    def status(call_sid: str, call_status: str, started: float | None = None) -> str:
        if call_sid == broken:
            raise RuntimeError("the database said no")
        return real(call_sid, call_status, started)

    monkeypatch.setattr(dialogue, "status", status)
    settled = dialogue.reconcile()
    [ticket] = _tickets(sessions)
    assert settled == [ticket.call_id] and ticket.call_id != broken
    assert dialogue.calls.spool.path(broken).exists()


@pytest.mark.parametrize("signature", [None, "forged"])
def test_a_webhook_not_signed_by_twilio_is_no_sign_of_life(
        twilio: Twilio, signature: str | None) -> None:
    """Only a webhook that passed Twilio's signature is heard: anyone else posting the
    CallSid of a call long gone (a key, over and over) cannot keep it live and hold our
    stops (review83)."""
    dialogue = _dialogue(twilio)
    gone = _gone_entry(dialogue, twilio)
    for _ in range(3):
        resp = twilio.post("/twilio/menu", call_form(gone, Digits="5"), signature=signature)
        assert resp.status_code == 403
    drain = _draining(dialogue)
    drain.join(_RETURNS_WITHIN)
    assert not drain.is_alive()
