"""A call our own stop (SIGTERM, `hotline serve` ending) hangs up mid-complaint: its ticket
says so and asks for a call back, as one a crash cut does. Real SIPp caller, no speech
model (the shipped state: the words wait for the backlog)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.callrecords import CallRecord
from ivr.prompts import PromptLibrary
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import (
    detached,
    heard_so_far,
    through_line,
    wait_recorded,
)
from tests.support import harness
from tests.support.callers import CallerScript
from tests.support.rawsip import RawPeer, header, status
from ticketing.models import TicketEvent

pytestmark = pytest.mark.sip


def test_a_complaint_our_stop_cut_asks_for_a_call_back(
        ivr_factory, korean_speech: dict[str, bytes], tmp_path: Path) -> None:
    """judge28's trial: ten callers mid-complaint when the service was stopped (SIGTERM):
    a BYE to each, a ticket each (right), but nothing on the tickets said the complaint was
    cut by us, where a call a crash cut says "诉求可能不完整，请回拨核实"
    (``call_interrupted``): the handler had a part of a complaint and no word to call the
    citizen, who had heard no ticket number."""
    ivr = ivr_factory(engine=None)
    speech = korean_speech[PHRASES[0]]
    script = CallerScript(tmp_path).wait(0.5).say(speech, then_wait=0.3).wait(60)
    ivr.caller(script, ending="wait_bye", timeout_s=90).start()
    wait_recorded(ivr, through_line(speech), then=0.2)
    runtime, ivr.runtime = ivr.runtime, None
    assert runtime is not None
    runtime.stop()  # what SIGTERM does: the front end's BYE to every call up
    (rec,) = ivr.wait_record()
    assert rec.ticket_id is not None
    (cut,) = detached(ivr.sessions, select(TicketEvent).where(
        TicketEvent.ticket_id == rec.ticket_id, TicketEvent.action == "call_interrupted"))
    assert "服务停止" in cut.note and "请回拨核实" in cut.note, cut.note
    assert cut.data["stopped"] is True and cut.data["recording_seconds"] > 0
    (record,) = detached(ivr.sessions, select(CallRecord).where(CallRecord.id == rec.id))
    assert record.note is not None and "服务停止" in record.note


def test_a_stop_refuses_new_calls_and_tells_the_caller_their_words_are_kept(
        ivr_factory, korean_speech: dict[str, bytes], tmp_path: Path) -> None:
    """loose28's closing note: at our stop the caller mid-complaint heard nothing before
    our BYE. Now new calls are refused at once (503 + Retry-After: another node takes the
    retry) while the caller on the line hears that the service stops and that what they
    said is kept, then our BYE; their words are filed before the stop returns. No speech
    model (``engine=None``): this proves the refusal, the notice, the BYE and the filing
    on the wire, not the decoding, which runs during the notice (socket-free:
    tests/ivr/test_stop_emergency.py::test_the_last_turn_is_closed_and_decoding_before_the_notice_plays)."""
    ivr = ivr_factory(engine=None)
    speech = korean_speech[PHRASES[0]]
    script = CallerScript(tmp_path).wait(0.5).say(speech, then_wait=0.3).wait(60)
    sink = harness.RtpSink()
    try:
        sipp = ivr.caller(script, ending="wait_bye", media_port=str(sink.port),
                          timeout_s=90).start()
        wait_recorded(ivr, through_line(speech), then=0.2)
        runtime, ivr.runtime = ivr.runtime, None
        assert runtime is not None
        stopping = threading.Thread(target=runtime.stop, daemon=True)
        stopping.start()  # what SIGTERM does
        assert runtime.services.stopping.wait(10)
        late = RawPeer("127.0.0.46", runtime.frontend.local_port)
        try:
            late.send(late.invite("late-1"))
            (refused,) = late.finals(expect=1, wait=5).values()
        finally:
            late.close()
        assert status(refused) == 503 and header(refused, "Retry-After"), refused
        stopping.join(60)
        assert not stopping.is_alive()
        result = sipp.wait()
        time.sleep(0.3)  # our last packets
    finally:
        sink.close()
    # Our BYE came (SIPp, still in the caller's pause, reports it as unexpected).
    assert result.ok or "unexpected BYE" in result.errors, result.errors[-2000:]
    notice = through_line(PromptLibrary(ivr.settings).pcm("stopping_kept"))
    assert notice in heard_so_far(sink)
    (rec,) = ivr.wait_record()
    assert rec.ticket_id is not None
    (cut,) = detached(ivr.sessions, select(TicketEvent).where(
        TicketEvent.ticket_id == rec.ticket_id, TicketEvent.action == "call_interrupted"))
    assert cut.data["stopped"] is True


def test_a_caller_who_said_nothing_is_not_told_their_words_are_kept(
        ivr_factory, tmp_path: Path) -> None:
    """The notice says "您的诉求已记录" only where it is true: a caller still at the
    greeting, who has said nothing, hears that the service stops and to call again, and
    no ticket is made."""
    ivr = ivr_factory(engine=None)
    sink = harness.RtpSink()
    prompts = PromptLibrary(ivr.settings)
    try:
        sipp = ivr.caller(CallerScript(tmp_path).wait(60), ending="wait_bye",
                          media_port=str(sink.port), timeout_s=90).start()
        ivr.wait_greeting(sink)
        runtime, ivr.runtime = ivr.runtime, None
        assert runtime is not None
        runtime.stop()
        result = sipp.wait()
        time.sleep(0.3)  # our last packets
    finally:
        sink.close()
    assert result.ok or "unexpected BYE" in result.errors, result.errors[-2000:]
    heard = heard_so_far(sink)
    assert through_line(prompts.pcm("stopping")) in heard
    assert through_line(prompts.pcm("stopping_kept"))[:16000] not in heard
    (rec,) = ivr.wait_record()
    assert rec.ticket_id is None
