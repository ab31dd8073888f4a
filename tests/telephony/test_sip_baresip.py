"""One call from a real softphone (baresip, headless) through Kamailio to our phone."""

from __future__ import annotations

import array
import shutil
import time
import wave
from pathlib import Path

import pytest

from telephony.call import CallState, EndReason
from telephony.media import g711
from telephony.media.wav import read_wav_pcm16
from tests.support import harness
from tests.support.sipkit import (
    AudioAssets,
    EchoTestHandler,
    FrontEndFactory,
    baresip_command,
    baresip_config,
    rms,
    running_baresip,
)

pytestmark = [
    pytest.mark.sip,
    pytest.mark.skipif(shutil.which("baresip") is None, reason="baresip not installed"),
]

def test_baresip_call_through_kamailio(make_frontend: FrontEndFactory, kamailio: harness.Kamailio,
                                       audio: AudioAssets, tmp_path: Path) -> None:
    handler = EchoTestHandler(audio.prompt_wav, digits_wanted=3, dtmf_timeout=6)
    fe = make_frontend(handler, mode="register", kamailio=kamailio)
    confdir, dumps = tmp_path / "baresip", tmp_path / "dumps"
    dumps.mkdir()
    # baresip hangs up when its audio file ends: give it the ~5 s prompt to "say".
    baresip_config(confdir, source=audio.long_prompt_wav, dumps=dumps, kamailio=kamailio)
    with running_baresip(confdir, tmp_path / "baresip.log") as proc:

        def command(text: str) -> None:
            assert proc.stdin is not None
            proc.stdin.write(text.encode())
            proc.stdin.flush()

        time.sleep(0.5)
        command(f"/dial sip:{fe.sip.username}@127.0.0.1:{kamailio.port}\n")
        assert handler.first_call.wait(10), (tmp_path / "baresip.log").read_text()[-3000:]
        call = handler.records[0].call
        deadline = time.monotonic() + 5
        while call.state is not CallState.ANSWERED and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # a key typed right at call setup is not always sent
        for key in "12#":  # a digit typed during a call is sent as RFC 2833
            command(key)
            time.sleep(0.3)
        (rec,) = handler.wait_records(1, timeout=20)
        command("/quit\n")
        proc.wait(timeout=10)

    assert rec.caller == "citizen"
    assert rec.digits == "12#"
    assert rec.end_reason is EndReason.REMOTE_HANGUP  # baresip hung up at its file's end
    assert rms(rec.recorded) > 300, "nothing heard from baresip"
    (heard,) = dumps.glob("dump-*-dec.wav")
    with wave.open(str(heard), "rb") as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        caller_heard = w.readframes(w.getnframes())
    assert rms(caller_heard) > 300, "baresip heard only silence"
    # What it heard contains our whole prompt, unbroken. baresip's own G.711 table decodes
    # the quietest μ-law step as ±2 where ours gives 0, hence the tolerance.
    prompt = g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(read_wav_pcm16(audio.prompt_wav)))
    assert contains_within(caller_heard, prompt, tolerance=4)


def contains_within(haystack: bytes, needle: bytes, *, tolerance: int) -> bool:
    """``needle`` appears in ``haystack`` sample by sample (16-bit) within ``tolerance``."""
    h, n = array.array("h", haystack), array.array("h", needle)
    anchor = next(i for i, x in enumerate(n) if abs(x) > 200)
    probe = n[anchor:anchor + 32]
    for j in range(anchor, len(h) - len(n) + anchor + 1):
        if all(abs(h[j + k] - probe[k]) <= tolerance for k in range(len(probe))):
            off = j - anchor
            if all(abs(h[off + i] - n[i]) <= tolerance for i in range(len(n))):
                return True
    return False


def test_our_bye_reaches_a_phone_behind_the_shipped_front(
        make_frontend: FrontEndFactory, audio: AudioAssets, tmp_path: Path) -> None:
    """review134: since trial47 the phone has the route set, and so do we (the INVITE's
    Record-Route): when the service hangs up, our BYE goes to the front with a Route and
    the phone's Contact as its Request-URI (RFC 3261 12.2.1.1), and the front relays it
    (loose_route). Only the phone's own hang-up was tried through the shipped front."""
    handler = EchoTestHandler(audio.prompt_wav, hang_up=True)
    fe = make_frontend(handler)
    front = harness.FrontKamailio(tmp_path / "front", [fe.local_port]).start()
    sent: list[tuple[bytes, tuple[str, int]]] = []
    start = fe._transactions.start

    def seen(data: bytes, dest: tuple[str, int], *args: object, **kw: object) -> object:
        sent.append((data, dest))
        return start(data, dest, *args, **kw)  # type: ignore[arg-type]

    fe._transactions.start = seen  # type: ignore[method-assign]
    confdir, dumps = tmp_path / "baresip", tmp_path / "dumps"
    dumps.mkdir()
    baresip_config(confdir, source=audio.long_prompt_wav, dumps=dumps, kamailio=front,
                   ip="127.0.0.2", user="13911119999")
    log_path = tmp_path / "baresip.log"
    try:
        with running_baresip(confdir, log_path) as proc:
            time.sleep(0.5)
            baresip_command(proc, f"/dial sip:12345@127.0.0.1:{front.port}")
            (rec,) = handler.wait_records(1, timeout=30)
            time.sleep(2)  # our BYE's 200, and the phone's word of it
            baresip_command(proc, "/quit")
            proc.wait(timeout=10)
    finally:
        front.stop()
    log = log_path.read_text(errors="replace")
    assert rec.answered and rec.end_reason is EndReason.LOCAL_HANGUP, (rec.end_reason, log)
    assert "Connection reset by peer" in log, log[-3000:]  # baresip's word for a BYE heard
    (bye, dest), = [(d, t) for d, t in sent if d.startswith(b"BYE ")]
    assert dest == ("127.0.0.1", front.port)  # the route set's first hop, the front
    assert b"@127.0.0.2:" in bye.split(b" ")[1], bye  # the phone's Contact
    assert f"Route: <sip:127.0.0.1:{front.port};lr".encode() in bye, bye
