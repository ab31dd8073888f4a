"""Keys sent in-band: a SIPp caller whose INVITE offers only PCMU (or only PCMA), no
telephone-event (an old PSTN gateway), presses 1 as a tone in its audio; the IVR acts on it as on an RFC 2833
key (key 1: the caller's ticket status), and the call is counted as an in-band one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from ivr.callrecords import CallOutcome
from ivr.intake import CallIntake
from ivr.prompts import PromptLibrary
from ivr.runtime import spool_for
from telephony.media import g711
from tests.ivr.ivrkit import CALLER, assert_ok, carrier_asserts
from tests.support import harness
from tests.support.callers import CallerScript

pytestmark = pytest.mark.sip


def inband_calls(direction: str) -> float:
    return REGISTRY.get_sample_value("hotline_call_dtmf_mode_total",
                                     {"direction": direction, "mode": "inband"}) or 0.0


@pytest.mark.parametrize(("codec", "payload_type"), [("PCMU", 0), ("PCMA", 8)])
def test_key_one_as_a_tone_reads_the_callers_open_tickets(codec: str, payload_type: int,
                                                          ivr_factory, vosk_engine,
                                                          tmp_path: Path) -> None:
    # The number a source we trust asserts (key 1 reads its tickets).
    ivr = ivr_factory(engine=vosk_engine, trusted_sources=["127.0.0.1"])
    earlier = CallIntake(sessions=ivr.sessions, domain=ivr.domain,
                         spool=spool_for(ivr.settings), call_id="earlier", caller=CALLER)
    earlier.understood("朝阳区望京西园三区5号楼停水了")
    filed = earlier.file_ticket()
    assert filed is not None
    earlier.end()
    before = inband_calls("inbound")
    sink = harness.RtpSink()
    # 1 during the greeting, as a tone; then silence: no new complaint, so goodbye.
    script = CallerScript(tmp_path, codec=codec).wait(0.5).tone_key("1", then_wait=0)
    try:
        result = ivr.caller(script, media_port=str(sink.port), timeout_s=60,
                            telephone_event=False, codecs=str(payload_type),
                            headers=(carrier_asserts(),)).run()
        time.sleep(0.2)
    finally:
        sink.close()
    assert_ok(result)
    assert "telephone-event" not in result.messages  # neither in the offer nor our answer

    rec = ivr.wait_record(count=2)[-1]
    assert rec.outcome == CallOutcome.STATUS_QUERY and rec.ticket_id is None
    assert rec.keys == "1"  # one press, one key: nothing else heard in the audio
    assert {p.payload_type for p in sink.packets} == {payload_type}
    heard = g711.DECODERS[codec](b"".join(p.payload for p in sink.packets))
    last_digits = PromptLibrary(ivr.settings).number(filed.number[-4:])
    assert g711.DECODERS[codec](g711.ENCODERS[codec](last_digits)) in heard
    assert inband_calls("inbound") == before + 1
