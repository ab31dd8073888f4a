"""Loopback SIP test peers: Kamailio, SIPp, an RTP sink, and a pcap writer.

Everything binds 127.0.0.1 only, on ports probed free at start, so several test runs (and
other engineers' runs) can share a machine. Every process is started by :func:`spawn`, in
its own process group, killed by its own pid, and killed with the test process however it
ends (kill -9 too).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
KAMAILIO_CFG = Path(__file__).resolve().parent / "kamailio" / "kamailio.cfg.tmpl"
FRONT_CFG = Path(__file__).resolve().parents[2] / "deploy" / "kamailio" / "kamailio.cfg"
SIPP_SHARE = Path("/usr/share/sip-tester")
LOOPBACK = "127.0.0.1"

_port_lock = threading.Lock()
_handed_out: set[int] = set()


def _probe(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((LOOPBACK, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def _handed_out_range() -> range:
    """Ports the kernel never picks by itself: below its ephemeral range. A probed-free port
    is bound later by a child process (SIPp, Kamailio, PostgreSQL, a service), and one inside
    that range could meanwhile become any socket's source port: a connect(), a bind to port 0
    (every RTP sink, PostgreSQL client, HTTP client of every test process on the machine)."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768  # Linux's default
    # A machine whose ephemeral range starts too low for this keeps the old random spread.
    return range(10000, low) if low >= 20000 else range(30000, 60000)


def _shipped_rtp_ranges() -> list[range]:
    """The two front ends' shipped RTP ranges (config.settings defaults). A test that moves
    one of them and keeps the other as shipped must not draw a block inside the other:
    the settings refuse overlapping ranges (``Settings._rtp_ranges_apart``, loose27)."""
    from config.settings import OutboundSettings, SipSettings

    sip, out = SipSettings.model_fields, OutboundSettings.model_fields
    return [range(sip["rtp_port_low"].default, sip["rtp_port_high"].default + 1),
            range(out["sip_rtp_port_low"].default, out["sip_rtp_port_high"].default + 1)]


def free_port_block(size: int = 2) -> int:
    """First port of ``size`` consecutive free ports (UDP and TCP), never handed out twice
    in this process, and never inside a shipped RTP range. Random base so parallel runs
    rarely collide."""
    ports = _handed_out_range()
    shipped = _shipped_rtp_ranges()
    with _port_lock:
        for _ in range(500):
            base = random.randrange(ports.start, ports.stop - size) & ~1
            block = range(base, base + size)
            if any(p in _handed_out for p in block) or any(
                    block.start < r.stop and r.start < block.stop for r in shipped):
                continue
            if all(_probe(p) for p in block):
                _handed_out.update(block)
                return base
    raise RuntimeError("no free port block on 127.0.0.1")


def free_port() -> int:
    return free_port_block(1)


# ---------------------------------------------------------------------------------------
# Peers die with the test process
# ---------------------------------------------------------------------------------------

# The reaper: a small process of its own session that reads the process groups of this
# test process's peers on its stdin and, once this process is gone (exit, crash, kill -9 of
# a pytest worker), kills every group still there. A peer's group, not only its pid:
# Kamailio's children, and what `hotline serve` starts, go with it. A group whose leader's
# pid went to another process since (its start time differs) is left alone.
# It watches this process's pid (a pidfd; getppid() polled where there is none), not only
# the pipe: the pipe's end of file comes when the last copy of its write end closes, and a
# child forked from this process (test_crash's workers, test_backlog_drain's doomed child,
# any helper) holds a copy for as long as it lives; closing that copy at fork
# (os.register_at_fork) would reach os.fork() alone, not a fork from C, a Popen with
# close_fds=False nor a pass_fds that happens to hold it.
# Neither PR_SET_PDEATHSIG (it fires when the thread that forked ends, and reaches no
# child the peer forks) nor atexit (never run on kill -9) would do: an interrupted run
# left a linphonec spinning on a core for two hours.
_REAPER = """
import os, select, signal, sys, time

def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None

def started(pid):
    fields = stat(pid)
    return fields[19] if fields else None

def children(pid):
    found = []
    for name in os.listdir("/proc"):
        fields = stat(name) if name.isdigit() else None
        if fields and fields[1] == str(pid):
            found.append(int(name))
    return found

parent = int(sys.argv[1])
try:
    watch = os.pidfd_open(parent)
except (AttributeError, OSError):
    watch = None
gone = os.getppid() != parent  # it ended before the pidfd, or the pidfd is another's
groups = {}  # group leader -> (its start time, a signal it is sent first, or 0)
pending = b""

def take(chunk):
    global pending
    *lines, pending = (pending + chunk).split(b"\\n")
    for line in lines:
        pid, first = (int(n) for n in line.split())
        groups[pid] = (started(pid), first)

while not gone:
    watched = [0] if watch is None else [0, watch]
    ready = select.select(watched, [], [], 1.0 if watch is None else None)[0]
    if watch in ready or os.getppid() != parent:
        break
    if 0 in ready:
        chunk = os.read(0, 4096)
        if not chunk:
            break
        take(chunk)
while select.select([0], [], [], 0)[0]:  # what it wrote before it went
    chunk = os.read(0, 4096)
    if not chunk:
        break
    take(chunk)

def ours(pid, start):
    return start is not None and started(pid) == start

asked = []
for pid, (start, first) in groups.items():
    if not ours(pid, start):
        continue
    try:
        if first:  # its own shutdown stops the children it put in sessions of their own
            os.kill(pid, first)
            asked.append((pid, start))
        else:
            os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
deadline = time.monotonic() + 1.0
while time.monotonic() < deadline and any(ours(p, s) for p, s in asked):
    time.sleep(0.05)
for pid, start in asked:
    if ours(pid, start):
        for child in children(pid):
            try:
                os.killpg(child, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
"""
_reaper_lock = threading.Lock()
_reaper: tuple[int, subprocess.Popen[bytes]] | None = None  # (our pid, the reaper)


def die_with_us(pid: int, first: int = 0) -> None:
    """Hand the group ``pid`` leads (a peer :func:`spawn` started, or a daemon that made a
    session of its own: PostgreSQL's postmaster) to this process's reaper, started on first
    use, and again in a forked child, whose peers are its own. ``first``: a signal ``pid``
    alone is sent first, for a daemon whose children are in sessions of their own (SIGQUIT,
    the postmaster's immediate shutdown); its group and children are killed a second later
    if it is still there."""
    global _reaper
    with _reaper_lock:
        for _ in range(2):
            if _reaper is None or _reaper[0] != os.getpid() or _reaper[1].poll() is not None:
                _reaper = (os.getpid(), subprocess.Popen(
                    [sys.executable, "-c", _REAPER, str(os.getpid())], stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True))
            stdin = _reaper[1].stdin
            assert stdin is not None
            try:
                stdin.write(f"{pid} {int(first)}\n".encode())
                stdin.flush()
                return
            except OSError:  # the reaper was killed: start another
                _reaper = None
        raise RuntimeError("no reaper for the test's peers")


def fork_with_us() -> int:
    """``os.fork()`` for a helper process of a test (a worker, a lock holder): the child
    (0 returned) leads a session of its own, and is killed with this test process however
    that ends, as a peer :func:`spawn` started is; the parent gets the child's pid."""
    told, tell = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(told)
        os.setsid()
        os.close(tell)  # end of file: the parent hands over a group that exists
        return 0
    os.close(tell)
    try:
        os.read(told, 1)
    finally:
        os.close(told)
    die_with_us(pid)
    return pid


def spawn(cmd: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """Start a peer (SIPp, Kamailio, baresip, linphonec, `hotline serve`, a child Python)
    as ``subprocess.Popen(cmd, **kwargs)`` would, in a session of its own (its group is
    killed by :func:`_kill_group`), killed with this test process however that ends."""
    proc: subprocess.Popen[Any] = subprocess.Popen(cmd, start_new_session=True, **kwargs)
    try:
        die_with_us(proc.pid)
    except BaseException:
        _kill_group(proc, signal.SIGKILL)
        raise
    return proc


def _kill_group(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)  # our own session: the process and its forked children
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


# ---------------------------------------------------------------------------------------
# Kamailio
# ---------------------------------------------------------------------------------------


def first_http_answer(url: str, proc: subprocess.Popen[bytes], log: Path,
                      deadline_seconds: float = 120.0) -> Any:
    """The first answer (an httpx.Response) of a server process starting up (`hotline
    serve`): polled until it answers; fails with the process's log if it exits first or
    takes longer than ``deadline_seconds``."""
    import httpx

    deadline = time.monotonic() + deadline_seconds
    while True:
        assert proc.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        try:
            return httpx.get(url, timeout=2)
        except httpx.HTTPError:
            time.sleep(0.3)


def sip_options(port: int, timeout: float = 0.3) -> bytes | None:
    """Send one SIP OPTIONS to ``port`` on loopback; the answer, or None (no answer)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    s.bind((LOOPBACK, 0))
    me = s.getsockname()[1]
    msg = (
        f"OPTIONS sip:ping@{LOOPBACK}:{port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {LOOPBACK}:{me};branch=z9hG4bKping{me}\r\n"
        f"From: <sip:ping@{LOOPBACK}>;tag=p{me}\r\nTo: <sip:ping@{LOOPBACK}>\r\n"
        f"Call-ID: ping{me}@{LOOPBACK}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 5\r\n"
        "Content-Length: 0\r\n\r\n"
    ).encode()
    try:
        s.sendto(msg, (LOOPBACK, port))
        return s.recv(4096)
    except OSError:
        return None
    finally:
        s.close()


class Kamailio:
    """A registrar/proxy without authentication, in the foreground, with its own runtime
    directory and pid file."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.cfg = workdir / "kamailio.cfg"
        self.cfg.write_text(self.config_text())
        self.log_path = workdir / "kamailio.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Kamailio:
        exe = shutil.which("kamailio") or "/usr/sbin/kamailio"
        self._log = self.log_path.open("wb")
        self.proc = spawn(
            [exe, "-DD", "-E", "-f", str(self.cfg), "-Y", str(self.workdir),
             "-P", str(self.workdir / "kamailio.pid"), "-m", "32", "-M", "8"],
            stdout=self._log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kamailio exited: {self.log_path.read_text()[-2000:]}")
            if b"probe_max_receive_buffer" in self.log_path.read_bytes() and self._answers():
                return self
            time.sleep(0.1)
        raise RuntimeError("kamailio did not come up")

    def config_text(self) -> str:
        return KAMAILIO_CFG.read_text().replace("@PORT@", str(self.port))

    def _answers(self) -> bool:
        """True once it answers an OPTIONS (to itself: 404 or 200 both prove it's up)."""
        answer = sip_options(self.port)
        return answer is not None and answer.startswith(b"SIP/2.0")

    def stop(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc)
            self._log.close()


class FrontKamailio(Kamailio):
    """The production front, deploy/kamailio/kamailio.cfg as shipped (dispatcher to the IVR
    nodes, pike), with only its listen address and dispatcher list moved to loopback."""

    def __init__(self, workdir: Path, nodes: list[int], carrier: str = "127.0.0.2/32",
                 node_ip: str = LOOPBACK) -> None:
        """``carrier``: the addresses standing in for the carrier's SBC (never pike-checked);
        the tests' citizens call from 127.0.0.2, scanners from other 127.x addresses.
        ``node_ip``: the nodes' address, another than the front's own to tell, as in a
        deployment, a request for a node from one for the front."""
        self.nodes = nodes
        self.carrier = carrier
        self.node_ip = node_ip
        super().__init__(workdir)

    def config_text(self) -> str:
        dlist = self.workdir / "dispatcher.list"
        dlist.write_text("".join(f"1 sip:{self.node_ip}:{p} 0 0\n" for p in self.nodes))
        text = FRONT_CFG.read_text()
        for old, new in (("udp:0.0.0.0:5060", f"udp:{LOOPBACK}:{self.port}"),
                         ("/etc/kamailio/dispatcher.list", str(dlist)),
                         ("!CARRIER_NETS!192.0.2.1/32!", f"!CARRIER_NETS!{self.carrier}!")):
            if old not in text:
                raise ValueError(f"{FRONT_CFG} no longer has {old!r}")
            text = text.replace(old, new)
        return text

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def routed_to(self) -> set[int]:
        """Ports of the nodes the dispatcher sends calls to now (flag A, active), as its
        ctl socket reports them: what its probing concluded, not a guess at how long it
        takes."""
        out = subprocess.run(
            [shutil.which("kamcmd") or "/usr/sbin/kamcmd", "-s",
             f"unix:{self.workdir / 'kamailio_ctl'}", "dispatcher.list"],
            capture_output=True, text=True, timeout=10, check=True).stdout
        found = re.findall(r"URI: sip:[\d.]+:(\d+)\s+FLAGS: (\w+)", out)
        return {int(port) for port, flags in found if flags.startswith("A")}


# ---------------------------------------------------------------------------------------
# SIPp
# ---------------------------------------------------------------------------------------


def render_scenario(name: str, dest_dir: Path, **subs: str) -> Path:
    """Copy scenarios/<name> with @KEY@ markers replaced; unknown markers are an error."""
    text = (SCENARIOS / name).read_text()
    for key, value in subs.items():
        text = text.replace(f"@{key}@", value)
    body = text.split("-->", 1)[1] if text.lstrip().startswith("<?xml") else text
    leftover = re.findall(r"@[A-Z_]+@", body)
    if leftover:
        raise ValueError(f"unfilled markers in {name}: {leftover[:3]}")
    dest_dir.mkdir(parents=True, exist_ok=True)
    out = dest_dir / f"{name.removesuffix('.xml')}-{random.randrange(1 << 30):x}.xml"
    out.write_text(text)
    return out


def _uac_send(method: str, cseq: int, body: str = "", retrans: bool = False) -> str:
    """A SIPp step sending ``method`` in the caller's dialog (ACK, BYE), with ``body``
    (Content-Type and the rest, "" for none)."""
    attrs = ' retrans="500"' if retrans else ""
    return f"""  <send{attrs}>
    <![CDATA[
{method} [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: "citizen" <sip:@CALLER@@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
[last_To:]
[routes]
Call-ID: [call_id]
CSeq: {cseq} {method}
Contact: <sip:@CALLER@@[local_ip]:[local_port]>
Max-Forwards: 70
{body or "Content-Length: 0" + chr(10)}
    ]]>
  </send>"""


def _sdp(media_port: str, codecs: str, rtpmaps: str, direction: str = "sendrecv") -> str:
    """A SIPp SDP body (an offer, or the answer in an ACK) with its Content headers."""
    return f"""Content-Type: application/sdp
Content-Length: [len]

v=0
o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio {media_port} RTP/AVP {codecs}
{rtpmaps}
a={direction}
"""


def _formats(codecs: str, telephone_event: bool) -> tuple[str, str]:
    """The m= line's payload types for ``codecs`` ("0 8"...) and their a=rtpmap lines."""
    names = {"0": "PCMU", "8": "PCMA", "9": "G722", "18": "G729", "3": "GSM"}
    rtpmaps = "\n".join(f"a=rtpmap:{c} {names[c]}/8000" for c in codecs.split())
    if telephone_event:
        codecs += " 101"
        rtpmaps += "\na=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15"
    return codecs, rtpmaps


def uac_reinvite(cseq: int, *, codecs: str, media_port: str = "[media_port]",
                 telephone_event: bool = True, direction: str = "sendrecv") -> str:
    """Scenario steps for the caller's re-INVITE in its call (uac_call.xml's @MEDIA@):
    an offer of ``codecs`` at ``media_port`` (``direction`` sendonly: a hold), our 200,
    its ACK."""
    formats, rtpmaps = _formats(codecs, telephone_event)
    return "\n".join([
        _uac_send("INVITE", cseq, _sdp(media_port, formats, rtpmaps, direction),
                  retrans=True),
        '  <recv response="100" optional="true" />',
        '  <recv response="200" />',
        _uac_send("ACK", cseq)])


def uac_subs(*, caller: str = "13800138000", codecs: str = "0", media_port: str = "[media_port]",
             media: str = "", ending: str = "bye", telephone_event: bool = True
             ) -> dict[str, str]:
    """``telephone_event=False``: the offer has no telephone-event (an old PSTN gateway,
    keys only as tones in the audio)."""
    codecs, rtpmaps = _formats(codecs, telephone_event)
    endings = {
        # The caller's last request: its CSeq above every one the @MEDIA@ block may send
        # (re-INVITEs from 2, INFOs from 10), as a phone's only goes up (RFC 3261
        # 12.2.1.1); a lower one is out of order, answered 500, the call left up.
        "bye": _uac_send("BYE", 100, retrans=True) + """
  <recv response="200" crlf="true" />""",
        "wait_bye": """  <recv request="BYE" />
  <send>
    <![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

    ]]>
  </send>
  <timewait milliseconds="300"/>""",
    }
    # (The @MEDIA@ block may hold requests of the caller's too: uac_reinvite.)
    return {"CALLER": caller, "CODECS": codecs, "RTPMAPS": rtpmaps, "MEDIA_PORT": media_port,
            "MEDIA": media.replace("@CALLER@", caller),
            "ENDING": endings[ending].replace("@CALLER@", caller)}


_DELAYED_ACKS = {
    "answer": _uac_send("ACK", 1, _sdp("@MEDIA_PORT@", "@CODECS@", "@RTPMAPS@")),
    "no_sdp": _uac_send("ACK", 1),
    "none": "",
}


def delayed_offer_subs(*, ack: str = "answer", **uac: Any) -> dict[str, str]:
    """The markers of scenarios/uac_delayed_offer.xml: ``ack`` is "answer" (the ACK carries
    the answer: ``codecs``, telephone-event unless told otherwise, as ``uac_subs``),
    "no_sdp" (an ACK without SDP) or "none" (no ACK at all); the rest as ``uac_subs``."""
    return {"ACK": _DELAYED_ACKS[ack], **uac_subs(**uac)}


def play(pcap: Path | str, then_pause_ms: int) -> str:
    """A scenario step: start RTP from a pcap, then wait (play_pcap_audio is async)."""
    step = f'  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>'
    return step + (f'\n  <pause milliseconds="{then_pause_ms}"/>' if then_pause_ms else "")


def pause(ms: int) -> str:
    return f'  <pause milliseconds="{ms}"/>'


def dtmf_pcap(digit: str) -> Path:
    name = {"*": "star", "#": "pound"}.get(digit, digit)
    return SIPP_SHARE / f"dtmf_2833_{name}.pcap"


DTMF_EVENTS = "0123456789*#"  # RFC 4733 event codes 0-11


def dtmf_event_payloads(digit: str) -> list[bytes]:
    """The RFC 4733 payloads of one 120 ms key press: six updates, three end packets."""
    event = DTMF_EVENTS.index(digit)
    updates = [bytes([event, 10]) + (160 * (n + 1)).to_bytes(2, "big") for n in range(6)]
    return updates + [bytes([event, 0x80 | 10]) + (160 * 6).to_bytes(2, "big")] * 3


def dtmf_event_pcap(path: Path, digit: str, *, timestamp: int,
                    payload_type: int = 101) -> Path:
    """One RFC 4733 key press (six updates, three end packets) at its own RTP timestamp.
    The Debian captures (dtmf_pcap) all carry one timestamp, which a receiver rightly
    takes for a retransmission when the same key comes again: a phone number with a
    repeated digit needs a press of its own for each key."""
    payloads = dtmf_event_payloads(digit)
    return write_rtp_pcap(path, payloads, payload_type=payload_type,
                          timestamps=[timestamp] * len(payloads))


@dataclass
class SippResult:
    returncode: int
    stdout: str
    messages: str
    errors: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


@dataclass
class Sipp:
    """One SIPp process (UAC or UAS), bounded by -m 1, -timeout and -timeout_error."""

    scenario: Path
    workdir: Path
    target: str | None = None  # host:port for a UAC; None for a UAS
    service: str = "12345"
    timeout_s: int = 30
    sip_port: int = field(default_factory=free_port)
    media_port: int = field(default_factory=lambda: free_port_block(4))
    extra: list[str] = field(default_factory=list)
    # Any 127.x address: pike and the flood guard tell callers apart by source address.
    local_ip: str = LOOPBACK
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Sipp:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._send_from_the_announced_port()
        stem = f"sipp-{self.sip_port}"
        self._msg = self.workdir / f"{stem}-messages.log"
        self._err = self.workdir / f"{stem}-errors.log"
        self._out = self.workdir / f"{stem}.out"
        cmd = ["sipp", "-sf", str(self.scenario), "-i", self.local_ip, "-p", str(self.sip_port),
               "-mi", self.local_ip, "-mp", str(self.media_port), "-m", "1",
               "-timeout", f"{self.timeout_s}s", "-timeout_error", "-nostdin",
               "-trace_msg", "-message_file", str(self._msg),
               "-trace_err", "-error_file", str(self._err), "-s", self.service,
               "-recv_timeout", f"{self.timeout_s * 1000}", *self.extra]
        if self.target:
            cmd.append(self.target)
        self._stdout = self._out.open("wb")
        self.proc = spawn(cmd, stdout=self._stdout, stderr=subprocess.STDOUT, cwd=self.workdir)
        return self

    def _send_from_the_announced_port(self) -> None:
        """A port the scenario's SDP names by number (an ``RtpSink``'s, where the test hears
        our RTP) written as SIPp's ``[media_port+N]``, so that SIPp sends its audio and its
        keys from that port, as a phone sends from the port it announces. SIPp's pcap
        player takes its source port from the ``[media_port]`` keyword of the SDP it sent
        (a literal number left it 0): such a caller spoke from port 0 and keyed from the
        sink (``ivrkit.press``), two ports of one IP, and our RTP hears only the port it
        latched (telephony/rtp.py ``Rtp16Stream.admit``). Port 0 (a stream declined) stays."""
        text = self.scenario.read_text()

        def keyword(m: re.Match[str]) -> str:
            port = int(m[2])
            if port == 0:
                return m[0]
            if port < self.media_port:
                raise ValueError(f"SIPp cannot send from {port}, below its -mp {self.media_port}")
            return f"{m[1]}[media_port+{port - self.media_port}]"

        rewritten = re.sub(r"^(m=audio )(\d+)(?= )", keyword, text, flags=re.M)
        if rewritten != text:
            self.scenario.write_text(rewritten)

    def wait(self, timeout: float | None = None) -> SippResult:
        assert self.proc is not None
        try:
            rc = self.proc.wait(timeout=timeout if timeout is not None else self.timeout_s + 10)
        except subprocess.TimeoutExpired:
            _kill_group(self.proc)
            rc = -1
        self._stdout.close()
        read = lambda p: p.read_text(errors="replace") if p.exists() else ""  # noqa: E731
        return SippResult(rc, read(self._out), read(self._msg), read(self._err))

    def kill(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc)
            if not self._stdout.closed:
                self._stdout.close()

    def run(self) -> SippResult:
        return self.start().wait()


def sipp_flood(scenario: str, workdir: Path, *, target: str, source_ip: str, count: int,
               rate: int, service: str = "12345") -> SippResult:
    """A scanner's burst: ``count`` requests from ``source_ip`` at ``rate`` per second, no
    answer awaited. Bounded by -m, -l and -timeout: it stops by itself."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / f"flood-{random.randrange(1 << 30):x}.out"
    cmd = ["sipp", "-sf", str(SCENARIOS / scenario), "-i", source_ip, "-p", str(free_port()),
           "-m", str(count), "-r", str(rate), "-rp", "1000", "-l", str(count),
           "-timeout", "30s", "-nostdin", "-s", service, target]
    with out.open("wb") as f:
        proc = spawn(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            rc = proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            rc = -1
    return SippResult(rc, out.read_text(errors="replace"), "", "")


@dataclass
class SurgeResult:
    """SIPp's own count of a surge: successful calls were answered or refused busy (and
    completed either way); failed ones got no final answer (dropped)."""

    returncode: int
    stdout: str
    successful: int
    failed: int


def sipp_count(stdout: str, name: str) -> int:
    """A cumulative figure from SIPp's final statistics screen ("Successful call"...)."""
    for line in stdout.splitlines()[::-1]:
        if line.strip().startswith(name):
            try:
                return int(line.split("|")[2].split()[0])
            except (IndexError, ValueError):
                return 0
    return 0


_NO_SDP = "Content-Length: 0\n"


def sipp_surge(workdir: Path, *, target: str, source_ip: str, count: int, rate: float,
               media: str, service: str = "12345", recv_timeout_s: int = 8,
               delayed_offer: bool = False, codecs: str = "0",
               callers: Sequence[str] = (), messages: Path | None = None) -> SurgeResult:
    """``count`` complete calls (tests/support/scenarios/uac_surge.xml) from one address at
    ``rate`` per second, no limit on how many are up at once: a carrier's SBC in a surge.
    ``codecs``: the offer's ("0" PCMU, "8" PCMA alone), with telephone-event;
    ``delayed_offer``: each INVITE without SDP, the answer (``codecs``) in the ACK;
    ``callers``: each call's own number in turn (else every call is 13800138000);
    ``messages``: where SIPp logs every SIP message (its -trace_msg).
    Bounded by -m, -timeout and -recv_timeout (a call without a final answer fails)."""
    offer = _sdp("[media_port]", *_formats(codecs, True))
    caller = "[field0]" if callers else "13800138000"
    scenario = render_scenario(
        "uac_surge.xml", workdir, CALLER=caller, MEDIA=media.replace("@CALLER@", caller),
        INVITE_SDP=_NO_SDP if delayed_offer else offer,
        ACK_SDP=offer if delayed_offer else _NO_SDP)
    out = workdir / f"surge-{random.randrange(1 << 30):x}.out"
    limit = int(count / rate) + 6 * recv_timeout_s + 30
    extra: list[str] = []
    if callers:
        numbers = workdir / f"callers-{random.randrange(1 << 30):x}.csv"
        numbers.write_text("SEQUENTIAL\n" + "".join(f"{n};\n" for n in callers))
        extra += ["-inf", str(numbers)]
    if messages is not None:
        extra += ["-trace_msg", "-message_file", str(messages)]
    cmd = ["sipp", "-sf", str(scenario), "-i", source_ip, "-p", str(free_port()),
           "-mi", source_ip, "-mp", str(free_port_block(4)), "-m", str(count),
           "-r", str(rate), "-rp", "1000", "-l", str(count), "-timeout", f"{limit}s",
           "-nostdin", "-recv_timeout", f"{recv_timeout_s * 1000}", *extra, "-s", service,
           target]
    with out.open("wb") as f:
        proc = spawn(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=workdir)
        try:
            rc = proc.wait(timeout=limit + 10)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            rc = -1
    text = out.read_text(errors="replace")
    return SurgeResult(rc, text, sipp_count(text, "Successful call"),
                       sipp_count(text, "Failed call"))


def register_contact(workdir: Path, kamailio: Kamailio, user: str, contact_port: int) -> None:
    """Register user -> sip:user@127.0.0.1:contact_port at Kamailio (for a SIPp UAS)."""
    workdir.mkdir(parents=True, exist_ok=True)
    inf = workdir / f"reg-{user}.csv"
    inf.write_text(f"SEQUENTIAL\n{user};{contact_port};\n")
    result = Sipp(SCENARIOS / "register_contact.xml", workdir, target=f"{LOOPBACK}:{kamailio.port}",
                  timeout_s=5, extra=["-inf", str(inf)]).run()
    if not result.ok:
        raise RuntimeError(f"registering {user} failed: {result.stdout[-1500:]}")


# ---------------------------------------------------------------------------------------
# RTP: a sink that records what a peer sends, and a pcap writer for SIPp
# ---------------------------------------------------------------------------------------


@dataclass
class RtpPacket:
    arrival: float
    payload_type: int
    marker: bool
    seq: int
    timestamp: int
    ssrc: int
    payload: bytes


class RtpSink:
    """Receives RTP on a port (announced in a SIPp caller's SDP instead of SIPp's own
    media port) and keeps every packet with its arrival time."""

    def __init__(self, port: int | None = None, ip: str = LOOPBACK) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((ip, port or 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.packets: list[RtpPacket] = []
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._running:
            try:
                data = self.sock.recv(4096)
            except OSError:
                continue
            self._keep(data)

    def _keep(self, data: bytes) -> None:
        if len(data) < 12:
            return
        seq, ts, ssrc = struct.unpack_from("!HII", data, 2)
        self.packets.append(RtpPacket(time.monotonic(), data[1] & 0x7F, bool(data[1] & 0x80),
                                      seq, ts, ssrc, data[12:]))

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=1)
        # What arrived but the thread had not read yet (it lags on a loaded machine) is
        # still in the socket's buffer: kept too, so no packet sent before close is lost.
        self.sock.setblocking(False)
        while True:
            try:
                self._keep(self.sock.recv(4096))
            except OSError:
                break
        self.sock.close()


def write_rtp_pcap(path: Path, payloads: list[bytes], *, payload_type: int = 0,
                   ptime_ms: int = 20, ssrc: int = 0x1234ABCD,
                   timestamps: list[int] | None = None) -> Path:
    """A pcap (Ethernet/IPv4/UDP/RTP, 20 ms apart) that SIPp's play_pcap_audio replays.
    ``timestamps``: the RTP timestamp of each packet (default: 160 per packet, audio)."""
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    t0 = 1_700_000_000.0
    for i, payload in enumerate(payloads):
        stamp = timestamps[i] if timestamps is not None else 160 * i
        rtp = struct.pack("!BBHII", 0x80, (0x80 if i == 0 else 0) | payload_type,
                          (1000 + i) & 0xFFFF, stamp & 0xFFFFFFFF, ssrc) + payload
        udp = struct.pack("!HHHH", 40000, 20000, 8 + len(rtp), 0) + rtp
        total = 20 + len(udp)
        ip_hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, i & 0xFFFF, 0, 64, 17, 0,
                             socket.inet_aton(LOOPBACK), socket.inet_aton(LOOPBACK))
        csum = _ip_checksum(ip_hdr)
        ip_hdr = ip_hdr[:10] + struct.pack("!H", csum) + ip_hdr[12:]
        frame = b"\x00" * 12 + b"\x08\x00" + ip_hdr + udp
        ts = t0 + i * ptime_ms / 1000
        out += struct.pack("<IIII", int(ts), round((ts % 1) * 1e6) % 1_000_000,
                           len(frame), len(frame))
        out += frame
    path.write_bytes(bytes(out))
    return path


def _ip_checksum(header: bytes) -> int:
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
