"""Real peers switching to A-law: a SIPp caller that starts in PCMU and, a second into the
greeting, sends a re-INVITE offering PCMA alone (a phone or SBC moving the call to the
other law), then speaks Korean in A-law and presses RFC 2833 keys; and a burst of callers
offering PCMA alone at once. Each becomes a ticket with its words and keys: audio and keys
reach the dialogue after the switch and on every A-law call. Our 2xx to a re-INVITE until
its ACK, and 491 to overlapping offers, socket-free: tests/telephony/test_sip_reinvite.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ivr.callrecords import CallOutcome
from ivr.prompts import PromptLibrary
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import CALLER, assert_ok, run_heard
from tests.support import harness
from tests.support.callers import CallerScript

pytestmark = pytest.mark.sip

WATER = PHRASES[0]  # "물이 나오지 않습니다": the water does not come out


def _messages(log: str) -> list[str]:
    """The SIP messages of a SIPp message log, each whole."""
    return [m for m in re.split(r"\n-{5,}[^\n]*\n", log) if m.strip()]


def test_a_reinvite_to_pcma_mid_greeting_and_the_words_and_keys_after_it(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine)
    greeting = PromptLibrary(ivr.settings).pcm("greeting")
    sink = harness.RtpSink()
    script = (CallerScript(tmp_path / "caller")  # PCMU and telephone-event
              .wait(1.0)  # into the greeting
              .reinvite("PCMA", media_port=str(sink.port))
              .wait(len(greeting) / 16000 - 1.0 + 0.8)  # the rest of it and the tone
              .complain(korean_speech[WATER]))
    result = run_heard(ivr.caller(script, media_port=str(sink.port), timeout_s=90), sink)
    (ok,) = [m for m in _messages(result.messages)
             if "SIP/2.0 200 OK" in m and "CSeq: 2 INVITE" in m]
    assert re.search(r"^m=audio \d+ RTP/AVP 8 101\s*$", ok, re.M), ok

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET and rec.caller == "+86" + CALLER
    assert "#" in (rec.keys or "") and "1" in (rec.keys or "")
    assert ticket is not None and ticket.status in ("dispatched", "accepted")
    assert ticket.transcript and "물이" in ticket.transcript, ticket.transcript
    # What we sent: μ-law until the switch, then A-law only, to the end of the call.
    kinds = [p.payload_type for p in sink.packets]
    switched = kinds.index(8)
    assert kinds[0] == 0 and set(kinds[switched:]) == {8} and switched > 25


def test_a_burst_of_alaw_callers_each_reach_the_dialogue(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path) -> None:
    """Callers whose phones offer PCMA alone (Europe's and many gateways' law) all at
    once, each saying its own complaint and keying: each ticket has its own words."""
    ivr = ivr_factory(engine=vosk_engine)
    greeting = PromptLibrary(ivr.settings).pcm("greeting")
    phrases = PHRASES[:3]
    numbers = [f"1380013810{n}" for n in range(len(phrases))]
    callers = []
    for number, phrase in zip(numbers, phrases, strict=True):
        script = (CallerScript(tmp_path / number, codec="PCMA")
                  .wait(len(greeting) / 16000 + 0.8)
                  .complain(korean_speech[phrase]))
        callers.append(ivr.caller(script, caller=number, codecs="8",
                                  timeout_s=120).start())
    for sipp in callers:
        assert_ok(sipp.wait())
    recs = ivr.wait_record(count=len(phrases), timeout=60)
    words = {}
    for rec in recs:
        ticket = ivr.ticket_of(rec)
        assert rec.outcome == CallOutcome.TICKET and ticket is not None
        assert "#" in (rec.keys or "") and "1" in (rec.keys or ""), rec.keys
        words[rec.caller] = ticket.transcript or ""
    # Each transcript has a word that only its own caller's phrase has (the small test
    # model misses or mishears a word now and then in espeak-ng's voice).
    own = {p: set(p.split()) - {w for q in phrases if q != p for w in q.split()}
           for p in phrases}
    for number, phrase in zip(numbers, phrases, strict=True):
        said = set(words["+86" + number].split())
        assert said & own[phrase], (phrase, said)


def test_a_caller_who_holds_after_the_tone_is_listened_to_when_back(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path) -> None:
    """Trial (twenty-second round): a caller who put the call on hold after the tone
    (a re-INVITE a=sendonly: a hold key, a mobile phone's call waiting) for 30 s was timed
    out as silent twice, the reprompt played to nobody, and the call ended
    "silence_goodbye" on hold; back, the caller found the line dead. The turn's clock
    stops while the call is held: resumed, the caller is heard and the ticket filed."""
    ivr = ivr_factory(engine=vosk_engine)
    prompts = PromptLibrary(ivr.settings)
    greeting, reprompt = prompts.pcm("greeting"), prompts.pcm("reprompt_silence")
    # Longer than both silent turns and the reprompt between them.
    hold = 2 * ivr.settings.sip.no_speech_seconds + len(reprompt) / 16000 + 3.0
    script = (CallerScript(tmp_path / "caller")
              .wait(len(greeting) / 16000 + 0.8)  # the greeting and the tone
              .reinvite("PCMU", direction="sendonly")
              .wait(hold)
              .reinvite("PCMU", cseq=3)
              .wait(0.5)
              .complain(korean_speech[WATER]))
    assert_ok(ivr.caller(script, timeout_s=120).start().wait())
    (rec,) = ivr.wait_record(timeout=60)
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET and ticket is not None, rec.outcome
    assert ticket.transcript and "물이" in ticket.transcript, ticket.transcript
