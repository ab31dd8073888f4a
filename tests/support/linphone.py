"""linphone's console client (``linphonec``, Debian ``linphone-cli`` 5.1) as a second real
SIP stack on loopback, headless: no sound card, WAV files instead ("soundcard use files"),
commands on stdin, its answers on stdout.

What it takes to run it on a machine with no audio device and a non-loopback interface
(found by trying, liblinphone 5.1.65):
- ``[sip] bind_address`` and ``[rtp] bind_address`` 127.0.0.1, else it listens on every
  interface and advertises the machine's outward address in its SDP;
- ``ipv6 disable`` as a command: with IPv6 on (its default, and ``use_ipv6=0`` in the rc is
  not honoured by linphonec) its only listening point is IPv6 and an INVITE to 127.0.0.1
  fails with "No listening point matching";
- ``sip_tcp_port``/``sip_tls_port`` -1, else it takes TCP 5060 and parallel runs collide;
- ``guess_hostname=0``, else its From host is the outward address, not the contact's;
- ``register_only_when_network_is_up=0``: its first REGISTER fails (IPv6, see above) and,
  with the default 1, it never tries again.
- ``$HOME/.local/share/linphone`` must exist (see ``start``), else it answers every
  incoming call 503 (its core stays in GlobalStartup; "states global" shows it).
- no ``gruu`` in ``[sip] supported``: registered, it would answer with its GRUU as Contact
  (``sip:user@127.0.0.1;gr=...``, no port), where the caller's ACK and BYE go when the
  proxy does not record-route (the test Kamailio does not) -- port 5060, nobody.
It sends keys as RFC 2833 telephone-events (``[sip] use_rfc2833`` is on by default, SIP
INFO off): a digit typed on its command line during a call is sent that way.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from tests.support import harness

AVAILABLE = shutil.which("linphonec") is not None


class Linphone:
    """One ``linphonec`` process: ``user`` at 127.0.0.1, optionally registered at a
    registrar (Kamailio) and answering every call by itself (``auto_answer``). ``play`` is
    what it says into a call, ``record`` where it writes what it hears (WAV)."""

    def __init__(self, workdir: Path, *, user: str, play: Path, record: Path,
                 registrar_port: int | None = None, auto_answer: bool = False) -> None:
        self.workdir = workdir
        self.user = user
        self.play = play
        self.record = record
        self.registrar_port = registrar_port
        self.auto_answer = auto_answer
        self.sip_port = harness.free_port()
        self.rtp_port = harness.free_port_block(4)
        self.log_path = workdir / "linphone.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._out: list[str] = []
        self._cond = threading.Condition()

    # ---- set-up
    def config_text(self) -> str:
        proxy = ""
        if self.registrar_port is not None:
            registrar = f"sip:{harness.LOOPBACK}:{self.registrar_port}"
            proxy = f"""
[proxy_0]
reg_proxy={registrar}
reg_identity=sip:{self.user}@{harness.LOOPBACK}
reg_expires=600
reg_sendregister=1
publish=0
"""
        # Only PCMU (and its telephone-event): the same codec our front end prefers, so what
        # linphone records is comparable sample by sample.
        return f"""[sip]
sip_port={self.sip_port}
sip_tcp_port=-1
sip_tls_port=-1
bind_address={harness.LOOPBACK}
contact=sip:{self.user}@{harness.LOOPBACK}
guess_hostname=0
inc_timeout=30
register_only_when_network_is_up=0
register_only_when_upnp_is_ok=0
default_proxy={0 if self.registrar_port is not None else -1}
supported=replaces, outbound
[rtp]
bind_address={harness.LOOPBACK}
audio_rtp_port={self.rtp_port}
video_rtp_port={self.rtp_port + 2}
[sound]
echocancellation=0
[video]
display=0
capture=0
[audio_codec_0]
mime=PCMU
rate=8000
channels=1
enabled=1
[audio_codec_1]
mime=opus
rate=48000
channels=2
enabled=0
[audio_codec_2]
mime=speex
rate=16000
channels=1
enabled=0
[audio_codec_3]
mime=speex
rate=8000
channels=1
enabled=0
[audio_codec_4]
mime=PCMA
rate=8000
channels=1
enabled=0
[audio_codec_5]
mime=G729
rate=8000
channels=1
enabled=0
{proxy}"""

    def start(self) -> Linphone:
        self.workdir.mkdir(parents=True, exist_ok=True)
        rc = self.workdir / "linphonerc"
        rc.write_text(self.config_text())
        # Its call-log database goes under $HOME: keep it in the workdir. The directory must
        # exist: when the database cannot be opened the core never leaves GlobalStartup and
        # refuses every incoming call with 503 (outgoing ones still work).
        (self.workdir / ".local" / "share" / "linphone").mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "HOME": str(self.workdir)}
        cmd = ["linphonec", "-c", str(rc), "-d", "5", "-l", str(self.log_path)]
        if self.auto_answer:
            cmd.append("-a")
        self.proc = harness.spawn(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self._set_up()
        except BaseException:
            self.stop()  # a phone that never came up must not outlive the test
            raise
        return self

    def _set_up(self) -> None:
        self.command("ipv6 disable")
        self.command("soundcard use files")
        self.command(f"play {self.play}")
        self.command(f"record {self.record}")
        self.command("states global")
        self.wait_for("Using wav files instead of soundcard", timeout=10)
        self.wait_for("LinphoneGlobalOn", timeout=10)
        if self.registrar_port is not None:
            self._wait_registered(timeout=10)

    def _wait_registered(self, timeout: float) -> None:
        # linphonec prints nothing when a registration succeeds: ask until it says so.
        deadline = time.monotonic() + timeout
        while True:
            self.command("status register")
            try:
                self.wait_for("registered, identity=", timeout=0.5)
                return
            except AssertionError:
                if time.monotonic() > deadline:
                    raise

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._cond:
                self._out.append(raw.decode(errors="replace"))
                self._cond.notify_all()

    # ---- driving it
    def command(self, line: str) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(f"{line}\n".encode())
        self.proc.stdin.flush()

    def call(self, uri: str) -> None:
        self.command(f"call {uri}")

    def keys(self, digits: str, *, gap: float = 0.4) -> None:
        """Typed one by one during a call: each goes out as an RFC 2833 event."""
        for digit in digits:
            self.command(digit)
            time.sleep(gap)

    def wait_for(self, text: str, timeout: float) -> None:
        """Until ``text`` appears in what it printed (since it started)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not any(text in line for line in self._out):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"linphonec never printed {text!r}:\n{self.output}"
                                         f"\n--- log ---\n{self.log_tail()}")
                self._cond.wait(left)

    @property
    def output(self) -> str:
        with self._cond:
            return "".join(self._out)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 3000) -> str:
        return self.log_text()[-chars:]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.command("quit")
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)
