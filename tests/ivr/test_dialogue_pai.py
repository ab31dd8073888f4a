"""The caller's number from P-Asserted-Identity (RFC 3325) all the way to the ticket: a
carrier's trunk (a trusted source -- the one setting this test is about) sends a withheld
From and the subscriber's number in PAI; the complaint becomes a ticket whose caller phone
is that number. From an untrusted source the same headers would leave it withheld
(tests/ivr/test_sip_timers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.sip.callers import CallerScript

from ivr.callrecords import CallOutcome
from ivr.prompts import PromptLibrary
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import assert_ok

pytestmark = pytest.mark.sip

CARRIER = "127.0.0.83"  # the trunk's address: trusted
SUBSCRIBER = "13912345678"
PAI = f"P-Asserted-Identity: <sip:+86{SUBSCRIBER}@carrier.example>"


def test_pai_from_a_trusted_trunk_is_the_tickets_caller_phone(
        ivr_factory, vosk_engine, korean_speech, tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine, trusted_sources=[CARRIER])
    greeting = PromptLibrary(ivr.settings).pcm("greeting")
    script = (CallerScript(tmp_path / "caller")
              .wait(len(greeting) / 16000 + 0.8)
              .say(korean_speech[PHRASES[0]], then_wait=0.3)
              .key("#", then_wait=1.5)
              .key("1", then_wait=0))
    sipp = ivr.caller(script, caller="anonymous", local_ip=CARRIER, timeout_s=90)
    # The number withheld in From, asserted by the trunk instead.
    text = sipp.scenario.read_text()
    invite, rest = text.split("Subject: hotline test\n", 1)
    invite = invite.replace('From: "citizen" <sip:anonymous@', 'From: "Anonymous" <sip:anonymous@')
    sipp.scenario.write_text(f"{invite}Subject: hotline test\n{PAI}\n{rest}")
    assert_ok(sipp.run())

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.TICKET
    assert rec.caller.endswith(SUBSCRIBER)
    assert ticket is not None and not ticket.no_contact
    # Loosely: phone normalisation (E.164 or national) is not what this test is about.
    assert ticket.caller_phone.endswith(SUBSCRIBER), ticket.caller_phone
