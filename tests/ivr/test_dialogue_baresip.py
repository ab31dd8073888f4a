"""One full call from a real softphone: baresip (registered at Kamailio) dials the hotline,
which is registered at the same Kamailio (register mode); it says its complaint and hangs
up when its audio file ends -- the IVR makes the ticket from what it recorded."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from ivr.callrecords import CallOutcome
from telephony.media.wav import write_wav_pcm16
from tests.ivr.conftest import PHRASES
from tests.support import harness
from tests.support.callers import silence_pcm16
from tests.support.sipkit import baresip_config, running_baresip

pytestmark = [
    pytest.mark.sip,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip not installed"),
]


def test_baresip_through_kamailio_to_the_ivr(ivr_factory, vosk_engine, korean_speech,
                                             kamailio: harness.Kamailio,
                                             tmp_path: Path) -> None:
    ivr = ivr_factory(engine=vosk_engine, mode="register", registrar_port=kamailio.port,
                      username=f"hotline{harness.free_port()}")
    source = tmp_path / "citizen.wav"
    write_wav_pcm16(source, silence_pcm16(2.5) + korean_speech[PHRASES[4]] + silence_pcm16(4))
    confdir, dumps = tmp_path / "baresip", tmp_path / "dumps"
    dumps.mkdir()
    baresip_config(confdir, source=source, dumps=dumps, kamailio=kamailio)
    with running_baresip(confdir, tmp_path / "baresip.log") as proc:
        assert proc.stdin is not None
        time.sleep(0.5)
        user = ivr.settings.sip.username
        proc.stdin.write(f"/dial sip:{user}@127.0.0.1:{kamailio.port}\n".encode())
        proc.stdin.flush()
        (rec,) = ivr.wait_record(timeout=60)
        proc.stdin.write(b"/quit\n")
        proc.stdin.flush()
        proc.wait(timeout=10)

    ticket = ivr.ticket_of(rec)
    assert rec.caller is None and rec.caller_raw == "citizen"  # a SIP user name, no number
    assert rec.outcome == CallOutcome.TICKET and ticket is not None
    # No number to call back (it was offered to key one in, and keyed nothing): no phone,
    # never a placeholder every such caller would share.
    assert ticket.caller_phone is None and not ticket.caller_phone_keyed
    assert ticket.transcript and "주세요" in ticket.transcript, ticket.transcript
    # baresip heard us (its decoded-audio dump is not silent).
    (heard,) = dumps.glob("dump-*-dec.wav")
    assert heard.stat().st_size > 44 + 8000


def test_baresip_through_the_shipped_front_is_not_cut_off_at_the_ack_wait(
        ivr_factory, tmp_path: Path) -> None:
    """trial47: the shipped kamailio front (deploy/kamailio/kamailio.cfg) record-routes, and
    a node takes a dialog's requests from the proxy alone. Our 200 did not copy the
    Record-Route (RFC 3261 12.1.1), so a real phone had no route set and sent its ACK
    straight to our Contact: refused four times ("ACK from 127.0.0.2, not from the
    dialog's peer"), and every call through the front was hung up 4 s after the answer
    (``sip.ack_timeout``, end reason no_ack). The phone here is its own 127.x address, as
    a carrier is apart from the proxy; it hangs up itself, 10 s in."""
    ivr = ivr_factory(engine=None)
    assert ivr.runtime is not None
    front = harness.FrontKamailio(tmp_path / "front", [ivr.runtime.frontend.local_port],
                                  carrier="127.0.0.2/32").start()
    confdir, dumps = tmp_path / "baresip", tmp_path / "dumps"
    dumps.mkdir()
    source = tmp_path / "citizen.wav"
    write_wav_pcm16(source, silence_pcm16(15))
    baresip_config(confdir, source=source, dumps=dumps, kamailio=front, ip="127.0.0.2",
                   user="13911119999", codec="PCMA")
    log_path = tmp_path / "baresip.log"
    try:
        with running_baresip(confdir, log_path) as proc:
            assert proc.stdin is not None
            time.sleep(0.5)
            proc.stdin.write(f"/dial sip:12345@127.0.0.1:{front.port}\n".encode())
            proc.stdin.flush()
            time.sleep(10)
            proc.stdin.write(b"/hangup\n/quit\n")
            proc.stdin.flush()
            (rec,) = ivr.wait_record(timeout=30)
            proc.wait(timeout=10)
    finally:
        front.stop()
    assert rec.answered_at is not None and rec.ended_at is not None
    up = (rec.ended_at - rec.answered_at).total_seconds()
    assert up > ivr.settings.sip.ack_timeout + 3, (up, log_path.read_text(errors="replace"))
