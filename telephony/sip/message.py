"""Every pyVoIP 1.6.8 fault the hotline meets, and its fix, in one place.

We keep pyVoIP's pieces that work (``SIPMessage``'s header parser, ``SIPClient``'s socket,
tag/branch/Call-ID generators and REGISTER/digest builders, ``RTPClient``'s socket and
sequence/timestamp/SSRC state, ``SIPStatus``/``PayloadType``) and replace the parts that
broke on real peers. Each fix below names the fault (F-number, used in docs/sip.md) and the
upstream issue when one exists (github.com/tayler6000/pyVoIP/issues/N):

F1  ``SIPMessage`` raises on any method outside INVITE/ACK/BYE/CANCEL (OPTIONS, INFO,
    NOTIFY...; #187, #315), on status codes missing from ``SIPStatus``, on a body that
    contains a blank line (#304), on compact/odd-case header names, and on LF-only line
    ends. → ``SipMessage`` (own framing, any method, Content-Length, canonical names).
F2  ``SIPClient.recv`` swallows parse errors silently and never answers a bad request;
    an exception outside its try (e.g. a ``SIPParseError`` while building the 505) kills the
    "SIP Recieve" thread and the phone goes deaf. → ``SipTransport.recv_loop`` catches
    per datagram, answers 400 when the request can be answered, drops it otherwise.
F3  Every response and request goes to ``(server, port)`` (the registrar), not to the
    request's source/Via (direct mode can't work; BYE from a proxy-less peer is lost).
    → responses go to the datagram's source (RFC 3581 symmetric response), in-dialog
    requests to the route set / remote Contact.
F4  ``gen_ack`` puts a fresh random To-tag and the To URI (not the Contact) in the ACK for
    a 2xx (#178, #312, #101); with a proxy that does not record-route the ACK is relayed
    nowhere, the callee keeps retransmitting 200 and never starts its media. This is why
    outbound-call DTMF never arrived (see docs/sip.md). ``gen_ok`` for BYE also invents a
    To-tag (#312). → dialog-correct ACK/BYE/responses built in ``frontend``.
F5  ``SIPClient.start`` always REGISTERs (#51, #60: no peer-to-peer); registration blocks
    holding ``recvLock`` up to 30 s per try; a failure is retried on a timer thread and
    ``start()`` returns as if all went well, status stuck at REGISTERING (#185, #246);
    after 3 failures the whole phone is stopped. → ``SipTransport.start`` only binds;
    the front end registers as a transaction on the shared receive loop, raises
    ``SipRegistrationError`` from ``start()`` when the first REGISTER fails, and keeps
    retrying refreshes without stopping the listener.
F6  ``invite()`` reads the SIP socket itself under ``recvLock`` (#315), drops a 200 that
    arrives before a 1xx, and ``VoIPPhone.callback`` ignores every final response but
    200/404/503: 486 Busy (#244), 603, 408/480/487 leave the call DIALING forever.
    → outbound INVITE client transaction in ``frontend`` with one outcome per final code.
F7  CANCEL: pyVoIP answers 200 but never 487s the INVITE nor tells the call (#177).
F8  No 488 for an offer without PCMU/PCMA: unsupported payload types are only warned
    about, and a static one (e.g. G.722 = 9) can even be chosen as ``preference`` and then
    crash the transmit thread. pyVoIP's SDP parser also raises on unknown profiles
    (``UDP/TLS/RTP/SAVPF``) and on an ``a=rtpmap`` before ``m=``. → ``sdp.negotiate``.
F9  (see F8) pyVoIP SDP parsing replaced by ``ivr.sip.sdp``.
F10 ``read_audio``/``write_audio`` are 8-bit unsigned (``audioop.lin2lin`` + ``bias``)
    (#80, #148, #250, #285): recognizer and recordings need 16-bit. → ``Rtp16Stream``
    decodes each received PCMU/PCMA payload with ``asr.g711`` straight to 16-bit, and
    encodes 16-bit prompts once, before they are paced out.
F11 ``encode_packet`` encodes PCMA with the μ-law encoder (#181): noise on A-law calls.
F12 Send pacing: sleeps "20 ms minus time spent" per packet and needs
    ``TRANSMIT_DELAY_REDUCTION`` fudge (#105, #113, #181): drift and gaps, choppy prompts.
    Receive polls a non-blocking socket every 10 ms. → absolute 20 ms schedule, blocking
    socket with timeout; the largest gap between sent packets is measured per call.
F13 RFC 2833: a digit is reported only from a packet with the marker bit, so a lost first
    packet loses the key; ``RTPMessage`` ignores the header extension and padding
    lengths; an unknown payload type raises inside the receive loop. → own RTP header
    parse; digits keyed on (RTP timestamp, event): the first packet of an event reports
    it, the end-packet retransmits are dropped.
F14 RTP ports: ``random.choice`` over the range, ports of failed/ended calls not
    released (#27), ``request_port`` may spin forever. → ``PortPool`` (even ports,
    round-robin, probe-bind, released on call end).
F15 Incoming calls reach the callback only after a fixed 1 s ``Timer``; every call
    gets a 180 even when we will refuse it; no concurrency limit. → ``frontend``.
F16 No RTP inactivity detection: a caller that vanishes without BYE keeps the call up
    forever. → ``Rtp16Stream.last_rx`` + the front end's RTP timeout.
F17 ``from pyVoIP import SIP`` in a fresh interpreter fails with a circular import;
    import ``pyVoIP.VoIP`` first.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

# F17: ``from pyVoIP import SIP`` on a fresh interpreter dies in a circular import
# (SIP -> VoIP.status -> VoIP/__init__ -> VoIP.VoIP -> SIP.SIPMessage); loading the VoIP
# package first is the documented way in and makes SIP/RTP importable.
import pyVoIP.VoIP  # noqa: F401  isort: skip
from pyVoIP import RTP, SIP  # isort: skip

from asr import g711

log = logging.getLogger("ivr.sip")

# ---------------------------------------------------------------------------------------
# F1: SIP message framing and parsing
# ---------------------------------------------------------------------------------------

_COMPACT = {
    "i": "Call-ID", "f": "From", "t": "To", "v": "Via", "m": "Contact",
    "l": "Content-Length", "c": "Content-Type", "k": "Supported", "e": "Content-Encoding",
}
_CANONICAL = {
    n.lower(): n
    for n in (
        "Call-ID", "From", "To", "Via", "Contact", "CSeq", "Content-Length", "Content-Type",
        "Max-Forwards", "Record-Route", "Route", "Allow", "Supported", "Expires",
        "User-Agent", "Content-Encoding", "WWW-Authenticate", "Authorization",
        "Proxy-Authenticate", "Proxy-Authorization", "Reason", "Warning", "Server",
    )
}
# Headers pyVoIP's parse_header knows how to turn into dicts.
_PYVOIP_PARSED = ("From", "To", "CSeq", "Content-Length", "WWW-Authenticate")
_METHOD_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_.!%*+`'~")
REQUIRED_HEADERS = ("Via", "From", "To", "Call-ID", "CSeq")
# Limits on what one datagram may be. A real INVITE with SDP is 1-4 KB with 15-30 headers;
# a carrier's may carry a few dozen Via/Record-Route lines. Past these it is an attack on
# the parser (every header is split, canonicalised and kept), answered 400 when it can be.
MAX_HEADERS = 100
MAX_DATAGRAM_BYTES = 16 * 1024
MAX_CSEQ = 2**31 - 1  # RFC 3261 8.1.1.5: CSeq numbers are below 2**31


class SipSyntaxError(ValueError):
    """A datagram that is not a SIP message we can read."""


def split_message(raw: bytes, *, strict: bool = True
                  ) -> tuple[str, list[tuple[str, str]], bytes]:
    """Start line, headers as (canonical name, value) in order, body (Content-Length cut).
    ``strict=False`` skips bad header lines (to salvage enough for a 400)."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SipSyntaxError("header block is not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    start = lines[0].strip()
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            if not headers:
                raise SipSyntaxError("continuation line before any header")
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        if strict and len(headers) >= MAX_HEADERS:
            raise SipSyntaxError(f"more than {MAX_HEADERS} headers")
        name, colon, value = line.partition(":")
        name = name.strip()
        if not colon or not name or any(ch in name for ch in " \t"):
            if not strict:
                continue
            raise SipSyntaxError(f"bad header line {line[:60]!r}")
        low = name.lower()
        name = _COMPACT.get(low, name) if len(low) == 1 else _CANONICAL.get(low, name)
        headers.append((name, value.strip()))
    length = next((v for n, v in headers if n == "Content-Length"), None)
    if length is not None and strict:
        if not (length.isascii() and length.isdigit()) or len(length) > 6:
            raise SipSyntaxError("bad Content-Length")
        n = int(length)
        if n > len(body):
            raise SipSyntaxError("Content-Length beyond the datagram")
        body = body[:n]
    return start, headers, body


def _split_uri_list(value: str) -> list[str]:
    """Split a Route/Record-Route/Via value on commas outside <> and quotes."""
    out, depth, quoted, cur = [], 0, False, []
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch == "<":
            depth += 1
        elif not quoted and ch == ">":
            depth -= 1
        if ch == "," and depth == 0 and not quoted:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


class SipMessage(SIP.SIPMessage):
    """pyVoIP's SIPMessage with the framing of F1 fixed; ``headers`` keeps pyVoIP's dicts
    for From/To/CSeq/Via, ``header_list`` keeps every header verbatim for responses."""

    def __init__(self, data: bytes, source: tuple[str, int] | None = None) -> None:
        self.source = source
        self.start_line = ""
        self.header_list: list[tuple[str, str]] = []
        self.body_bytes = b""
        self.status_code = 0
        self.reason = ""
        self.method = ""
        self.request_uri = ""
        try:
            super().__init__(data)
        except SipSyntaxError:
            raise
        except Exception as exc:  # pyVoIP's header parsers raise IndexError, KeyError...
            raise SipSyntaxError(f"{type(exc).__name__}: {exc}") from exc

    def parse(self, data: bytes) -> None:
        start, headers, body = split_message(data)
        self.start_line, self.header_list, self.body_bytes = start, headers, body
        self.heading = start.encode()
        parts = start.split(" ", 2)
        if start.startswith("SIP/2.0 "):
            self.type = SIP.SIPMessageType.RESPONSE
            try:
                self.status_code = int(parts[1])
            except (IndexError, ValueError) as exc:
                raise SipSyntaxError(f"bad status line {start[:60]!r}") from exc
            if not 100 <= self.status_code <= 699:
                raise SipSyntaxError(f"bad status code {self.status_code}")
            self.reason = parts[2] if len(parts) > 2 else ""
            with contextlib.suppress(ValueError):  # F1: unknown codes are legal
                self.status = SIP.SIPStatus(self.status_code)
        else:
            if len(parts) != 3 or parts[2] != "SIP/2.0" or not parts[0] or not set(
                parts[0]
            ) <= _METHOD_CHARS:
                raise SipSyntaxError(f"bad request line {start[:60]!r}")
            self.type = SIP.SIPMessageType.MESSAGE
            self.method, self.request_uri = parts[0], parts[1]
        names = {n for n, _ in headers}
        missing = [h for h in REQUIRED_HEADERS if h not in names]
        if missing:
            raise SipSyntaxError(f"missing {', '.join(missing)}")
        self.headers["Via"] = []
        vias = [v for n, val in headers if n == "Via" for v in _split_uri_list(val)]
        self.parse_header("Via", vias)
        for name, value in headers:
            if name == "Via" or name in self.headers:
                continue
            if name in _PYVOIP_PARSED:
                self.parse_header(name, value)
            else:
                self.headers[name] = value
        cseq = self.headers["CSeq"]
        check = str(cseq.get("check", ""))
        if not (check.isascii() and check.isdigit()) or len(check) > 10 or int(check) > MAX_CSEQ:
            raise SipSyntaxError("bad CSeq")
        self.body = {}

    # -- small accessors -------------------------------------------------------------
    def all(self, name: str) -> list[str]:
        return [v for n, v in self.header_list if n == name]

    def first(self, name: str, default: str = "") -> str:
        return next((v for n, v in self.header_list if n == name), default)

    @property
    def call_id(self) -> str:
        return self.first("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        c = self.headers["CSeq"]
        return int(c["check"]), c["method"]

    @property
    def from_tag(self) -> str:
        return self.headers["From"]["tag"]

    @property
    def to_tag(self) -> str:
        return self.headers["To"]["tag"]

    @property
    def top_branch(self) -> str:
        vias = self.headers.get("Via") or []
        return str(vias[0].get("branch", "")) if vias else ""

    def route_list(self, name: str) -> list[str]:
        return [u for v in self.all(name) for u in _split_uri_list(v)]


def bad_request_for(raw: bytes, why: str) -> bytes | None:
    """A 400 for a request we could not parse, when it can be answered at all (it has the
    headers a response must copy); None for garbage and for ACKs (never answered)."""
    try:
        start, headers, _ = split_message(raw, strict=False)
    except SipSyntaxError:
        return None
    parts = start.split(" ")
    if len(parts) != 3 or parts[2] != "SIP/2.0" or parts[0] in ("ACK", "SIP/2.0"):
        return None
    names = {n for n, _ in headers}
    if any(h not in names for h in REQUIRED_HEADERS):
        return None
    reason = why.replace("\r", " ").replace("\n", " ")[:100]
    return build_response_raw(headers, 400, "Bad Request", to_tag=None,
                              extra=[("Warning", f'399 hotline12345 "{reason}"')])


def build_response_raw(headers: list[tuple[str, str]], code: int, reason: str, *,
                       to_tag: str | None, extra: list[tuple[str, str]] = (),  # type: ignore[assignment]
                       body: bytes = b"", content_type: str | None = None) -> bytes:
    """Copy Via (all, verbatim), From, To (+ our tag when it has none), Call-ID, CSeq
    (RFC 3261 8.2.6.2) — pyVoIP rebuilt them and lost Via parameters (F4)."""
    out = [f"SIP/2.0 {code} {reason}"]
    for name, value in headers:
        if name == "Via":
            out.append(f"Via: {value}")
    for name in ("From", "To", "Call-ID", "CSeq"):
        value = next(v for n, v in headers if n == name)
        if name == "To" and to_tag and ";tag=" not in value.replace(" ", ""):
            value = f"{value};tag={to_tag}"
        out.append(f"{name}: {value}")
    out += [f"{n}: {v}" for n, v in extra]
    out.append("Server: hotline12345 (pyVoIP 1.6.8 adapter)")
    if body:
        out.append(f"Content-Type: {content_type or 'application/sdp'}")
    out.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(out) + "\r\n\r\n").encode() + body


def build_response(req: SipMessage, code: int, reason: str | None = None, *,
                   to_tag: str | None = None, extra: list[tuple[str, str]] = (),  # type: ignore[assignment]
                   body: bytes = b"", content_type: str | None = None) -> bytes:
    if reason is None:
        try:
            reason = SIP.SIPStatus(code).phrase
        except ValueError:
            reason = "Unknown"
    return build_response_raw(req.header_list, code, reason, to_tag=to_tag, extra=extra,
                              body=body, content_type=content_type)


# ---------------------------------------------------------------------------------------
# F2, F3, F5: the SIP socket
# ---------------------------------------------------------------------------------------


class SipTransport(SIP.SIPClient):
    """pyVoIP's SIPClient as the UDP socket owner and REGISTER builder only."""

    def __init__(self, *, registrar: tuple[str, int], username: str, password: str,
                 bind: tuple[str, int],
                 on_message: Callable[[SipMessage], None]) -> None:
        # phone=None: only pyVoIP's register()/deregister() use it, and we call neither.
        super().__init__(registrar[0], registrar[1], username, password,
                         phone=None,  # type: ignore[arg-type]
                         myIP=bind[0], myPort=bind[1])
        self.on_message = on_message
        # Asked before a malformed datagram is answered or logged (the flood guard): a
        # stream of garbage from one address must not become a stream of 400s and warnings.
        self.admit_malformed: Callable[[str], bool] = lambda _ip: True
        self._thread: threading.Thread | None = None
        self.garbage_dropped = 0
        self.bad_requests_answered = 0

    def start(self) -> None:  # F5: bind only; registration is the front end's business
        if self.NSD:
            raise RuntimeError("transport already started")
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((self.myIP, self.myPort))
        self.myPort = self.s.getsockname()[1]
        self.s.settimeout(0.2)
        self.out = self.s
        self.NSD = True
        self._thread = threading.Thread(target=self.recv_loop, name="sip-recv", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if not self.NSD:
            return
        self.NSD = False
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._close_sockets()

    def send(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            self.s.sendto(data, addr)
        except OSError as exc:
            log.warning("SIP send to %s failed: %s", addr, exc)

    def recv_loop(self) -> None:  # F2: one bad datagram never ends the listener
        while self.NSD:
            try:
                # One byte more than we accept: a longer datagram arrives truncated to this.
                raw, addr = self.s.recvfrom(MAX_DATAGRAM_BYTES + 1)
            except TimeoutError:
                continue
            except OSError:
                if not self.NSD:
                    break
                continue
            try:
                self.handle_datagram(raw, addr)
            except Exception:
                log.exception("SIP datagram from %s crashed its handler (ignored)", addr)

    def handle_datagram(self, raw: bytes, addr: tuple[str, int]) -> None:
        if not raw.strip(b"\r\n\x00 "):
            return  # keep-alive (CRLF or pyVoIP's NULs)
        try:
            if len(raw) > MAX_DATAGRAM_BYTES:
                raise SipSyntaxError(f"datagram larger than {MAX_DATAGRAM_BYTES} bytes")
            msg = SipMessage(raw, addr)
        except SipSyntaxError as exc:
            if not self.admit_malformed(addr[0]):
                self.garbage_dropped += 1
                return
            reply = bad_request_for(raw, str(exc))
            if reply is not None:
                self.bad_requests_answered += 1
                log.warning("400 to malformed request from %s: %s", addr, exc)
                self.send(reply, addr)
            else:
                self.garbage_dropped += 1
                log.warning("dropped unparseable datagram from %s: %s", addr, exc)
                log.debug("dropped datagram: %r", raw[:400])
            return
        self.on_message(msg)

    def register_request(self, *, expires: int, challenge: SipMessage | None = None) -> bytes:
        """pyVoIP's REGISTER text (digest-answered when ``challenge`` is a 401)."""
        self.default_expires = expires
        if challenge is None:
            text = self.gen_first_response(deregister=expires == 0)
        else:
            text = self.gen_register(challenge, deregister=expires == 0)
        return text.encode()


# ---------------------------------------------------------------------------------------
# F10-F14, F16: RTP
# ---------------------------------------------------------------------------------------

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = FRAME_SAMPLES * 2  # 16-bit
_DTMF_KEYS = "0123456789*#ABCD"
_ENCODERS = {"PCMU": g711.pcm16_to_ulaw, "PCMA": g711.pcm16_to_alaw}  # F11
_DECODERS = {0: g711.ulaw_to_pcm16, 8: g711.alaw_to_pcm16}
_PAYLOAD_TYPES = {"PCMU": RTP.PayloadType.PCMU, "PCMA": RTP.PayloadType.PCMA}


class PlaybackToken:
    """Set when the transmitter has sent the last frame of one play request."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.frames = 0


class Rtp16Stream(RTP.RTPClient):
    """pyVoIP's RTPClient with 16-bit audio both ways, steady pacing and robust DTMF."""

    def __init__(self, *, local: tuple[str, int], remote: tuple[str, int], codec: str,
                 audio_pt: int, event_pt: int | None,
                 on_audio: Callable[[bytes], None], on_dtmf: Callable[[str], None]) -> None:
        assoc: dict[int, Any] = {audio_pt: _PAYLOAD_TYPES[codec]}
        if event_pt is not None:
            assoc[event_pt] = RTP.PayloadType.EVENT
        super().__init__(assoc, local[0], local[1], remote[0], remote[1],
                         RTP.TransmitType.SENDRECV, dtmf=on_dtmf)
        self.NSD = False
        self.codec = codec
        self.audio_pt = audio_pt
        self.event_pt = event_pt
        self.on_audio = on_audio
        self._encode = _ENCODERS[codec]
        self._silence = self._encode(b"\x00" * FRAME_BYTES)
        self._out: deque[bytes | PlaybackToken] = deque()
        self._out_lock = threading.Lock()
        self._recent_events: deque[tuple[int, int]] = deque(maxlen=16)
        self._last_seq: int | None = None
        self._threads: list[threading.Thread] = []
        self.sin: socket.socket | None = None
        # Measurements, read by tests and the bench.
        self.started = self.last_rx = time.monotonic()
        self.rx_packets = 0
        self.rx_bad = 0
        self.tx_packets = 0
        self.max_send_gap = 0.0
        self.max_send_gap_at = 0  # packet index where it happened
        self._last_send: float | None = None

    def configure(self, media: Any) -> None:
        """Set codec, payload numbers and destination once the offer/answer is done
        (outbound calls bind their port before the answer names the codec)."""
        self.codec = media.codec
        self.audio_pt = media.audio_pt
        self.event_pt = media.event_pt
        self.assoc = {media.audio_pt: _PAYLOAD_TYPES[media.codec]}
        if media.event_pt is not None:
            self.assoc[media.event_pt] = RTP.PayloadType.EVENT
        self.preference = _PAYLOAD_TYPES[media.codec]
        self._encode = _ENCODERS[media.codec]
        self._silence = self._encode(b"\x00" * FRAME_BYTES)
        self.outIP, self.outPort = media.remote_ip, media.remote_port

    def bind(self) -> None:
        """Bind before the SDP goes out so a port clash is found while we can pick another."""
        self.sin = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sin.bind((self.inIP, self.inPort))
        except OSError:
            self.sin.close()
            self.sin = None
            raise
        self.sin.settimeout(0.2)
        self.sout = self.sin  # symmetric RTP: send from the port we announced

    def start(self) -> None:
        if self.sin is None:
            self.bind()
        self.NSD = True
        self.started = self.last_rx = time.monotonic()
        for name, target in (("rtp-recv", self.recv), ("rtp-send", self.trans)):
            t = threading.Thread(target=target, name=f"{name}-{self.inPort}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        # No join: stop() runs on the SIP receive thread when a BYE arrives, and the RTP
        # threads notice NSD within one socket timeout (0.2 s) / one frame (20 ms).
        self.NSD = False
        if self.sin is not None:
            self.sin.close()
        self.flush_output()

    # -- receive (F10, F13) ------------------------------------------------------------
    def recv(self) -> None:
        assert self.sin is not None
        while self.NSD:
            try:
                packet = self.sin.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                if not self.NSD:
                    break
                continue
            try:
                self.parse_packet(packet)
            except Exception:
                self.rx_bad += 1

    def parse_packet(self, packet: bytes) -> None:
        if len(packet) < 12 or packet[0] >> 6 != 2:
            self.rx_bad += 1
            return
        first, second = packet[0], packet[1]
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:  # header extension: skip it (pyVoIP left it in the payload)
            if len(packet) < offset + 4:
                self.rx_bad += 1
                return
            offset += 4 + 4 * struct.unpack_from("!H", packet, offset + 2)[0]
        end = len(packet)
        if first & 0x20:  # padding
            end -= packet[-1]
        payload = packet[offset:end]
        pt = second & 0x7F
        seq, timestamp = struct.unpack_from("!HI", packet, 2)
        self.last_rx = time.monotonic()
        self.rx_packets += 1
        if pt == self.event_pt:
            self._telephone_event(payload, timestamp)
        elif pt in _DECODERS:
            if seq == self._last_seq:
                return  # duplicate
            self._last_seq = seq
            self.on_audio(_DECODERS[pt](payload))
        # Anything else (comfort noise, stray payload types) only proves the peer is alive.

    def _telephone_event(self, payload: bytes, timestamp: int) -> None:
        if len(payload) < 4 or payload[0] >= len(_DTMF_KEYS):
            return
        key = (timestamp, payload[0])
        if key in self._recent_events:
            return  # later packets and the end retransmits of an event already reported
        self._recent_events.append(key)
        if self.dtmf is not None:
            self.dtmf(_DTMF_KEYS[payload[0]])

    # -- send (F11, F12) ---------------------------------------------------------------
    def queue_pcm16(self, pcm: bytes) -> PlaybackToken:
        """Encode now (not in the pacing loop) and queue 20 ms frames; the token fires
        when the last one has been sent."""
        if len(pcm) % FRAME_BYTES:
            pcm += b"\x00" * (FRAME_BYTES - len(pcm) % FRAME_BYTES)
        encoded = self._encode(pcm)
        token = PlaybackToken()
        frames = [encoded[i:i + FRAME_SAMPLES] for i in range(0, len(encoded), FRAME_SAMPLES)]
        token.frames = len(frames)
        with self._out_lock:
            self._out.extend(frames)
            self._out.append(token)
        return token

    def flush_output(self) -> None:
        with self._out_lock:
            pending = list(self._out)
            self._out.clear()
        for item in pending:
            if isinstance(item, PlaybackToken):
                item.done.set()

    def _next_payload(self) -> bytes:
        with self._out_lock:
            while self._out:
                item = self._out.popleft()
                if isinstance(item, PlaybackToken):
                    item.done.set()
                    continue
                return item
        return self._silence

    def trans(self) -> None:
        assert self.sin is not None
        interval = FRAME_SAMPLES / 8000
        deadline = time.monotonic()
        marker = 0x80
        while self.NSD:
            payload = self._next_payload()
            header = struct.pack("!BBHII", 0x80, marker | self.audio_pt,
                                 self.outSequence & 0xFFFF, self.outTimestamp & 0xFFFFFFFF,
                                 self.outSSRC)
            marker = 0
            try:
                self.sin.sendto(header + payload, (self.outIP, self.outPort))
            except OSError:
                if not self.NSD:
                    break
            now = time.monotonic()
            if self._last_send is not None and now - self._last_send > self.max_send_gap:
                self.max_send_gap = now - self._last_send
                self.max_send_gap_at = self.tx_packets
            self._last_send = now
            self.tx_packets += 1
            self.outSequence = (self.outSequence + 1) & 0xFFFF
            self.outTimestamp = (self.outTimestamp + FRAME_SAMPLES) & 0xFFFFFFFF
            # Next send time on an absolute 20 ms grid: no drift, no sleep() error build-up.
            deadline += interval
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.2:
                deadline = time.monotonic()  # stalled (e.g. SIGSTOP): resync, don't burst


# ---------------------------------------------------------------------------------------
# F14: RTP port allocation
# ---------------------------------------------------------------------------------------


class PortPool:
    """Even RTP ports from [low, high], handed out round-robin so a port just released
    (and maybe still receiving the last call's packets) is the last one reused."""

    def __init__(self, low: int, high: int) -> None:
        if low > high:
            raise ValueError("rtp_port_low must be <= rtp_port_high")
        start = low + (low % 2)
        self._ports = list(range(start, high + 1, 2))
        if not self._ports:
            raise ValueError("RTP port range holds no even port")
        self._used: set[int] = set()
        self._next = 0
        self._lock = threading.Lock()

    def acquire(self, bind: Callable[[int], None]) -> int:
        """First free port that ``bind(port)`` accepts; RuntimeError when none does."""
        with self._lock:
            for _ in range(len(self._ports)):
                port = self._ports[self._next]
                self._next = (self._next + 1) % len(self._ports)
                if port in self._used:
                    continue
                try:
                    bind(port)
                except OSError:
                    continue
                self._used.add(port)
                return port
        raise RuntimeError("no free RTP port")

    def release(self, port: int) -> None:
        with self._lock:
            self._used.discard(port)

    @property
    def in_use(self) -> int:
        return len(self._used)
