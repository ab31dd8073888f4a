"""The one way into pyVoIP 1.6.8, and the catalogue of its faults the hotline meets.

We keep pyVoIP's pieces that work (``SIPMessage``'s header parser, ``SIPClient``'s socket,
tag/branch/Call-ID generators and REGISTER/digest builders, ``RTPClient``'s socket and
sequence/timestamp/SSRC state, ``SIPStatus``/``PayloadType``) and replace the parts that
broke on real peers, in ``telephony.sip.message`` (F1, F4), ``telephony.sip.transport``
(F2, F3, F5), ``telephony.rtp`` (F10-F14, F16) and ``telephony.sip.frontend`` with its
parts (F3-F7, F15). Each fix below names the fault (F-number, used in docs/sip.md) and the
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
    To-tag (#312). → dialog-correct ACK/BYE/responses (``telephony.sip.dialog``, ``dialer``).
F5  ``SIPClient.start`` always REGISTERs (#51, #60: no peer-to-peer); registration blocks
    holding ``recvLock`` up to 30 s per try; a failure is retried on a timer thread and
    ``start()`` returns as if all went well, status stuck at REGISTERING (#185, #246);
    after 3 failures the whole phone is stopped. → ``SipTransport.start`` only binds;
    ``telephony.sip.registration`` registers as a transaction on the shared receive loop, raises
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
F9  (see F8) pyVoIP SDP parsing replaced by ``telephony.sip.sdp``.
F10 ``read_audio``/``write_audio`` are 8-bit unsigned (``audioop.lin2lin`` + ``bias``)
    (#80, #148, #250, #285): recognizer and recordings need 16-bit. → ``Rtp16Stream``
    decodes each received PCMU/PCMA payload with ``telephony.media.g711`` straight to 16-bit, and
    encodes 16-bit prompts once, before they are paced out.
F11 ``encode_packet`` encodes PCMA with the μ-law encoder (#181): noise on A-law calls.
F12 Send pacing: sleeps "20 ms minus time spent" per packet and needs
    ``TRANSMIT_DELAY_REDUCTION`` fudge (#105, #113, #181): drift and gaps, choppy prompts.
    Receive polls a non-blocking socket every 10 ms. → absolute 20 ms schedule, blocking
    socket with timeout; the largest gap between sent packets is measured per call.
F13 RFC 2833: a digit is reported only from a packet with the marker bit, so a lost first
    packet loses the key; ``RTPMessage`` ignores the header extension and padding
    lengths; an unknown payload type raises inside the receive loop. → own RTP header
    parse; digits keyed on (RTP timestamp, event), reported once when the event ends (any
    of its three end packets), or when the next event begins if all three were lost and
    it had lasted 40 ms; a lone stray packet keys nothing.
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

# F17: ``from pyVoIP import SIP`` on a fresh interpreter dies in a circular import
# (SIP -> VoIP.status -> VoIP/__init__ -> VoIP.VoIP -> SIP.SIPMessage); loading the VoIP
# package first is the documented way in and makes SIP/RTP importable.
import pyVoIP.VoIP  # noqa: F401  isort: skip
from pyVoIP import RTP, SIP  # isort: skip

__all__ = ["RTP", "SIP"]
