"""Fixtures for the SIP/RTP tests: a real Kamailio, SIPp peers, prompts made by espeak-ng
and sox, our SipFrontEnd on free loopback ports, and a small test ``on_call`` handler."""

from __future__ import annotations

import array
import math
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config.settings import SipSettings
from telephony.call import CallHandle, EndReason, PlayResult
from telephony.media import g711
from telephony.media.wav import read_wav_pcm16, write_wav_pcm16
from telephony.sip.frontend import SipFrontEnd
from tests.sip import harness

REQUIRED_TOOLS = ("sipp", "kamailio", "espeak-ng", "sox")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    missing = [t for t in REQUIRED_TOOLS if shutil.which(t) is None
               and not Path(f"/usr/sbin/{t}").exists()]
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"missing {', '.join(missing)}")
    for item in items:
        if "sip" in item.keywords:
            item.add_marker(skip)


# ---------------------------------------------------------------------------------------
# audio
# ---------------------------------------------------------------------------------------


def tts_wav(text: str, out: Path, voice: str = "cmn") -> Path:
    """Mandarin (or other) speech as 16-bit 8 kHz mono WAV, like a phone prompt."""
    raw = out.with_suffix(".espeak.wav")
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(raw), text], check=True)
    subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e",
                    "signed-integer", str(out), "gain", "-n", "-3"], check=True,
                   capture_output=True)
    return out


def rms(pcm16: bytes) -> float:
    samples = array.array("h", pcm16[: len(pcm16) // 2 * 2])
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


@dataclass(frozen=True)
class AudioAssets:
    prompt_wav: Path  # short Mandarin prompt we play
    long_prompt_wav: Path  # ~5 s, for BYE-mid-prompt
    speech_pcap: Path  # caller's speech as PCMU RTP, for SIPp's play_pcap_audio
    speech_pcm16: bytes  # what that pcap decodes to
    speech_ms: int


@pytest.fixture(scope="session")
def audio(tmp_path_factory: pytest.TempPathFactory) -> AudioAssets:
    d = tmp_path_factory.mktemp("audio")
    prompt = tts_wav("您好，请按键。", d / "prompt.wav")
    long_prompt = tts_wav("您好，这里是一二三四五市民服务热线，请在提示音后说出您的诉求。",
                          d / "long_prompt.wav")
    speech = tts_wav("我家楼下的路灯坏了。", d / "speech.wav")
    ulaw = g711.pcm16_to_ulaw(read_wav_pcm16(speech))
    ulaw += b"\xff" * (-len(ulaw) % 160)
    payloads = [ulaw[i:i + 160] for i in range(0, len(ulaw), 160)]
    pcap = harness.write_rtp_pcap(d / "speech.pcap", payloads)
    return AudioAssets(prompt, long_prompt, pcap, g711.ulaw_to_pcm16(ulaw),
                       speech_ms=20 * len(payloads))


# ---------------------------------------------------------------------------------------
# peers
# ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def kamailio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Kamailio]:
    k = harness.Kamailio(tmp_path_factory.mktemp("kamailio")).start()
    yield k
    k.stop()


@pytest.fixture
def sipp_dir(tmp_path: Path) -> Path:
    d = tmp_path / "sipp"
    d.mkdir()
    return d


@pytest.fixture
def sipps() -> Iterator[list[harness.Sipp]]:
    """Register every SIPp started in a test here; leftovers are killed afterwards."""
    started: list[harness.Sipp] = []
    yield started
    for s in started:
        s.kill()


# ---------------------------------------------------------------------------------------
# our side
# ---------------------------------------------------------------------------------------


@dataclass
class CallRecord:
    call: CallHandle
    caller: str
    answered: bool = False
    play_result: PlayResult | None = None
    digits: str = ""
    recorded: bytearray = field(default_factory=bytearray)
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def end_reason(self) -> EndReason | None:
        return self.call.end_reason


class EchoTestHandler:
    """The test ``on_call``: answer (optionally late), record incoming audio, play a prompt,
    collect DTMF, then hang up or wait for the caller to."""

    def __init__(self, prompt: Path, *, answer_delay: float = 0.0, digits_wanted: int = 0,
                 dtmf_timeout: float = 3.0, hang_up: bool = False,
                 interrupt_on_dtmf: bool = False,
                 wait_for_bye: float = 15.0, recording_dir: Path | None = None) -> None:
        self.prompt = prompt
        self.answer_delay = answer_delay
        self.digits_wanted = digits_wanted
        self.dtmf_timeout = dtmf_timeout
        self.hang_up = hang_up
        self.interrupt_on_dtmf = interrupt_on_dtmf
        self.wait_for_bye = wait_for_bye
        self.recording_dir = recording_dir
        self.records: list[CallRecord] = []
        self.first_call = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, call: CallHandle) -> None:
        rec = CallRecord(call=call, caller=call.caller)
        with self._lock:
            self.records.append(rec)
        self.first_call.set()
        try:
            if self.answer_delay:
                call.wait_ended(self.answer_delay)
            rec.answered = call.answer()
            if not rec.answered:
                return
            recorder = threading.Thread(target=self._record, args=(call, rec), daemon=True)
            recorder.start()
            rec.play_result = call.play_wav(self.prompt, interrupt_on_dtmf=self.interrupt_on_dtmf)
            while len(rec.digits) < self.digits_wanted:
                key = call.get_dtmf(timeout=self.dtmf_timeout)
                if key is None:
                    break
                rec.digits += key
            if self.hang_up:
                call.hangup()
            else:
                call.wait_ended(self.wait_for_bye)
            recorder.join(timeout=2)
            # Keys pressed after we stopped collecting (e.g. during the final wait).
            rec.digits += call.flush_dtmf()
            if self.recording_dir is not None:
                write_wav_pcm16(self.recording_dir / f"{call.call_id[:16]}.wav",
                                bytes(rec.recorded))
        finally:
            rec.done.set()

    @staticmethod
    def _record(call: CallHandle, rec: CallRecord) -> None:
        while (frame := call.read_pcm16(timeout=0.5)) is not None or not call.ended:
            if frame:
                rec.recorded += frame

    def wait_records(self, n: int, timeout: float = 20.0) -> list[CallRecord]:
        self.first_call.wait(timeout)
        for rec in list(self.records)[:n]:
            assert rec.done.wait(timeout), "handler did not finish"
        assert len(self.records) >= n, f"expected {n} calls, got {len(self.records)}"
        return self.records[:n]


FrontEndFactory = Callable[..., SipFrontEnd]


@pytest.fixture
def make_frontend() -> Iterator[FrontEndFactory]:
    started: list[SipFrontEnd] = []

    def make(on_call: Callable[[CallHandle], None] | None, *, mode: str = "direct",
             kamailio: harness.Kamailio | None = None, max_calls: int = 4,
             username: str | None = None, **kwargs: object) -> SipFrontEnd:
        rtp_low = harness.free_port_block(40)
        settings = SipSettings(
            mode=mode, bind_ip=harness.LOOPBACK, port=harness.free_port(),
            rtp_port_low=rtp_low, rtp_port_high=rtp_low + 39,
            registrar_ip=harness.LOOPBACK,
            registrar_port=kamailio.port if kamailio else harness.free_port(),
            username=username or f"hotline{rtp_low}", max_calls=max_calls,
        )
        fe = SipFrontEnd(settings, on_call, **kwargs)  # type: ignore[arg-type]
        started.append(fe)
        fe.start()
        return fe

    yield make
    for fe in started:
        fe.stop()


# ---------------------------------------------------------------------------------------
# the IVR dialogue (tests/ivr/test_dialogue_*.py): real Vosk, SQLite, our start_ivr
# ---------------------------------------------------------------------------------------

# Korean sentences whose words are all in the test model's vocabulary: the phrase list the
# live recognizer is restricted to in these tests (settings.asr.phrase_list).
PHRASES = ["물이 나오지 않습니다", "가스 냄새가 납니다", "버스가 오지 않습니다",
           "집에 물이 샙니다", "빨리 와 주세요"]


@pytest.fixture(scope="session")
def vosk_engine(vosk_model: object) -> Iterator[object]:
    from asr.engine import AsrEngine

    # The session's one loaded model (tests/conftest.py), shared by every call like in the
    # service. Confidence 0: the ask-again path has its own test, which raises it.
    engine = AsrEngine(vosk_model, workers=0, low_confidence=0.0)  # type: ignore[arg-type]
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def korean_speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    from tests.sip.callers import espeak_pcm16

    d = tmp_path_factory.mktemp("korean")
    return {p: espeak_pcm16(p, d / str(i)) for i, p in enumerate(PHRASES)}


@pytest.fixture(scope="session")
def prompt_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every catalog prompt generated once per session (copied into each test's data dir)."""
    from config.settings import Settings
    from ivr.prompts import PromptLibrary

    d = tmp_path_factory.mktemp("prompt-data")
    PromptLibrary(Settings(data_dir=d, prompts_dir=d / "none",
                           sip=SipSettings(prompt_speed=PROMPT_SPEED))).warm()
    return d / "prompts"


PROMPT_SPEED = 260  # faster espeak-ng in tests: shorter calls, same flow


@pytest.fixture(scope="session")
def short_greeting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 'recorded' greeting as an operator would drop into config/prompts: espeak-ng's own
    22 kHz output, so the library's sox conversion is exercised too."""
    d = tmp_path_factory.mktemp("recorded")
    out = d / "greeting.wav"
    subprocess.run(["espeak-ng", "-v", "cmn", "-s", "220", "-w", str(out), "您好，请讲。"],
                   check=True)
    return out


@pytest.fixture
def ivr_factory(tmp_path: Path, sqlite_url: str, korean_speech: dict[str, bytes],
                prompt_cache: Path, short_greeting: Path) -> Iterator[Callable[..., object]]:
    """Start our IVR (start_ivr, direct mode) on SQLite with the demo city seeded. One backend
    is enough here: these tests are about the call; tests/intake covers both databases.
    ``short_greeting=True`` (default) drops a recorded greeting into the prompts dir."""
    from tests.ivr.ivrkit import IvrUnderTest, ivr_settings
    from tests.support.city import seed_city
    from ticketing.context import Domain
    from ticketing.db import make_engine, make_session_factory

    made: list[IvrUnderTest] = []
    engines = []

    def make(*, engine: object | None, database_url: str | None = None,
             greeting: bool = False, sessions: object | None = None,
             **sip: object) -> IvrUnderTest:
        settings = ivr_settings(tmp_path / f"ivr{len(made)}", database_url or sqlite_url,
                                prompt_speed=PROMPT_SPEED, phrase_list=list(PHRASES),
                                recorded_prompts=None if greeting else
                                {"greeting": short_greeting}, **sip)
        domain = Domain.load(settings)
        if sessions is None:
            db = make_engine(settings.database_url)
            engines.append(db)
            sessions = make_session_factory(db)
            seed_city(sessions, domain)  # type: ignore[arg-type]
        ivr = IvrUnderTest(settings, sessions, domain,  # type: ignore[arg-type]
                           workdir=tmp_path / f"ivr{len(made)}")
        made.append(ivr)
        return ivr.start(engine, prompt_cache)

    yield make
    for ivr in made:
        ivr.stop()
    for db in engines:
        db.dispose()
