"""A SIP peer made of one UDP socket, for what SIPp cannot send: INVITEs that are never
ACKed on purpose, calls that never send RTP, malformed datagrams. Loopback only; every
read is bounded by a timeout."""

from __future__ import annotations

import re
import socket
import struct
import time


def status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def header(response: bytes, name: str) -> str:
    m = re.search(rb"^" + name.encode() + rb":\s*(.*?)\r$", response, re.M | re.I)
    return m.group(1).decode() if m else ""


def sdp_port(response: bytes) -> int:
    m = re.search(rb"^m=audio (\d+) ", response, re.M)
    assert m, response[:400]
    return int(m.group(1))


class RawPeer:
    def __init__(self, source_ip: str, target_port: int) -> None:
        self.ip = source_ip
        self.target = ("127.0.0.1", target_port)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source_ip, 0))
        self.port = self.sock.getsockname()[1]
        self.media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.media.bind((source_ip, 0))
        self.media_port = self.media.getsockname()[1]

    def close(self) -> None:
        self.sock.close()
        self.media.close()

    def send(self, data: bytes) -> None:
        self.sock.sendto(data, self.target)

    def finals(self, expect: int | None = None, wait: float = 1.0) -> dict[str, bytes]:
        """Final responses by Call-ID: until ``expect`` of them have come, or nothing has
        arrived for ``wait`` seconds (a 200 retransmitted until its ACK keeps it going)."""
        out: dict[str, bytes] = {}
        self.sock.settimeout(wait)
        try:
            while expect is None or len(out) < expect:
                data = self.sock.recv(65535)
                if data.startswith(b"SIP/2.0 ") and status(data) >= 200:
                    out.setdefault(header(data, "Call-ID"), data)
        except TimeoutError:
            pass
        return out

    def invite(self, call_id: str, *, user: str = "12345", body: str | None = None,
               extra: str = "", cseq: str = "1") -> bytes:
        if body is None:
            body = self.sdp()
        return (
            f"INVITE sip:{user}@127.0.0.1:{self.target[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {self.ip}:{self.port};branch=z9hG4bK{call_id}\r\n"
            f"From: <sip:13800138000@{self.ip}>;tag=f{call_id}\r\n"
            f"To: <sip:{user}@127.0.0.1>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\n"
            f"Contact: <sip:13800138000@{self.ip}:{self.port}>\r\nMax-Forwards: 70\r\n{extra}"
            f"Content-Type: application/sdp\r\nContent-Length: {len(body)}\r\n\r\n{body}"
        ).encode()

    def request(self, method: str, call_id: str, *, to: str, from_tag: str, cseq: int,
                body: str = "", content_type: str = "") -> bytes:
        """A request in a dialog (re-INVITE, INFO...), or one forged to look like it:
        ``to`` and ``from_tag`` say which dialog it claims."""
        return (
            f"{method} sip:12345@127.0.0.1:{self.target[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {self.ip}:{self.port};branch=z9hG4bK{method}{from_tag}{cseq}\r\n"
            f"From: <sip:13800138000@{self.ip}>;tag={from_tag}\r\nTo: {to}\r\n"
            f"Call-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
            f"Contact: <sip:13800138000@{self.ip}:{self.port}>\r\nMax-Forwards: 70\r\n"
            + (f"Content-Type: {content_type}\r\n" if content_type else "")
            + f"Content-Length: {len(body)}\r\n\r\n{body}"
        ).encode()

    def sdp(self, c: str | None = None, *, codec: str = "PCMU") -> str:
        """An offer (or the answer in an ACK) of ``codec`` alone (PCMU, PCMA, G729...)."""
        pt = {"PCMU": 0, "PCMA": 8, "G729": 18}[codec]
        return (f"v=0\r\no=- 1 1 IN IP4 {self.ip}\r\ns=-\r\nc={c or 'IN IP4 ' + self.ip}\r\n"
                f"t=0 0\r\nm=audio {self.media_port} RTP/AVP {pt}\r\n"
                f"a=rtpmap:{pt} {codec}/8000\r\n")

    def ack(self, response: bytes, *, method: str = "ACK", cseq: int = 1,
            sdp: str = "") -> bytes:
        """ACK (or BYE) in the dialog/transaction of ``response``; ``sdp``: the answer an
        ACK carries to the offer in a 200 (the INVITE had none)."""
        call_id = header(response, "Call-ID")
        return (
            f"{method} sip:12345@127.0.0.1:{self.target[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {self.ip}:{self.port};branch=z9hG4bK{method}{call_id}\r\n"
            f"From: <sip:13800138000@{self.ip}>;tag=f{call_id}\r\n"
            f"To: {header(response, 'To')}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n"
            "Max-Forwards: 70\r\n"
            + ("Content-Type: application/sdp\r\n" if sdp else "")
            + f"Content-Length: {len(sdp)}\r\n\r\n{sdp}"
        ).encode()

    def send_rtp(self, answer: bytes, packets: int = 10) -> None:
        """A few 20 ms PCMU packets of silence to the port our 200 OK named."""
        dest = ("127.0.0.1", sdp_port(answer))
        for i in range(packets):
            head = struct.pack("!BBHII", 0x80, 0, i, 160 * i, 0x5EED)
            self.media.sendto(head + b"\xff" * 160, dest)
            time.sleep(0.02)
