"""RTP: 16-bit audio both ways, steady pacing at the peer's packet time, robust RFC 2833
DTMF, and the RTP port pool (faults F10-F14, F16 in ``telephony.pyvoip``)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from enum import Enum
from typing import Any

from telephony.media import g711
from telephony.media.arrival import Arrival
from telephony.media.dtmf import EVENT_KEYS, INBAND, DtmfDetector, mode_for
from telephony.pyvoip import RTP
from telephony.sip.sdp import DEFAULT_PTIME

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = FRAME_SAMPLES * 2  # 16-bit
# What we send is queued in 10 ms pieces, the unit of every packet time we send (10-60 ms,
# ``telephony.sip.sdp.PTIMES``): a packet is ptime / 10 of them, so a prompt plays on
# across packet boundaries, whatever the length the peer asked for.
UNIT_SAMPLES = 80
UNIT_BYTES = UNIT_SAMPLES * 2
# An RFC 4733 event whose three end packets were all lost still counts, when the next
# event begins, if it had lasted this long (timestamp units; 40 ms at 8 kHz, the shortest
# press Q.24 accepts); a lone stray packet does not.
MIN_UNENDED_EVENT_DURATION = 320
# A press held past an event's 16-bit duration (0xFFFF, 8.19 s) goes on in a new segment:
# the same event at the timestamp where the last one's duration ended, the end bit only on
# the last (RFC 4733 2.5.1.3). An open event that a segment of the same key follows at its
# timestamp plus this is that press, not one whose end packets were lost.
EVENT_SEGMENT = 0xFFFF
# An open event whose updates have stopped this long on the clock of the caller's audio
# (150 ms, as Asterisk's dtmftimeout) while the audio goes on is over, its ends lost.
EVENT_END_TIMEOUT = 1200
# An open event with no update for this long (wall clock) is over, its ends lost, whatever
# else comes: a caller with silence suppression may send nothing at all after a key.
EVENT_END_SECONDS = 1.0
# Comfort noise (RFC 3389), the static payload type: a phone with silence suppression
# sends it between words, on its audio's clock.
COMFORT_NOISE = 13
# Received audio is taken at real time plus this many seconds of packets bunched up (a
# network or a busy receive thread holding them back): a peer sending as fast as it could
# (30000 packets, 10 minutes of audio, in 2 s) made a 7-second call a 386-second recording,
# so 20 such lines filled the disk, and a speech model's CPU, in minutes.
AUDIO_JITTER_SECONDS = 10.0
# Symmetric RTP (RFC 4961), latched as Asterisk's rtp_symmetric + strictrtp and rtpengine's
# endpoint learning do: our audio goes where the caller's RTP comes from, not where its SDP
# says. A packet from the SDP's IP latches at once; a source elsewhere (a phone behind NAT
# that wrote its private address) after this many packets in a row from it with
# consecutive sequence numbers, another source's packet starting the count again with that
# one (Asterisk's strictrtp learning, ``learning_min_sequential``, 4 by default). So one
# stray packet (an RTP-bleed scanner's, an earlier call's left in the socket's buffer)
# cannot shut the caller out, and a NAT caller latches on its 4th packet, 60 ms in.
LATCH_LEARN_PACKETS = 4
# How long learning stays open after the caller takes us off hold (``relearn``): a phone
# sends again at once after its resume; an open-ended learning let a stranger take the call
# over whenever it liked (review30).
RELEARN_SECONDS = 5.0
# Packets sent, in a call's whole life, to an address no RTP of the call came from (the
# SDP's, before anything latched or after a re-INVITE moved it). Packets, not time: 5 s of
# audio at 20 ms, but 2.5 s at the peer's a=ptime:10 and 15 s at 60 ms (``ptime``, the
# twenty-third round; the comment said 5 s whatever the packet time, review51). Without the
# bound, a caller naming another host in its SDP (and keying by INFO, or putting the call
# on hold, so no watchdog ends it) had the IVR stream its prompts at that host for the
# whole call; with it, at most 250 packets go there: 43 kB at 20 ms, 123 kB at 60 ms (12
# bytes of header and 8 a ms). The first-RTP watchdog (``first_rtp_timeout``, 4 s) ends a
# silent caller's call before the bound is reached at 20 ms or more; at 10 ms the bound
# comes first, and a caller whose first packet comes after 2.5 s misses the greeting
# between (our audio goes again once its RTP latches).
UNVERIFIED_SEND_PACKETS = 250


class Verdict(Enum):
    """``Rtp16Stream.admit``'s word on a packet."""

    TAKE = "take"  # the peer's: read it
    HOLD = "hold"  # from the source being learnt: read it if that source latches
    DROP = "drop"  # not the peer's
_ENCODERS = {"PCMU": g711.pcm16_to_ulaw, "PCMA": g711.pcm16_to_alaw}  # F11
_DECODERS = {0: g711.ulaw_to_pcm16, 8: g711.alaw_to_pcm16}
_PAYLOAD_TYPES = {"PCMU": RTP.PayloadType.PCMU, "PCMA": RTP.PayloadType.PCMA}


def _frames(encoded: bytes) -> list[bytes]:
    return [encoded[i:i + UNIT_SAMPLES] for i in range(0, len(encoded), UNIT_SAMPLES)]


class PlaybackToken:
    """Set when the transmitter has sent the last frame of one play request."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.frames = 0


class Rtp16Stream(RTP.RTPClient):
    """pyVoIP's RTPClient with 16-bit audio both ways, steady pacing and robust DTMF."""

    def __init__(self, *, local: tuple[str, int], remote: tuple[str, int], codec: str,
                 audio_pt: int, event_pt: int | None,
                 on_audio: Callable[[bytes], None], on_dtmf: Callable[[str], None],
                 ptime: int = DEFAULT_PTIME) -> None:
        assoc: dict[int, Any] = {audio_pt: _PAYLOAD_TYPES[codec]}
        if event_pt is not None:
            assoc[event_pt] = RTP.PayloadType.EVENT
        super().__init__(assoc, local[0], local[1], remote[0], remote[1],
                         RTP.TransmitType.SENDRECV, dtmf=on_dtmf)
        self.NSD = False
        self.codec = codec
        self.audio_pt = audio_pt
        self.event_pt = event_pt
        # The numbers keys come with: the negotiated one, and our offer's when the answer
        # to it renumbered the event (``Negotiated.offered_event_pt``).
        self.event_pts = frozenset({event_pt} - {None})
        self.on_audio = on_audio
        self._encode = _ENCODERS[codec]
        self._silence = self._encode(b"\x00" * UNIT_BYTES)
        # The packet time we send (ms): the one the peer's SDP asked to receive, as the
        # signalling chose it (``Negotiated.ptime``); read once per packet, as it is made.
        self.ptime = ptime
        self._inband = self._inband_detector(event_pt)
        self._out: deque[bytes | PlaybackToken] = deque()
        self._out_lock = threading.Lock()
        self._recent_events: deque[tuple[int, int]] = deque(maxlen=16)
        # The event heard and not ended yet: (timestamp, event, duration so far).
        self._open_event: tuple[int, int, int] | None = None
        self._open_event_at = 0.0  # when it was last updated (monotonic)
        # The last press counted with its ends lost (its latest segment's timestamp, its
        # event): a next segment of it may still come (``_telephone_event``).
        self._lost_end_press: tuple[int, int] | None = None
        # Which audio packets are heard: a copy the network delivered again is not, a
        # source numbering afresh is (RFC 3550 A.1, ``Arrival``).
        self.arrival: Arrival[tuple[int, bytes]] = Arrival()
        self._rx_partial = b""  # received audio short of a whole 20 ms frame
        self._threads: list[threading.Thread] = []
        self.sin: socket.socket | None = None
        # Measurements, read by tests and the bench.
        self.started = self.last_rx = time.monotonic()
        self.rx_packets = 0
        self.info_keys = 0  # keys by SIP INFO (``keyed_by_signalling``)
        self.rx_bad = 0
        self.rx_foreign = 0  # packets from a source other than the latched one (dropped)
        # Where the caller's RTP comes from (``admit``); None: nothing latched yet.
        self.latched: tuple[str, int] | None = None
        # The source being learnt, its last sequence number and its packets in a row so
        # far, which are held (``_learning``) until it latches or another source comes.
        self._candidate: tuple[str, int] | None = None
        self._candidate_seq = 0
        self._candidate_run = 0
        self._learning: list[bytes] = []
        # The latched source may have moved (``relearn``): the latch is kept and heard, and
        # another source that qualifies as in the first learning takes its place.
        self._relearning = False
        self._relearn_until = 0.0
        self._to_source = False  # send to the latched source, whatever its IP (``_latch``)
        # ``admit`` (receive thread), ``set_remote`` (SIP thread, a re-INVITE) and
        # ``destination`` (send thread) read and write the latch together: a packet from
        # the old address admitted as a re-INVITE moved the media wrote it back after
        # ``set_remote`` had cleared it.
        self._latch_lock = threading.Lock()
        self.tx_unverified = 0  # packets sent to an address not latched (the SDP's)
        self.tx_withheld = 0  # frames not sent: UNVERIFIED_SEND_PACKETS reached
        # The peer holds us (its SDP a=sendonly, a=inactive or c=0.0.0.0: ``hears_us``):
        # nothing is sent until it resumes (RFC 3264 6.1), set by the signalling.
        self.muted = False
        self.tx_muted = 0  # frames not sent while muted
        self.rx_excess = 0  # audio packets past real time (dropped, AUDIO_JITTER_SECONDS)
        self._audio_allowance = AUDIO_JITTER_SECONDS * 8000  # samples, refilled at 8 kHz
        self._audio_allowance_at = time.monotonic()
        self.tx_packets = 0
        self._marker = 0x80  # the next packet sent starts a talkspurt (RFC 3550 5.1)
        self.max_send_gap = 0.0
        self.max_send_gap_at = 0  # packet index where it happened
        self._last_send: float | None = None

    def configure(self, media: Any) -> None:
        """Set codec, payload numbers and destination once the offer/answer is done
        (outbound calls bind their port before the answer names the codec), or when a
        re-INVITE changes them mid-call: frames already queued in the old codec are
        re-encoded, so a prompt being played goes on in the codec its packets are marked."""
        with self._out_lock:
            if media.codec != self.codec:
                decode, encode = g711.DECODERS[self.codec], _ENCODERS[media.codec]
                self._out = deque(item if isinstance(item, PlaybackToken)
                                  else encode(decode(item)) for item in self._out)
            self.codec = media.codec
            self.audio_pt = media.audio_pt
            self._encode = _ENCODERS[media.codec]
            self._silence = self._encode(b"\x00" * UNIT_BYTES)
        self.ptime = media.ptime
        self.event_pt = media.event_pt
        self.event_pts = frozenset({media.event_pt, media.offered_event_pt} - {None})
        self.assoc = {media.audio_pt: _PAYLOAD_TYPES[media.codec]}
        for pt in self.event_pts:
            self.assoc[pt] = RTP.PayloadType.EVENT
        self.preference = _PAYLOAD_TYPES[media.codec]
        self._inband = self._inband_detector(media.event_pt)
        self.set_remote(media.remote_ip, media.remote_port)

    def set_remote(self, ip: str, port: int) -> None:
        """The address the signalling (an offer or answer) names for the peer's RTP. A new
        one starts latching again (the RTP moved: an SBC re-anchoring the call, a phone's
        new port), as Asterisk's strict RTP learns again after the remote address is set;
        the same one (a session refresh) keeps the latched source. The new address gets
        the unverified budget anew only if something latched since it was last spent
        (``_latch`` resets it): a caller naming a new host by re-INVITE every few seconds,
        never heard from, gets no fresh 250 packets each time."""
        with self._latch_lock:
            if (ip, port) != (self.outIP, self.outPort):
                self.latched = None
                self._relearning = self._to_source = False
                self._learn(None)
            self.outIP, self.outPort = ip, port

    def relearn(self) -> None:
        """The caller took us off hold: learn its source again, keeping the latch until
        another qualifies (``LATCH_LEARN_PACKETS`` in a row, as in the first learning) or
        the latched source is heard again (its NAT entry still there: learning ends). We
        send nothing while held a=inactive, so nothing kept the caller's NAT entry open;
        one that expired came back on another port the resume's SDP (the same as before)
        does not name, and every packet from it was dropped: the call died of
        rtp_timeout. Asterisk learns again whenever the remote address is set."""
        with self._latch_lock:
            if self.latched is not None:
                self._relearning = True
                self._relearn_until = time.monotonic() + RELEARN_SECONDS
                self._learn(None)

    @staticmethod
    def _inband_detector(event_pt: int | None) -> DtmfDetector | None:
        # Only without telephone-event: with it, a phone may also leave its tones in the
        # audio, and detecting both would report every key twice.
        return DtmfDetector() if mode_for(event_pt) == INBAND else None

    @property
    def dtmf_mode(self) -> str:
        return mode_for(self.event_pt)

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
                packet, source = self.sin.recvfrom(4096)
            except TimeoutError:
                self.end_stalled_event()
                continue
            except OSError:
                if not self.NSD:
                    break
                continue
            self.receive(packet, source[:2])
            self.end_stalled_event()

    def receive(self, packet: bytes, source: tuple[str, int]) -> None:
        """One datagram from ``source``: read only when it comes from the latched source
        (``admit``), so a stranger (another port of the SDP's IP too) can neither
        speak nor key (telephone-event or tones) into a citizen's call nor keep a dead one
        alive. The packets of a source being
        learnt are held and read when it latches (so a NAT caller's first words and a key
        pressed at once are kept, and a stranger's are read only if it latches)."""
        rtp = len(packet) >= 12 and packet[0] >> 6 == 2
        pt = packet[1] & 0x7F if rtp else -1
        seq = struct.unpack_from("!H", packet, 2)[0] if rtp else -1
        with self._latch_lock:
            verdict = self.admit(source, pt, seq)
            if verdict is Verdict.HOLD:
                self._learning.append(packet)
                return
            if verdict is Verdict.DROP:
                self.rx_foreign += 1
                return
            held, self._learning = self._learning, []  # the source just latched's
        for one in (*held, packet):
            try:
                self.parse_packet(one)
            except Exception:
                self.rx_bad += 1

    def admit(self, source: tuple[str, int], pt: int, seq: int) -> Verdict:
        """Whether a packet of payload type ``pt`` (-1: not RTP) and sequence number
        ``seq`` from ``source`` is the peer's (TAKE), may be once its source is learnt
        (HOLD) or is not (DROP), latching the source it is (where ``destination`` then
        sends); called under ``_latch_lock``. The signalling's word is taken at once: a
        packet from the SDP's IP latches whatever its payload type (comfort noise only,
        a phone with silence suppression), the SDP's own address and port taking the call
        back whenever it sends, another port of that IP (a phone sending from one port
        and listening on the one it announced) while nothing on that IP is latched; once
        a port of that IP is latched, its other ports are foreign. Any other source is
        learnt as Asterisk's strictrtp does: a packet of a negotiated payload type (its
        audio's, its telephone-event's) makes its source the candidate, and the
        candidate latches on its ``LATCH_LEARN_PACKETS``-th packet in a row with
        consecutive sequence numbers; a packet of a negotiated type from another source
        starts the learning again with that one (so a stray packet shuts nobody out, and
        a random spray never latches). Once latched, no other
        source takes over, whatever its SSRC or rate: Asterisk's learning at any time let
        a flood of packets take calls over (CVE-2017-14099, "RTP bleed"); only a new
        address from the signalling (``set_remote``) starts learning again. Until the
        answer names an address (an outbound call's early media) any source is taken,
        latching nothing."""
        if self.outIP == "0.0.0.0":
            return Verdict.TAKE
        if source == self.latched:
            if self._relearning:  # still there after the hold: no other source learnt
                self._relearning = False
                self._learn(None)
            return Verdict.TAKE
        if source == (self.outIP, self.outPort):
            if pt >= 0:
                self._latch(source)
            return Verdict.TAKE
        # Learning again after a hold (``relearn``): the latch stands until a source
        # qualifies, learnt as below, for ``RELEARN_SECONDS`` and only from the latched
        # source's IP or the SDP's (a NAT keeps its public address and moves the port):
        # a stranger elsewhere sending packets in a row took the call over (review30).
        if self._relearning and time.monotonic() > self._relearn_until:
            self._relearning = False
            self._learn(None)
        if self._relearning and self.latched is not None and \
                source[0] not in (self.latched[0], self.outIP):
            return Verdict.DROP
        latched = None if self._relearning else self.latched
        if self.from_peer(source[0]) and not self._relearning:
            # Latched on this IP already, from another of its ports: foreign. Hearing every
            # port of the SDP's IP (a89a0bc) let another device behind the caller's NAT or
            # carrier address key into the call; a phone sends from the port it announces,
            # and the suite's SIPp callers now do too (tests/support/harness.py).
            if pt < 0 or (latched is not None and self.from_peer(latched[0])):
                return Verdict.DROP
            self._latch(source)
            return Verdict.TAKE
        if latched is not None or pt < 0:
            return Verdict.DROP
        if source == self._candidate:
            in_row = seq == (self._candidate_seq + 1) & 0xFFFF
            self._candidate_seq = seq
            self._candidate_run = self._candidate_run + 1 if in_row else 1
            if self._candidate_run < LATCH_LEARN_PACKETS:
                # What is held is at most the run this packet ends (the rest: dropped).
                excess = len(self._learning) - self._candidate_run + 1
                if excess > 0:
                    self.rx_foreign += excess
                    del self._learning[:excess]
                return Verdict.HOLD
            self._latch(source)
            return Verdict.TAKE
        if pt != self.audio_pt and pt not in self.event_pts:
            return Verdict.DROP  # a stray type from elsewhere: learning goes on
        self._learn(source, seq)
        return Verdict.HOLD

    def _latch(self, source: tuple[str, int]) -> None:
        """``source`` is the peer's: heard from, what we send there is no longer bounded,
        and the budget for an address nothing came from starts again (a later re-INVITE
        moving the media gets its 250 packets)."""
        if source != self._candidate:
            self._learn(None)  # another source's packets held: not the peer's
        # A phone that sent from the port its SDP names is symmetric: learnt again after
        # a hold from another port (its NAT entry renewed there), it is sent to there,
        # not at the SDP's port, which its NAT no longer maps.
        self._to_source = self._relearning and (
            self._to_source or self.latched == (self.outIP, self.outPort))
        self.latched = source
        self.tx_unverified = 0
        self._candidate = None
        self._relearning = False

    def _learn(self, source: tuple[str, int] | None, seq: int = 0) -> None:
        """Learning starts again, with ``source`` as the candidate (None: none yet); the
        packets held for the one before are dropped."""
        self.rx_foreign += len(self._learning)
        self._learning = []
        self._candidate, self._candidate_seq, self._candidate_run = source, seq, 1

    @property
    def signs_of_life(self) -> int:
        """What the watchdog counts as the caller heard from: its packets taken, and its
        keys by SIP INFO while we can still reach it (``keyed_by_signalling``)."""
        return self.rx_packets + (self.info_keys if self._reachable() else 0)

    def _reachable(self) -> bool:
        """Whether our audio still goes somewhere: a source latched, or the unverified
        budget not spent."""
        with self._latch_lock:
            return self.latched is not None or self.tx_unverified < UNVERIFIED_SEND_PACKETS

    def keyed_by_signalling(self) -> None:
        """A key came by SIP INFO, and was taken (within the key rate and the call's key
        source): a caller who keys is there, though none of its RTP reaches us (a NAT or
        firewall losing it), so the RTP watchdog takes the key as it takes a packet
        (no_rtp, rtp_timeout). The INFO proves the dialog's peer, not that the SDP's
        address is its own: no source is latched, and what is sent there stays within
        UNVERIFIED_SEND_PACKETS. Once that is spent with nothing latched the caller hears
        nothing more, and its keys keep nothing up: the call ends no_rtp (or rtp_timeout)
        as a silent one does, and a scanner keying by INFO is not bridged to an operator."""
        if self._reachable():
            self.info_keys += 1
            self.last_rx = time.monotonic()

    def from_peer(self, source: str) -> bool:
        """Whether ``source`` is the IP address the peer's SDP named."""
        return self.outIP == source

    def destination(self) -> tuple[str, int] | None:
        """Where the next packet goes: the latched source; the SDP's port when the source
        latched is on the SDP's IP (a phone sending from one port and listening on the
        one it announced, asymmetric RTP: the host is the one the SDP named, and heard
        from); the SDP's address while nothing is latched, for at most
        UNVERIFIED_SEND_PACKETS packets a call (then None: the frame is not sent)."""
        with self._latch_lock:
            latched = self.latched
            if latched is not None:
                return (self.outIP, self.outPort) if (
                    self.from_peer(latched[0]) and not self._to_source) else latched
            if self.tx_unverified >= UNVERIFIED_SEND_PACKETS:
                return None
            self.tx_unverified += 1
            return self.outIP, self.outPort

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
        if first & 0x20:  # padding: its last octet counts the padding, itself included
            end = end - packet[-1] if packet[-1] else -1
        if end < offset:
            # More CSRCs, extension or padding than the packet holds, or a padding count
            # of 0 (RFC 3550 A.1: not a valid packet). A count past the whole packet made
            # ``end`` negative: the slice counted from the end and took part of a malformed
            # packet as the caller's audio.
            self.rx_bad += 1
            return
        payload = packet[offset:end]
        pt = second & 0x7F
        seq, timestamp, ssrc = struct.unpack_from("!HII", packet, 2)
        self.last_rx = time.monotonic()
        self.rx_packets += 1
        if pt in self.event_pts:
            self._telephone_event(payload, timestamp)
            return
        audio = pt == self.audio_pt or pt in _DECODERS
        if not audio and pt != COMFORT_NOISE:
            return  # RTCP on this port, stray types: they only prove the peer alive
        # The caller's audio, and its comfort noise (a phone with silence suppression),
        # run on the events' clock; RTCP sent on this port does not (its "timestamp" is
        # an SSRC). Before, comfort noise did not count: a key whose ends were lost
        # waited, 3 s of it and more, for the caller's next press ("11").
        self._end_lost_event(timestamp)
        if not audio:
            return  # comfort noise: no audio to hear
        for heard_pt, heard in self.arrival.admit(ssrc, seq, (pt, payload)):
            self._hear(heard_pt, heard)

    def _hear(self, pt: int, payload: bytes) -> None:
        if not self._in_real_time(len(payload), self.last_rx):
            self.rx_excess += 1
            return
        # The negotiated number first: an offer may put PCMU on a dynamic one (96).
        pcm16 = (g711.DECODERS[self.codec] if pt == self.audio_pt else _DECODERS[pt])(
            payload)
        self._deliver(pcm16)
        detector = self._inband
        if detector is not None and self.dtmf is not None:
            for key in detector.feed(pcm16):
                self.dtmf(key)

    def _in_real_time(self, samples: int, now: float) -> bool:
        """Whether ``samples`` more of the peer's audio (one G.711 byte each) fit the time
        the call has run, with AUDIO_JITTER_SECONDS to spare."""
        self._audio_allowance = min(
            AUDIO_JITTER_SECONDS * 8000,
            self._audio_allowance + (now - self._audio_allowance_at) * 8000)
        self._audio_allowance_at = now
        if samples > self._audio_allowance:
            return False
        self._audio_allowance -= samples
        return True

    def _deliver(self, pcm16: bytes) -> None:
        """Hand on the audio in 20 ms frames whatever the peer's packet time: listeners
        count frames as 20 ms each (the IVR's silence and speech timing), and a phone
        sending a=ptime:30 (or 10, 40, 60) made every pause 1.5 (0.5, 2, 3) times as long."""
        if not self._rx_partial and len(pcm16) == FRAME_BYTES:
            self.on_audio(pcm16)
            return
        data = self._rx_partial + pcm16
        whole = len(data) - len(data) % FRAME_BYTES
        self._rx_partial = data[whole:]
        for i in range(0, whole, FRAME_BYTES):
            self.on_audio(data[i:i + FRAME_BYTES])

    def _telephone_event(self, payload: bytes, timestamp: int) -> None:
        """A key is reported when its event ends (the E bit, sent three times), as a PBX
        acts on a key's end: a stray event packet, or an event begun and never finished,
        keys nothing and so cannot lock the call's keys to RTP (``KeyLock``)."""
        if len(payload) < 4 or payload[0] >= len(EVENT_KEYS):
            return
        key = (timestamp, payload[0])
        if key in self._recent_events:
            return  # the end retransmits of an event already reported
        if key == self._next_segment(self._lost_end_press):
            # A press counted when its updates stopped (over a second of them lost, its
            # cut with them) goes on: its next segment starts at its timestamp + 0xFFFF,
            # where a new press of the same key starts at its own (its first packet's
            # audio timestamp). Before, the segment counted again: "55".
            self._lost_end_press = key
            self._recent_events.append(key)
            return
        unended = self._open_event
        if unended is not None and unended[:2] != key:
            # A new event while the last one never ended: its end packets were lost. Or the
            # same press going on in its next segment (RFC 4733 2.5.2.3), not a press of
            # its own: each segment was one, a 9 s press of 1 keyed "11".
            self._open_event = None
            # Read off the timestamps, not the last duration seen: updates lost at the cut
            # left it short of full ("11"), and a long press whose ends were lost, then
            # the same key again, passed for one press.
            continued = key == self._next_segment(unended[:2])
            if not continued and unended[2] >= MIN_UNENDED_EVENT_DURATION:
                self._report_event(unended[:2])
        if payload[1] & 0x80:
            self._open_event = None
            self._report_event(key)
        else:
            self._open_event = (timestamp, payload[0], int.from_bytes(payload[2:4], "big"))
            self._open_event_at = time.monotonic()

    @staticmethod
    def _next_segment(event: tuple[int, int] | None) -> tuple[int, int] | None:
        """The (timestamp, event) the next segment of ``event`` would have (RFC 4733
        2.5.1.3: the same event at the timestamp where the last one's 0xFFFF ended)."""
        if event is None:
            return None
        return (event[0] + EVENT_SEGMENT) & 0xFFFFFFFF, event[1]

    def end_stalled_event(self, now: float | None = None) -> None:
        """An open event not updated for ``EVENT_END_SECONDS`` is over, its ends lost
        (receive thread: after each packet, and each second of the socket's silence):
        a caller sending nothing after a key (silence suppression without comfort noise)
        gave no clock to end it on, and its key waited for the next press."""
        unended = self._open_event
        if unended is None:
            return
        if (time.monotonic() if now is None else now) - self._open_event_at >= (
                EVENT_END_SECONDS):
            self._close_unended(unended)

    def _end_lost_event(self, timestamp: int) -> None:
        """An open event whose updates stopped ``EVENT_END_TIMEOUT`` before this audio
        packet of the caller's (``timestamp``, the same clock) has ended, its end packets
        lost: it counts now if it lasted a press (as at the next event), not when the
        caller, hearing nothing happen, presses again and keys it twice."""
        unended = self._open_event
        if unended is None:
            return
        since = (timestamp - unended[0] - unended[2]) & 0xFFFFFFFF
        if EVENT_END_TIMEOUT < since < 0x80000000:
            self._close_unended(unended)

    def _close_unended(self, unended: tuple[int, int, int]) -> None:
        """The open event ``unended`` is over, its end packets lost: it counts if it lasted
        a press (``MIN_UNENDED_EVENT_DURATION``)."""
        self._open_event = None
        if unended[2] >= MIN_UNENDED_EVENT_DURATION:
            self._lost_end_press = unended[:2]
            self._report_event(unended[:2])

    def _report_event(self, key: tuple[int, int]) -> None:
        self._recent_events.append(key)
        if self.dtmf is not None:
            self.dtmf(EVENT_KEYS[key[1]])

    # -- send (F11, F12) ---------------------------------------------------------------
    def queue_pcm16(self, pcm: bytes) -> PlaybackToken:
        """Encode now (not in the pacing loop) and queue 10 ms pieces; the token fires
        when the last one has been sent."""
        if len(pcm) % UNIT_BYTES:
            pcm += b"\x00" * (UNIT_BYTES - len(pcm) % UNIT_BYTES)
        codec = self.codec
        frames = _frames(_ENCODERS[codec](pcm))
        token = PlaybackToken()
        token.frames = len(frames)
        with self._out_lock:
            if self.codec != codec:  # a re-INVITE switched codecs while we encoded
                frames = _frames(self._encode(pcm))
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

    def _next_payload(self) -> tuple[int, bytes, list[PlaybackToken]]:
        """The next packet's audio (``ptime`` / 10 pieces, silence where nothing is
        queued), its payload type, read together (``configure`` may switch the codec
        between two packets), and the plays it ends (their tokens fire once it is sent)."""
        units = max(1, self.ptime // 10)
        ended: list[PlaybackToken] = []
        with self._out_lock:
            payload = b""
            taken = 0
            while self._out and taken < units:
                item = self._out.popleft()
                if isinstance(item, PlaybackToken):
                    ended.append(item)
                    continue
                payload += item
                taken += 1
            # A play's token right after its last piece: ended by this packet too.
            while self._out and isinstance(self._out[0], PlaybackToken):
                ended.append(self._out.popleft())  # type: ignore[arg-type]
            return self.audio_pt, payload + self._silence * (units - taken), ended

    def trans(self) -> None:
        assert self.sin is not None
        deadline = time.monotonic()
        while self.NSD:
            # Paced by the packet actually sent: ``ptime`` is read once, where the packet
            # is made (a re-INVITE may change it at any moment). Read here as well, a change
            # between the two reads had a 60 ms packet followed 20 ms later (review51).
            sent_ms = self.send_frame()
            if not sent_ms:
                break
            # Next send time on an absolute grid: no drift, no sleep() error build-up.
            deadline += sent_ms / 1000
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -0.2:
                deadline = time.monotonic()  # stalled (e.g. SIGSTOP): resync, don't burst

    def send_frame(self) -> int:
        """Send the next packet, ``ptime`` ms of audio (the send thread, one each tick):
        how many ms it held, the pace to the next one; 0 once the socket is closed under a
        stopped stream."""
        assert self.sin is not None
        audio_pt, payload, ended = self._next_payload()
        # Held, the frame is paced and dropped as when nothing may be sent (the dialogue's
        # prompts still "play", its timers unchanged), and no keep-alive goes out either:
        # RFC 3264 allows none on a stream we may not send on, and our address is public
        # (there is no NAT binding of ours to keep open).
        muted = self.muted  # read once: the SIP thread sets it
        destination = None if muted else self.destination()
        if destination is None:
            if muted:
                self.tx_muted += 1
                self._marker = 0x80  # the first packet after the hold starts a talkspurt
            else:
                self.tx_withheld += 1
            self._last_send = None  # a pause of ours, not a gap in the pacing
        else:
            header = struct.pack("!BBHII", 0x80, self._marker | audio_pt,
                                 self.outSequence & 0xFFFF, self.outTimestamp & 0xFFFFFFFF,
                                 self.outSSRC)
            self._marker = 0
            try:
                self.sin.sendto(header + payload, destination)
            except OSError:
                if not self.NSD:
                    return 0
            now = time.monotonic()
            if self._last_send is not None and now - self._last_send > self.max_send_gap:
                self.max_send_gap = now - self._last_send
                self.max_send_gap_at = self.tx_packets
            self._last_send = now
            self.tx_packets += 1
        if not muted:
            # One number per packet sent or withheld (the budget's, a loss to the peer as
            # any), none while held: a 60 s hold counted 3000 on, RFC 3550 A.1's
            # MAX_DROPOUT, and the peer dropped the first packets after the resume as out
            # of sequence. The timestamp goes on: it is the clock, the marker says why.
            self.outSequence = (self.outSequence + 1) & 0xFFFF
        # The timestamp steps by the samples the packet held (RFC 3550 5.1): 80 for 10 ms,
        # 480 for 60 ms; one payload byte is one G.711 sample.
        self.outTimestamp = (self.outTimestamp + len(payload)) & 0xFFFFFFFF
        for token in ended:
            token.done.set()
        return len(payload) // 8  # G.711: 8 samples (bytes) a millisecond


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
