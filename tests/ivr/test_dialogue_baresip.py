"""One full call from a real softphone: baresip (registered at Kamailio) dials the hotline,
which is registered at the same Kamailio (register mode); it says its complaint and hangs
up when its audio file ends -- the IVR makes the ticket from what it recorded."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ivr.callrecords import CallOutcome
from telephony.media.wav import write_wav_pcm16
from tests.ivr.conftest import PHRASES
from tests.support import harness
from tests.support.callers import silence_pcm16
from tests.support.sipkit import baresip_config

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
    log = (tmp_path / "baresip.log").open("wb")
    proc = harness.spawn(["baresip", "-f", str(confdir)], stdin=subprocess.PIPE, stdout=log,
                         stderr=subprocess.STDOUT)
    assert proc.stdin is not None
    try:
        time.sleep(0.5)
        user = ivr.settings.sip.username
        proc.stdin.write(f"/dial sip:{user}@127.0.0.1:{kamailio.port}\n".encode())
        proc.stdin.flush()
        (rec,) = ivr.wait_record(timeout=60)
        proc.stdin.write(b"/quit\n")
        proc.stdin.flush()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()

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
