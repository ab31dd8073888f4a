"""A caller who pressed 2 at the read-back (say it again) and hung up while saying it: the
second recording's three callbacks -- its <Record> action (not always posted on a
hang-up), its recording status callback and the call's final status -- come in no order
Twilio guarantees, and any may be sent again. Whatever the order, the complaint is one
ticket with the recording said again and its words (now, or from the transcription
backlog), each recording downloaded once; a late callback of the first recording changes
nothing. Before (mend85) the status first, or the recording's callback without an action,
filed the first recording and dropped the second; the action after the status gave the
ticket the second recording under the first one's words. Signed webhooks, the local
stand-in for Twilio's API, the real Vosk test model (review83's pattern:
test_twilio_callback_order)."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.backlog import run_backlog
from asr.batch import transcribe_file
from asr.engine import AsrEngine
from asr.jobs import JobStatus, TranscriptionJob
from asr.stream import Transcript
from hotline.recordings import apply_retention
from ivr.callrecords import CallOutcome, CallRecord
from ivr.intake import RECORDING_NOT_FETCHED_NOTE, SAID_AGAIN_EVENT, Spool
from ivr.twilio.decode import Decoded
from tests.twilio.helpers import StandIn, Twilio, call_form, count, new_sid, twiml
from tests.twilio.test_twilio_callback_order import _ACTION, _ORDERS, _RECORDING, _STATUS, _post
from tests.twilio.test_twilio_flow import _record_params
from tests.twilio.test_twilio_stop_journal import _restarted
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent, utcnow
from ticketing.service import TRANSCRIBED_EVENT, TRANSCRIPT_PENDING
from ticketing.states import Status


class Call:
    """One call: the first recording taken on the line (its action, then its recording
    status callback) and read back, then key 2; the second recording registered with the
    stand-in, its callbacks left to the test."""

    def __init__(self, twilio: Twilio, standin: StandIn, first_wav: bytes,
                 second_wav: bytes) -> None:
        self.twilio = twilio
        self.sid, self.first, self.second = new_sid("CA"), new_sid("RE"), new_sid("RE")
        twiml(twilio.post("/twilio/voice", call_form(self.sid)))
        self.first_url = standin.add_recording(self.sid, self.first, first_wav)
        twiml(twilio.post("/twilio/recorded",
                          _record_params(self.sid, self.first, self.first_url)))
        _post(twilio, _RECORDING, self.sid, self.first, self.first_url)
        twiml(twilio.post("/twilio/confirm", call_form(self.sid, Digits="2")))
        self.second_url = standin.add_recording(self.sid, self.second, second_wav)

    def second_says(self, what: str, *, fetched: bool = True) -> None:
        _post(self.twilio, what, self.sid, self.second, self.second_url,
              fetched=fetched or what != _RECORDING)

    def first_says_late(self) -> None:
        """The first recording's callbacks once more, late: its recording status callback
        and its action."""
        _post(self.twilio, _RECORDING, self.sid, self.first, self.first_url)
        twiml(self.twilio.post("/twilio/recorded",
                               _record_params(self.sid, self.first, self.first_url)))


def _heard(decodings: dict[tuple[int, bytes], Decoded], engine: AsrEngine,
           wav: bytes) -> str | None:
    """The words the engine heard in ``wav`` during this test process (decode_once), None
    when it was not decoded within a webhook's budget."""
    hit = decodings.get((id(engine), hashlib.sha256(wav).digest()))
    return hit.text if hit is not None else None


def _the_ticket(sessions: sessionmaker[Session], call: Call) -> tuple[Ticket, CallRecord]:
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        record = s.scalars(select(CallRecord).where(CallRecord.call_id == call.sid)).one()
    return ticket, record


def _jobs(sessions: sessionmaker[Session]) -> list[TranscriptionJob]:
    with sessions() as s:
        return list(s.scalars(select(TranscriptionJob).order_by(TranscriptionJob.id)))


def _pending(sessions: sessionmaker[Session]) -> list[str]:
    return [Path(j.recording_path).name for j in _jobs(sessions)
            if j.status == JobStatus.PENDING.value]


def _backlog_run(sessions: sessionmaker[Session], domain: Domain,
                 engine: AsrEngine) -> tuple[Any, list[tuple[str, str]]]:
    """The transcription backlog run once with ``engine``; what it heard, by file name."""
    heard: list[tuple[str, str]] = []

    def transcribe(path: Path) -> Transcript:
        transcript = transcribe_file(engine, path).transcript
        heard.append((path.name, transcript.text))
        return transcript

    return run_backlog(sessions=sessions, domain=domain, transcribe=transcribe), heard


def _assert_has_the_second(sessions: sessionmaker[Session], twilio: Twilio, call: Call,
                           second_wav: bytes) -> Ticket:
    ticket, record = _the_ticket(sessions, call)
    assert count(sessions, Ticket) == 1 and ticket.call_id == call.sid
    assert Path(ticket.recording_path or "").name.endswith(f"{call.second}.wav")
    assert ticket.recording_sha256 == hashlib.sha256(second_wav).hexdigest()
    assert record.outcome == CallOutcome.TICKET and record.ticket_id == ticket.id
    assert record.recording_path == ticket.recording_path and record.ended_at is not None
    assert not Spool(twilio.settings.data_dir / "spool" / "calls").path(call.sid).exists()
    return ticket


@pytest.mark.usefixtures("decode_once")  # about the call, not the decoding
@pytest.mark.parametrize("retried", [False, True], ids=["once", "each-twice"])
@pytest.mark.parametrize("order", _ORDERS, ids=["-".join(o) for o in _ORDERS])
def test_a_hang_up_while_saying_it_again_gives_the_ticket_the_second_recording(
        twilio: Twilio, standin: StandIn, recording_wav: bytes, said_again_wav: bytes,
        asr_engine: AsrEngine, decodings: dict[tuple[int, bytes], Decoded],
        sessions: sessionmaker[Session], order: list[str], retried: bool) -> None:
    call = Call(twilio, standin, recording_wav, said_again_wav)
    for what in order:
        for _ in range(2 if retried else 1):
            call.second_says(what)
    call.first_says_late()

    ticket = _assert_has_the_second(sessions, twilio, call, said_again_wav)
    first_words = _heard(decodings, asr_engine, recording_wav)
    said = _heard(decodings, asr_engine, said_again_wav)
    # The words said again are the ticket's demand too, whoever came first: with the
    # status first, the demand kept the first words (the ones key 2 took back) beside the
    # second's transcript (review87).
    if said is not None:  # heard within the webhook's budget: the ticket has its words
        assert said != first_words
        assert ticket.transcript == said and ticket.demand == said
        assert _pending(sessions) == []
    else:  # or the backlog has them to hear
        assert ticket.transcript is None and ticket.demand == TRANSCRIPT_PENDING
        assert _pending(sessions) == [f"{call.sid}-{call.second}.wav"]
    with sessions() as s:
        events = [e.action for e in s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id))]
    # Filed by the status before the second recording came: the trail says it replaced
    # the first, once however often its callbacks came.
    assert events.count(SAID_AGAIN_EVENT) == (1 if order[0] == _STATUS else 0)
    # Each recording fetched once, whoever came first.
    assert sorted(r["path"].rsplit("/", 1)[-1] for r in standin.downloads) == sorted(
        [f"{call.first}.wav", f"{call.second}.wav"])


@pytest.mark.usefixtures("decode_once")
@pytest.mark.parametrize("late", [0, 1, 2], ids=["before", "between", "after"])
def test_the_first_recordings_late_callback_does_not_take_the_place_of_the_second(
        twilio: Twilio, standin: StandIn, recording_wav: bytes, said_again_wav: bytes,
        sessions: sessionmaker[Session], late: int) -> None:
    """The first recording's status callback comes late -- before, between or after the
    second's callback and the status that file it (no action): the second is the ticket's."""
    call = Call(twilio, standin, recording_wav, said_again_wav)
    steps: list[Any] = [lambda: call.second_says(_RECORDING),
                        lambda: call.second_says(_STATUS)]
    steps.insert(late, lambda: _post(twilio, _RECORDING, call.sid, call.first,
                                     call.first_url))
    for step in steps:
        step()
    _assert_has_the_second(sessions, twilio, call, said_again_wav)


@pytest.mark.parametrize("order", [[_STATUS, _RECORDING], [_RECORDING, _STATUS],
                                   [_STATUS, _ACTION]], ids="-".join)
def test_with_no_model_the_second_recordings_words_come_from_the_backlog(
        make_twilio: Any, standin: StandIn, recording_wav: bytes, said_again_wav: bytes,
        asr_engine: AsrEngine, sessions: sessionmaker[Session], domain: Domain,
        order: list[str]) -> None:
    """No speech model in the service: the first recording was filed (or was to be) for
    the backlog; the second takes its place there, and the first's job, were it left,
    would write the first words over the second's."""
    twilio = make_twilio(engine=False)
    call = Call(twilio, standin, recording_wav, said_again_wav)
    for what in order:
        call.second_says(what)
    ticket = _assert_has_the_second(sessions, twilio, call, said_again_wav)
    assert ticket.demand == TRANSCRIPT_PENDING
    assert _pending(sessions) == [f"{call.sid}-{call.second}.wav"]

    run, heard = _backlog_run(sessions, domain, asr_engine)
    assert run.taken == 1 and run.done == 1
    ticket, _ = _the_ticket(sessions, call)
    # The second recording heard, and only it; its words are the ticket's.
    [(name, said)] = heard
    assert name == f"{call.sid}-{call.second}.wav"
    assert said and ticket.transcript == said and ticket.demand == said
    with sessions() as s:
        assert s.scalar(select(TicketEvent.id).where(
            TicketEvent.ticket_id == ticket.id,
            TicketEvent.action == TRANSCRIBED_EVENT)) is not None


@pytest.mark.usefixtures("decode_once")
def test_the_second_recording_lost_with_the_process_is_taken_at_the_next_start(
        twilio: Twilio, make_twilio: Any, standin: StandIn, recording_wav: bytes,
        said_again_wav: bytes, sessions: sessionmaker[Session]) -> None:
    """The caller hung up while saying it again as our process went down: no callback of
    the second recording, nor the status, was taken. The next start asks Twilio
    (``TwilioDialogue.reconcile``): the call is over, its newest recording is the one said
    again, and the ticket has it."""
    call = Call(twilio, standin, recording_wav, said_again_wav)
    standin.calls[call.sid] = "completed"
    standin.call_recordings[call.sid] = [call.second, call.first]  # newest first
    _restarted(make_twilio)
    _assert_has_the_second(sessions, twilio, call, said_again_wav)


@pytest.mark.usefixtures("decode_once")
@pytest.mark.parametrize("order", [[_ACTION, _STATUS], [_STATUS, _RECORDING]], ids="-".join)
def test_the_recording_said_again_takes_the_one_it_replaced_with_it_at_retention(
        twilio: Twilio, standin: StandIn, recording_wav: bytes, said_again_wav: bytes,
        sessions: sessionmaker[Session], order: list[str]) -> None:
    """The first recording, replaced by the one said again after key 2 -- on the line
    (its action while the call is up) or after the status filed the ticket -- is named by
    no row: retention deleted the call's recording and kept that one for ever (review87).
    It goes with the call's own, by the same rule: never while the ticket is open, audited
    on the ticket; another call's recording stays."""
    call = Call(twilio, standin, recording_wav, said_again_wav)
    for what in order:
        call.second_says(what)
    ticket = _assert_has_the_second(sessions, twilio, call, said_again_wav)
    second = Path(ticket.recording_path or "")
    first = second.with_name(f"{call.sid}-{call.first}.wav")
    other = second.with_name(f"{new_sid('CA')}-{new_sid('RE')}.wav")
    other.write_bytes(recording_wav)  # another call's, in the same folder
    assert first.is_file() and second.is_file()

    later = utcnow() + timedelta(days=31)
    assert apply_retention(sessions=sessions, days=30, now=later) == []  # the ticket is open
    assert first.is_file() and second.is_file()
    with sessions() as s:
        s.get_one(Ticket, ticket.id).status = Status.ARCHIVED.value
        s.commit()
    assert apply_retention(sessions=sessions, days=30, now=later) == [call.sid]
    assert not first.exists() and not second.exists() and other.is_file()
    with sessions() as s:
        [event] = s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id, TicketEvent.action == "recording_deleted"))
        assert event.data is not None and event.data["replaced"] == [first.name]
        assert s.get_one(Ticket, ticket.id).recording_path is None


@pytest.mark.usefixtures("decode_once")
def test_words_said_again_left_to_the_backlog_take_the_first_words_place(
        twilio: Twilio, standin: StandIn, recording_wav: bytes, said_again_wav: bytes,
        asr_engine: AsrEngine, decodings: dict[tuple[int, bytes], Decoded],
        sessions: sessionmaker[Session], domain: Domain) -> None:
    """The status files the first recording's words; the one said again comes after it
    and is not heard in its webhook (the model gone meanwhile): the ticket waits for its
    words, the first ones no longer its demand, and the backlog gives the second's. Before
    (review87) the first words stayed the demand for good, the second's only its
    transcript."""
    call = Call(twilio, standin, recording_wav, said_again_wav)
    first_words = _heard(decodings, asr_engine, recording_wav)
    assert first_words  # read back before key 2
    call.second_says(_STATUS)
    ticket, _ = _the_ticket(sessions, call)
    assert ticket.demand == first_words
    twilio.client.app.state.asr_engine = None  # type: ignore[attr-defined]
    call.second_says(_RECORDING)
    ticket = _assert_has_the_second(sessions, twilio, call, said_again_wav)
    assert ticket.demand == TRANSCRIPT_PENDING and ticket.transcript is None
    assert _pending(sessions) == [f"{call.sid}-{call.second}.wav"]

    run, heard = _backlog_run(sessions, domain, asr_engine)
    assert run.done == 1
    [(name, said)] = heard
    assert name == f"{call.sid}-{call.second}.wav" and said
    ticket, _ = _the_ticket(sessions, call)
    assert ticket.demand == said and ticket.transcript == said


def _assert_has_the_first(sessions: sessionmaker[Session], call: Call, first_wav: bytes,
                          first_words: str | None) -> Ticket:
    """The ticket still has the first recording, held, and the first words; so has the
    call record (review92: it named the second, not held, and retention then deleted the
    first as one it replaced, the ticket still naming it)."""
    ticket, record = _the_ticket(sessions, call)
    assert count(sessions, Ticket) == 1 and record.ticket_id == ticket.id
    assert (record.recording_path, record.recording_sha256) == (
        ticket.recording_path, ticket.recording_sha256)
    assert Path(ticket.recording_path or "").name.endswith(f"{call.first}.wav")
    assert Path(ticket.recording_path or "").is_file()
    assert ticket.recording_sha256 == hashlib.sha256(first_wav).hexdigest()
    assert first_words and ticket.demand == first_words
    with sessions() as s:
        assert s.scalar(select(TicketEvent.id).where(
            TicketEvent.ticket_id == ticket.id,
            TicketEvent.action == SAID_AGAIN_EVENT)) is None
    return ticket


@pytest.mark.usefixtures("decode_once")
@pytest.mark.parametrize("order", [[_RECORDING, _STATUS], [_STATUS, _ACTION],
                                   [_STATUS, _RECORDING]], ids="-".join)
def test_a_recording_said_again_not_downloaded_leaves_the_first_until_it_is(
        twilio: Twilio, standin: StandIn, recording_wav: bytes, said_again_wav: bytes,
        asr_engine: AsrEngine, decodings: dict[tuple[int, bytes], Decoded],
        sessions: sessionmaker[Session], order: list[str]) -> None:
    """The second recording's first callback cannot download it (Twilio's API failing):
    its recording status callback while the call is up, or its action after the status
    filed the ticket. Before (review87) the first words were cleared all the same and the
    ticket named the second recording, which nothing held: no words, no file. The first
    recording and its words stay the ticket's until the second is fetched -- here by its
    recording status callback sent again -- and then it takes their place. Its URL is on
    the call record meanwhile and the failed recording status callback is answered 503
    (mend89: with the callback failing while the call was up, or after the status, only a
    log line kept the URL, and Twilio was answered 200)."""
    call = Call(twilio, standin, recording_wav, said_again_wav)
    first_words = _heard(decodings, asr_engine, recording_wav)
    failing, then = order
    if failing == _STATUS:  # the status first: the ticket filed before the callback fails
        call.second_says(_STATUS)
        failing, then = then, None
    standin.fail_status = 500
    call.second_says(failing, fetched=False)
    standin.fail_status = None
    if then is not None:
        call.second_says(then)
    _assert_has_the_first(sessions, call, recording_wav, first_words)
    assert _the_ticket(sessions, call)[1].note == RECORDING_NOT_FETCHED_NOTE + call.second_url

    call.second_says(_RECORDING)  # sent again, the API answering now
    ticket = _assert_has_the_second(sessions, twilio, call, said_again_wav)
    assert _the_ticket(sessions, call)[1].note is None
    # Its words, heard in the webhook or left to the backlog; never the first words.
    if ticket.demand == TRANSCRIPT_PENDING:
        assert ticket.transcript is None
        assert _pending(sessions) == [f"{call.sid}-{call.second}.wav"]
    else:
        said = _heard(decodings, asr_engine, said_again_wav)
        assert said and said != first_words and ticket.demand == said
    with sessions() as s:
        assert len(list(s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == ticket.id,
            TicketEvent.action == SAID_AGAIN_EVENT)))) == 1


@pytest.mark.usefixtures("decode_once")
@pytest.mark.parametrize("callback", [_RECORDING, _ACTION])
def test_every_journal_written_for_the_recording_said_again_has_its_own_words(
        twilio: Twilio, standin: StandIn, recording_wav: bytes, said_again_wav: bytes,
        asr_engine: AsrEngine, decodings: dict[tuple[int, bytes], Decoded],
        monkeypatch: pytest.MonkeyPatch, callback: str) -> None:
    """What recovery would find, had the process died after any spool write of the second
    recording's callback on the line: never one recording with the other's words. Before
    (review87) the words and the recording were two writes: between them the journal had
    the first recording with its words cleared (the recording status callback) or the
    second under the first words (the action)."""
    call = Call(twilio, standin, recording_wav, said_again_wav)
    first_words = _heard(decodings, asr_engine, recording_wav)
    assert first_words
    written: list[tuple[str, str | None]] = []
    write = Spool.write

    def noting(spool: Spool, journal: Any) -> None:
        if journal.call_id == call.sid:
            written.append((Path(journal.recording_path or "").name, journal.transcript))
        write(spool, journal)
    monkeypatch.setattr(Spool, "write", noting)
    call.second_says(callback)

    first, second = f"{call.sid}-{call.first}.wav", f"{call.sid}-{call.second}.wav"
    said = _heard(decodings, asr_engine, said_again_wav)
    assert any(name == second for name, _ in written)
    for name, words in written:
        assert (name, words) in ((first, first_words), (second, None), (second, said)), (
            name, words)
