"""Fixtures and helpers for the SIP/RTP tests (tests/telephony, tests/ivr): a real Kamailio,
SIPp peers, a baresip config, prompts made by espeak-ng and sox, our SipFrontEnd on free
loopback ports, and a small test ``on_call`` handler. Conftests import the fixtures
(and the hook that marks missing tools) by name."""

from __future__ import annotations

import array
import math
import os
import shutil
import signal
import subprocess
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config.settings import SipSettings
from telephony.call import CallHandle, EndReason, PlayResult
from telephony.media import g711
from telephony.media.prompts import espeak_argv
from telephony.media.wav import read_wav_pcm16, write_wav_pcm16
from telephony.sip.frontend import SipFrontEnd
from tests.support import harness
from ticketing.phones import call_number

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
    subprocess.run(espeak_argv(text, raw, voice=voice), check=True)
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


MODULE_DIRS = ("/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules")


def baresip_config(confdir: Path, *, source: Path, dumps: Path,
                   kamailio: harness.Kamailio, ip: str = harness.LOOPBACK,
                   user: str = "citizen", codec: str = "PCMU") -> None:
    """A config dir for baresip with no sound card: aufile plays ``source`` into the call,
    the sndfile filter dumps what it hears to ``dumps``/dump-*-dec.wav (baresip 1.0's
    aufile cannot be a player); commands come on stdin (stdio UI). ``ip``: another 127.x
    address than the proxy's, where a proxy and a phone must be told apart."""
    module_dir = next((d for d in MODULE_DIRS if Path(d, "g711.so").exists()), MODULE_DIRS[0])
    rtp = harness.free_port_block(20)
    confdir.mkdir(parents=True, exist_ok=True)
    (confdir / "config").write_text(f"""poll_method epoll
sip_listen {ip}:{harness.free_port()}
net_interface {ip}
module_path {module_dir}
module stdio.so
module g711.so
module aufile.so
module sndfile.so
module_app account.so
module_app menu.so
audio_source aufile,{source}
snd_path {dumps}
rtp_ports {rtp}-{rtp + 19}
""")
    # A registered softphone, like a citizen's SIP client on the proxy.
    (confdir / "accounts").write_text(
        f"<sip:{user}@127.0.0.1:{kamailio.port}>;regint=600;audio_codecs={codec}\n")


@contextmanager
def running_baresip(confdir: Path, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """baresip on ``confdir`` (``baresip_config``), its stdin open for commands, its output
    in ``log_path``; killed with its group if still running when the block ends."""
    with log_path.open("wb") as log:
        proc = harness.spawn(["baresip", "-f", str(confdir)], stdin=subprocess.PIPE,
                             stdout=log, stderr=subprocess.STDOUT)
        assert proc.stdin is not None
        try:
            yield proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def baresip_command(proc: subprocess.Popen[bytes], text: str) -> None:
    """One command line to a ``running_baresip`` ("/dial sip:...", "/quit")."""
    assert proc.stdin is not None
    proc.stdin.write(f"{text}\n".encode())
    proc.stdin.flush()


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
             username: str | None = None, bind_ip: str = harness.LOOPBACK,
             trusted_sources: tuple[str, ...] = (), **kwargs: object) -> SipFrontEnd:
        rtp_low = harness.free_port_block(40)
        settings = SipSettings(
            mode=mode, bind_ip=bind_ip, port=harness.free_port(),
            rtp_port_low=rtp_low, rtp_port_high=rtp_low + 39,
            registrar_ip=harness.LOOPBACK,
            registrar_port=kamailio.port if kamailio else harness.free_port(),
            username=username or f"hotline{rtp_low}", max_calls=max_calls,
            trusted_sources=list(trusted_sources),
        )
        fe = SipFrontEnd(settings, on_call, read_number=call_number,  # type: ignore[arg-type]
                         **kwargs)
        started.append(fe)
        fe.start()
        return fe

    yield make
    for fe in started:
        fe.stop()
