"""The IVR under test: settings on free loopback ports, start_ivr, a SIPp caller, and the
database look-ups the dialogue tests assert on."""

from __future__ import annotations

import itertools
import shutil
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, sessionmaker

from asr.jobs import TranscriptionJob
from config.settings import AsrSettings, Settings, SipSettings
from ivr.callrecords import CallRecord
from ivr.intake import CallIntake
from ivr.prompts import PromptLibrary
from ivr.runtime import IvrRuntime, spool_for, start_ivr
from telephony.media import g711
from tests.support import harness
from tests.support.callers import CallerScript
from tests.support.harness import Sipp, SippResult, render_scenario, uac_subs
from tests.support.run_once import seed_prompts
from ticketing.context import Domain
from ticketing.models import Ticket

CALLER = "13800138000"
_KEY_STAMPS = itertools.count(1)  # each press its own RTP timestamp (a repeat is one press)


def ivr_settings(tmp: Path, database_url: str, *, prompt_speed: int, phrase_list: list[str],
                 recorded_prompts: dict[str, Path] | None = None, **sip: Any) -> Settings:
    rtp_low = harness.free_port_block(80)
    prompts_dir = tmp / "config-prompts"
    prompts_dir.mkdir(parents=True, exist_ok=True)
    for key, src in (recorded_prompts or {}).items():
        shutil.copy(src, prompts_dir / f"{key}.wav")
    sip_settings = SipSettings(**{
        "mode": "direct", "bind_ip": harness.LOOPBACK, "port": harness.free_port(),
        "rtp_port_low": rtp_low, "rtp_port_high": rtp_low + 79,
        "registrar_ip": harness.LOOPBACK, "max_calls": 8,
        "prompt_speed": prompt_speed, "end_silence_seconds": 1.5, "no_speech_seconds": 3.0,
        "confirm_timeout_seconds": 4.0, "rtp_timeout": 8.0, "ring_timeout": 6.0,
        **sip,
    })
    return Settings(database_url=database_url, data_dir=tmp / "data",
                    recordings_dir=tmp / "data" / "recordings", prompts_dir=prompts_dir,
                    sip=sip_settings,
                    asr=AsrSettings(model_dir=tmp / "no-models", phrase_list=phrase_list))


@dataclass
class IvrUnderTest:
    settings: Settings
    sessions: sessionmaker[Session]
    domain: Domain
    runtime: IvrRuntime | None = None
    workdir: Path = Path()
    sipps: list[Sipp] = field(default_factory=list)

    def start(self, engine: object | None, prompt_cache: Path | None = None) -> IvrUnderTest:
        if prompt_cache is not None:
            seed_prompts(prompt_cache, self.settings.data_dir)
        self.runtime = start_ivr(self.settings, self.sessions, self.domain,
                                 engine=engine)  # type: ignore[arg-type]
        return self

    @property
    def target(self) -> str:
        assert self.runtime is not None
        return f"{harness.LOOPBACK}:{self.runtime.frontend.local_port}"

    def caller(self, script: CallerScript | str, *, ending: str = "wait_bye",
               media_port: str = "[media_port]", caller: str = CALLER, timeout_s: int = 60,
               target: str | None = None, service: str = "12345",
               local_ip: str = harness.LOOPBACK, telephone_event: bool = True,
               codecs: str = "0", delayed_offer: str | None = None,
               headers: tuple[str, ...] = ()) -> Sipp:
        """``delayed_offer``: an INVITE without SDP, and an ACK that carries the answer
        ("answer", ``codecs``), no SDP ("no_sdp"), or no ACK at all ("none"). ``headers``:
        lines added to the INVITE (``carrier_asserts``: a trunk asserting who calls)."""
        media = script.render() if isinstance(script, CallerScript) else script
        d = self.workdir / "sipp"
        subs = {"caller": caller, "media": media, "ending": ending, "media_port": media_port,
                "telephone_event": telephone_event, "codecs": codecs}
        scenario = (render_scenario("uac_call.xml", d, **uac_subs(**subs))
                    if delayed_offer is None else render_scenario(
                        "uac_delayed_offer.xml", d,
                        **harness.delayed_offer_subs(ack=delayed_offer, **subs)))
        if headers:
            text = scenario.read_text()
            assert "\nSubject: hotline test" in text
            scenario.write_text(text.replace("\nSubject: hotline test",
                                             "".join(f"\n{h}" for h in headers)
                                             + "\nSubject: hotline test", 1))
        s = Sipp(scenario, d, target=target or self.target, service=service,
                 timeout_s=timeout_s, local_ip=local_ip)
        self.sipps.append(s)
        return s

    def stop(self) -> None:
        for s in self.sipps:
            s.kill()
        if self.runtime is not None:
            # The shared test engine outlives this IVR: do not close it.
            self.runtime.services.engine = None
            # The callers were killed above: no drain to wait out (``sip.stop_drain_seconds``
            # is for callers on the line; tests/ivr/test_stop_mid_complaint.py stops so).
            self.runtime.refuse_and_tell()
            self.runtime.hang_up(time.monotonic())
            self.runtime = None

    def press(self, digit: str, *, via: harness.RtpSink) -> None:
        """Key ``digit`` on the one live call as its phone does (RFC 4733 events,
        harness.dtmf_event_payloads), sent from ``via``: the media address the SIPp caller's
        SDP announced (``media_port``), which SIPp sends its audio from too
        (``Sipp._send_from_the_announced_port``): one source, as from a phone. A
        SIPp scenario runs on its own clock; a press from here can follow what the
        caller heard (``wait_heard``)."""
        assert self.runtime is not None
        (call,) = self.runtime.frontend.active_calls()
        rtp = call.rtp
        assert rtp is not None and rtp.event_pt is not None
        stamp = next(_KEY_STAMPS) * 80_000
        for n, payload in enumerate(harness.dtmf_event_payloads(digit)):
            header = struct.pack("!BBHII", 0x80, (0x80 if n == 0 else 0) | rtp.event_pt,
                                 (stamp // 160 + n) & 0xFFFF, stamp, 0x5EED0001)
            via.sock.sendto(header + payload, (rtp.inIP, rtp.inPort))
            time.sleep(0.02)

    # ---- what happened
    def wait_live_calls(self, count: int = 1, timeout: float = 30.0) -> None:
        """Until ``count`` calls are taken in at the front end and not ended."""
        assert self.runtime is not None
        deadline = time.monotonic() + timeout
        while len(self.runtime.frontend.active_calls()) < count:
            assert time.monotonic() < deadline, f"{count} live call(s) expected"
            time.sleep(0.05)

    def wait_greeting(self, sink: harness.RtpSink) -> None:
        """Until the one call is taken in and its greeting heard at ``sink``: the call's
        media is up, so a press from here (``press``) reaches it."""
        self.wait_live_calls()
        deadline = time.monotonic() + 30
        while not heard_so_far(sink):
            assert time.monotonic() < deadline, "no greeting heard"
            time.sleep(0.05)

    def file_earlier(self, text: str, *, caller: str = CALLER, call_id: str = "earlier") -> str:
        """A ticket filed from ``caller``'s number by an earlier call that said ``text``
        (no SIP: the intake's own path); its number."""
        earlier = CallIntake(sessions=self.sessions, domain=self.domain,
                             spool=spool_for(self.settings), call_id=call_id, caller=caller)
        earlier.understood(text)
        filed = earlier.file_ticket()
        assert filed is not None
        earlier.end()
        return filed.number

    def wait_record(self, *, count: int = 1, timeout: float = 20.0) -> list[CallRecord]:
        """Call records once ``count`` calls have ended (outcome settled)."""
        deadline = time.monotonic() + timeout
        while True:
            with self.sessions() as s:
                recs = s.scalars(select(CallRecord).where(CallRecord.ended_at.is_not(None))
                                 .order_by(CallRecord.id)).all()
                if len(recs) >= count:
                    for r in recs:
                        s.expunge(r)
                    return list(recs)
            if time.monotonic() > deadline:
                raise AssertionError(f"{count} ended call record(s) expected, "
                                     f"got {len(recs)}")
            time.sleep(0.1)

    def ticket_of(self, rec: CallRecord) -> Ticket | None:
        if rec.ticket_id is None:
            return None
        with self.sessions() as s:
            t = s.get(Ticket, rec.ticket_id)
            if t is not None:
                s.expunge(t)
            return t

    def jobs(self) -> list[TranscriptionJob]:
        with self.sessions() as s:
            jobs = s.scalars(select(TranscriptionJob)).all()
            for j in jobs:
                s.expunge(j)
            return list(jobs)

    def tickets(self) -> list[Ticket]:
        return detached(self.sessions, select(Ticket).order_by(Ticket.id))


def detached(sessions: sessionmaker[Session], stmt: Select[Any]) -> list[Any]:
    """Rows of ``stmt``, usable after their session is gone."""
    with sessions() as s:
        rows = s.scalars(stmt).all()
        for row in rows:
            s.expunge(row)
        return list(rows)


def carrier_asserts(number: str = CALLER) -> str:
    """The P-Asserted-Identity a carrier's trunk sends: from a trusted source it makes the
    caller's number verified (telephony.sip.identity), so key 1 reads that number's
    tickets; the From user alone is anyone's word."""
    return f"P-Asserted-Identity: <sip:{number}@carrier.example>"


def heard_so_far(sink: harness.RtpSink) -> bytes:
    """What the caller heard so far: the μ-law RTP our IVR sent to ``sink``, decoded."""
    return g711.ulaw_to_pcm16(b"".join(p.payload for p in list(sink.packets)))


def wait_heard(sink: harness.RtpSink, sound: bytes, timeout: float = 90.0) -> None:
    """Until ``sound`` (16-bit PCM as it comes through the line) was heard whole: a caller
    who listens to a prompt before pressing, however long the IVR took to start it (under
    load, recognising the turn before an answer can take seconds)."""
    deadline = time.monotonic() + timeout
    while sound not in heard_so_far(sink):
        assert time.monotonic() < deadline, "the prompt was not heard whole"
        time.sleep(0.05)


def wait_recorded(ivr: IvrUnderTest, sound: bytes, *, then: float = 0.0,
                  timeout: float = 90.0) -> None:
    """Until a recording of the IVR holds the start of ``sound`` (16-bit PCM as it comes
    through the line) and, after that start, as much of the caller's audio as ``sound``
    and ``then`` seconds more: the IVR has taken in the caller saying it, on the caller's
    own audio clock, however late SIPp's player sent it. Then ``press`` keys # whole, as
    the caller's phone would (``CallerScript.key`` can be cut short under load). Only the
    start of ``sound`` must match: the next pcap also cuts the tail of a late-played
    speech."""
    head = sound[:8000]  # 0.5 s: where the speech begins in the recording
    want = len(sound) + 2 * int(8000 * then)
    deadline = time.monotonic() + timeout
    while True:
        for wav in ivr.settings.recordings_dir.rglob("*.wav"):
            audio = wav.read_bytes()[44:]  # the canonical header (wav_header)
            at = audio.find(head)
            while at >= 0 and at % 2:  # samples are two bytes
                at = audio.find(head, at + 1)
            if at >= 0 and len(audio) - at >= want:
                return
        assert time.monotonic() < deadline, "the caller's speech was not recorded"
        time.sleep(0.05)


def through_line(pcm16: bytes) -> bytes:
    """``pcm16`` as it comes through a μ-law line."""
    return g711.ulaw_to_pcm16(g711.pcm16_to_ulaw(pcm16))


def converse(ivr: IvrUnderTest, script: CallerScript, speech: bytes,
             keys: list[tuple[str, str]], *, timeout_s: int = 120,
             early: frozenset[str] = frozenset()) -> harness.RtpSink:
    """A SIPp caller runs ``script``, which says ``speech`` and then stays on the line:
    once the IVR has taken in the speech and 0.3 s more of the caller (``wait_recorded``),
    # ends the turn, and for each (prompt, key) of ``keys`` the key is pressed once that
    prompt was heard whole (keys interrupt prompts, and how long the IVR takes to reach
    one depends on the load) -- or, for a prompt in ``early``, once its first second was
    heard: the key interrupts it (a question whose wait after it is short). The caller's
    media sink, closed: what it heard."""
    prompts = PromptLibrary(ivr.settings)
    sink = harness.RtpSink()
    try:
        sipp = ivr.caller(script, media_port=str(sink.port), timeout_s=timeout_s).start()
        wait_recorded(ivr, through_line(speech), then=0.3)
        ivr.press("#", via=sink)
        for prompt, key in keys:
            sound = through_line(prompts.pcm(prompt))
            wait_heard(sink, sound[:16000] if prompt in early else sound)
            ivr.press(key, via=sink)
        result = sipp.wait()
        time.sleep(0.3)  # our last packets
    finally:
        sink.close()
    assert_ok(result)
    return sink


def run_heard(sipp: Sipp, sink: harness.RtpSink) -> SippResult:
    """Run a SIPp caller whose SDP names ``sink``'s port to its end (what we sent it is in
    ``sink.packets``), then close the sink; the scenario must have gone through."""
    try:
        result = sipp.run()
        time.sleep(0.3)  # our last packets
    finally:
        sink.close()
    assert_ok(result)
    return result


def assert_ok(result: SippResult) -> None:
    assert result.ok, (result.stdout[-2500:] + "\n--- errors ---\n" + result.errors[-2500:])
