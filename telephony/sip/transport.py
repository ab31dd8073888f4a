"""The SIP UDP socket: pyVoIP's SIPClient kept as socket owner and REGISTER builder
(faults F2, F3, F5 in ``telephony.pyvoip``)."""

from __future__ import annotations

import logging
import secrets
import socket
import threading
from collections.abc import Callable

from telephony.pyvoip import SIP
from telephony.sip.message import (
    MAX_DATAGRAM_BYTES,
    SipMessage,
    SipSyntaxError,
    bad_request_for,
    is_response,
    unreadable_what,
)
from telephony.sip.transaction import new_branch

log = logging.getLogger("telephony.sip")


def is_media(datagram: bytes) -> bool:
    """An RTP or RTCP packet (RFC 7983's demultiplexing: a first byte of 128-191, version
    2), which no SIP message is: a SIP datagram starts with a method or "SIP/2.0"."""
    return len(datagram) >= 12 and 128 <= datagram[0] <= 191


class SipTransport(SIP.SIPClient):
    """pyVoIP's SIPClient as the UDP socket owner and REGISTER builder only."""

    def __init__(self, *, registrar: tuple[str, int], username: str, password: str,
                 bind: tuple[str, int], advertise: str | None = None,
                 on_message: Callable[[SipMessage], None]) -> None:
        """``advertise``: the address pyVoIP's REGISTER names in its Via and Contact
        (``telephony.sip.advertise``; default the bound one). The socket binds ``bind``."""
        # phone=None: only pyVoIP's register()/deregister() use it, and we call neither.
        super().__init__(registrar[0], registrar[1], username, password,
                         phone=None,  # type: ignore[arg-type]
                         myIP=advertise or bind[0], myPort=bind[1])
        self._bind_ip = bind[0]
        self.on_message = on_message
        # Asked before a malformed datagram is answered or logged (the flood guard): a
        # stream of garbage from one address must not become a stream of 400s and warnings.
        # Told whether it is a response (``message.is_response``).
        self.admit_malformed: Callable[[str, bool], bool] = lambda _ip, _response: True
        self._thread: threading.Thread | None = None
        self.garbage_dropped = 0
        self.bad_requests_answered = 0
        self.media_dropped = 0

    def gen_branch(self, length: int = 32) -> str:
        """pyVoIP's REGISTER takes its branch here: ours (``transaction.new_branch``)."""
        return new_branch()

    def gen_tag(self) -> str:
        """A From/To tag for a dialog of ours, beside the Call-ID what a request must name
        to be taken in it: 64 bits from ``secrets``. pyVoIP's was 32 bits of ``random``
        (the Mersenne Twister, whose next outputs its past ones give away), each kept in a
        list scanned on every new tag and never emptied, one more per call for the life
        of the process."""
        return secrets.token_hex(8)

    def start(self) -> None:  # F5: bind only; registration is the front end's business
        if self.NSD:
            raise RuntimeError("transport already started")
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind((self._bind_ip, self.myPort))
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
        if is_media(raw):
            # RTP at the SIP port: a caller's SDP can name our own SIP address as its media
            # address, and our RTP for that call (50 packets a second, from our own address)
            # then came here. Charged as garbage, it had the flood guard ban our own address
            # within half a second: with the shipped bind (127.0.0.1) every caller there.
            # Never charged, never answered; a sender of it costs no more than a banned one.
            self.media_dropped += 1
            if self.media_dropped % 1000 == 1:
                log.warning("RTP/RTCP at the SIP port from %s dropped (%d so far): a peer's "
                            "SDP names this port as its media address", addr,
                            self.media_dropped)
            return
        try:
            if len(raw) > MAX_DATAGRAM_BYTES:
                raise SipSyntaxError(f"datagram larger than {MAX_DATAGRAM_BYTES} bytes")
            msg = SipMessage(raw, addr)
        except SipSyntaxError as exc:
            if not self.admit_malformed(addr[0], is_response(raw)):
                self.garbage_dropped += 1
                return
            reply = bad_request_for(raw, str(exc))
            if reply is not None:
                self.bad_requests_answered += 1
                log.warning("400 to malformed request from %s: %s", addr, exc)
                self.send(reply, addr)
            else:
                self.garbage_dropped += 1
                log.warning("dropped unparseable %s from %s: %s", unreadable_what(raw), addr,
                            exc)
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
