"""Withheld numbers end to end: a SIPp caller ``"Anonymous" <sip:anonymous@anonymous.invalid>``
against our IVR (start_ivr, direct mode, shipped settings but for the ports). The number a
trusted trunk asserts (P-Asserted-Identity) is the ticket's phone, in E.164; without one the
ticket has no phone, the IVR offers to key one in for the callback (RFC 2833 digits), and
key 1 says it cannot look anything up."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ivr.callrecords import CallOutcome
from ivr.prompts import PromptLibrary
from telephony.media import g711
from telephony.sip.identity import VOUCHED_HEADER, VOUCHED_VALUE
from tests.ivr.ivrkit import IvrUnderTest, assert_ok
from tests.support import harness
from tests.support.callers import CallerScript
from tests.support.harness import Sipp

pytestmark = pytest.mark.sip

ANONYMOUS = '"Anonymous" <sip:anonymous@anonymous.invalid>'
PAI = "P-Asserted-Identity: <sip:+8613912345678@carrier.example>"
# The carrier's SBC: a loopback address of its own, so trusting it trusts nobody else.
TRUNK = "127.0.0.83"


def through_line(pcm16: bytes) -> bytes:
    return g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(pcm16))


def anonymous_caller(ivr: IvrUnderTest, script: CallerScript, *, pai: bool = False,
                     local_ip: str = harness.LOOPBACK, media_port: str,
                     headers: tuple[str, ...] = ()) -> Sipp:
    """uac_call.xml with the From a carrier sends for a withheld number (and its PAI)."""
    sipp = ivr.caller(script, caller="anonymous", media_port=media_port, timeout_s=60,
                      local_ip=local_ip, headers=headers)
    text = sipp.scenario.read_text()
    text = text.replace('"citizen" <sip:anonymous@[local_ip]:[local_port]>', ANONYMOUS)
    if pai:
        text = text.replace("Subject: hotline test\n", f"Subject: hotline test\n{PAI}\n")
    assert "citizen\"" not in text and text.count("P-Asserted") == int(pai)
    sipp.scenario.write_text(text)
    return sipp


def run(sipp: Sipp, sink: harness.RtpSink) -> bytes:
    try:
        result = sipp.run()
        time.sleep(0.2)
    finally:
        sink.close()
    assert_ok(result)
    return g711.ulaw_to_pcm16(b"".join(p.payload for p in sink.packets))


def test_the_number_a_trusted_trunk_asserts_is_the_tickets_phone(ivr_factory,
                                                                  tmp_path: Path) -> None:
    # Loopback is not trusted as shipped (sip.trusted_sources = []): the test names the
    # trunk, the one setting it is about.
    ivr = ivr_factory(engine=None, trusted_sources=[TRUNK])
    sink = harness.RtpSink(ip=TRUNK)  # the SDP announces the caller's own address
    script = CallerScript(tmp_path).wait(0.5).key("0", then_wait=0)  # no operator: callback
    heard = run(anonymous_caller(ivr, script, pai=True, local_ip=TRUNK,
                                 media_port=str(sink.port)), sink)

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.caller == "+8613912345678" and rec.outcome == CallOutcome.CALLBACK_REQUEST
    assert ticket is not None
    assert ticket.caller_phone == "+8613912345678" and not ticket.caller_phone_keyed
    prompts = PromptLibrary(ivr.settings)
    assert through_line(prompts.pcm("operator_unavailable")) in heard
    # The number is known: nobody is asked to key it in.
    assert through_line(prompts.pcm("ask_callback_number"))[:8000] not in heard


def test_without_a_number_the_caller_keys_one_in_for_the_callback(ivr_factory,
                                                                   tmp_path: Path) -> None:
    ivr = ivr_factory(engine=None)  # shipped trust: the PAI-less anonymous call as it comes
    sink = harness.RtpSink()
    script = (CallerScript(tmp_path).wait(0.5).key("0", then_wait=1.5)
              .dial("139#", then_wait=1.5)  # too short: asked again
              .dial("13912345678#", then_wait=0))
    heard = run(anonymous_caller(ivr, script, media_port=str(sink.port)), sink)

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.caller is None and rec.caller_raw == "anonymous" and rec.outcome == CallOutcome.CALLBACK_REQUEST
    assert (rec.keys or "").startswith("0139#13912345678#")
    assert ticket is not None
    # Kept to call back on, marked as keyed in by the caller (not who called).
    assert ticket.caller_phone == "+8613912345678" and ticket.caller_phone_keyed
    prompts = PromptLibrary(ivr.settings)
    assert through_line(prompts.pcm("ask_callback_number"))[:8000] in heard
    assert through_line(prompts.pcm("callback_number_invalid"))[:8000] in heard
    assert through_line(prompts.pcm("callback_number_taken")) in heard
    assert through_line(prompts.pcm("operator_unavailable")) in heard


def test_the_country_code_keyed_before_a_mobile_is_that_mobile(ivr_factory,
                                                               tmp_path: Path) -> None:
    """86 13912345678#: the mobile, taken at once (review62: the keys stopped at 13 digits,
    the queued # cut off "您输入的号码有误" and answered the second try as no number, so the
    caller got no callback and never heard why)."""
    ivr = ivr_factory(engine=None)
    sink = harness.RtpSink()
    script = (CallerScript(tmp_path).wait(0.5).key("0", then_wait=1.5)
              .dial("8613912345678#", then_wait=0))
    heard, prompts = _the_mobile_was_taken(ivr, script, sink)
    assert through_line(prompts.pcm("callback_number_invalid"))[:8000] not in heard


def test_an_entry_keyed_too_long_is_read_to_its_hash_and_refused(ivr_factory,
                                                                 tmp_path: Path) -> None:
    """Eighteen digits and #: read to the #, refused with "您输入的号码有误" heard whole, and
    the second try reads only what is keyed after it (review62: the read stopped at 13
    digits, the other five and the # were taken as the second try)."""
    ivr = ivr_factory(engine=None)
    sink = harness.RtpSink()
    script = (CallerScript(tmp_path).wait(0.5).key("0", then_wait=1.5)
              .dial("139123456781234567#", then_wait=5.0)  # the error prompt, heard whole
              .dial("13912345678#", then_wait=0))
    heard, prompts = _the_mobile_was_taken(ivr, script, sink)
    assert through_line(prompts.pcm("callback_number_invalid")) in heard


def _the_mobile_was_taken(ivr: IvrUnderTest, script: CallerScript, sink: harness.RtpSink
                          ) -> tuple[bytes, PromptLibrary]:
    """Run the withheld call: its ticket has the keyed mobile, and the caller heard so;
    what they heard, and the prompts."""
    heard = run(anonymous_caller(ivr, script, media_port=str(sink.port)), sink)
    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert ticket is not None
    assert ticket.caller_phone == "+8613912345678" and ticket.caller_phone_keyed
    prompts = PromptLibrary(ivr.settings)
    assert through_line(prompts.pcm("callback_number_taken")) in heard
    return heard, prompts


def test_without_a_number_and_no_callback_wanted_the_ticket_has_no_phone(
        ivr_factory, tmp_path: Path) -> None:
    ivr = ivr_factory(engine=None)
    sink = harness.RtpSink()
    script = CallerScript(tmp_path).wait(0.5).key("0", then_wait=1.5).key("#", then_wait=0)
    heard = run(anonymous_caller(ivr, script, media_port=str(sink.port)), sink)

    (rec,) = ivr.wait_record()
    ticket = ivr.ticket_of(rec)
    assert rec.outcome == CallOutcome.CALLBACK_REQUEST and ticket is not None
    assert ticket.caller_phone is None and not ticket.caller_phone_keyed
    assert not ticket.no_contact  # they did not refuse a callback: there is no number
    prompts = PromptLibrary(ivr.settings)
    assert through_line(prompts.pcm("ask_callback_number"))[:8000] in heard
    assert through_line(prompts.pcm("callback_number_taken"))[:8000] not in heard


def test_key_1_without_a_number_says_it_cannot_look_up(ivr_factory, tmp_path: Path) -> None:
    # Withheld by the carrier, through our front, which marks the carrier's requests
    # (deploy/kamailio; from elsewhere key 1 asks for a ticket number).
    ivr = ivr_factory(engine=None, trusted_sources=["127.0.0.1"])
    sink = harness.RtpSink()
    script = CallerScript(tmp_path).wait(0.5).key("1", then_wait=0)
    heard = run(anonymous_caller(ivr, script, media_port=str(sink.port),
                                 headers=(f"{VOUCHED_HEADER}: {VOUCHED_VALUE}",)), sink)

    (rec,) = ivr.wait_record()
    assert rec.outcome == CallOutcome.STATUS_QUERY and rec.ticket_id is None
    prompts = PromptLibrary(ivr.settings)
    assert through_line(prompts.pcm("status_no_number")) in heard
    assert through_line(prompts.pcm("status_none"))[:8000] not in heard
