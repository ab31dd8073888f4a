"""Client transactions: the requests we send (REGISTER, INVITE, ACK, CANCEL, BYE), built in
one place, retransmitted until their final response (RFC 3261 17.1) and matched to the
responses that come back; and the client side of an outbound call's INVITE."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from telephony.sip.message import USER_AGENT, SipMessage, build_request
from telephony.sip.timers import T1, T2, TIMER_B, Timer

Later = Callable[..., Timer | None]  # (delay, fn, *args): None once the timers are stopped

# RFC 3261 8.1.1.6: the hops a request we originate may take.
MAX_FORWARDS = 70

# RFC 3261 8.1.1.7: every branch of an RFC 3261 element starts so.
BRANCH_COOKIE = "z9hG4bK"


def new_branch() -> str:
    """A branch for a request of ours: the cookie and 128 bits from ``secrets``. It is what
    a response must carry to be the transaction's (``ClientTransactions.on_response``), so
    it must be beyond guessing by whoever knows the Call-ID (``random`` and the clock are
    not; pyVoIP's uuid4 cut to 25 hex digits kept 94 bits)."""
    return BRANCH_COOKIE + secrets.token_hex(16)


def branch_key(branch: str) -> str:
    """A branch as compared: without regard to case, it being a token (RFC 3261 7.3.1). A
    trunk writing ours back as ``Z9HG4BK...`` still answers; ours are lower-case hex, so
    folding costs no secret bits."""
    return branch.lower()


def onward_hops(inbound: SipMessage | None) -> int:
    """Max-Forwards for a leg we start for a caller's call (the operator bridge, the
    emergency hand-over): their INVITE's less one, as a proxy would (RFC 3261 16.6), never
    above ours; ours when they wrote none (RFC 2543) or the call is not a caller's. A B2BUA
    starting every leg at 70 let a call looping through us (our hand-over routed back to
    the hotline, two nodes bridging to each other) take a line at each turn until all were
    gone; carried, the loop ends at the 483 of ``Admission.refuse_no_hops``. 0: no leg may
    be started (``Dialer.dial``)."""
    hops = inbound.max_forwards if inbound is not None else None
    return MAX_FORWARDS if hops is None else max(0, min(hops - 1, MAX_FORWARDS))


def udp_via(host: str, port: int, branch: str) -> str:
    """Our Via value for a request over UDP (rport: answer to where it came from)."""
    return f"SIP/2.0/UDP {host}:{port};branch={branch};rport"


def new_request(method: str, uri: str, *, via: str, from_: str, to: str, call_id: str,
                cseq: int, routes: Iterable[str] = (), contact: str | None = None,
                extra: Iterable[tuple[str, str]] = (), body: bytes = b"",
                max_forwards: int = MAX_FORWARDS) -> bytes:
    """Every request we originate, with its headers in one order: Via, Max-Forwards,
    Route*, From, To, Call-ID, CSeq, Contact, ``extra``, User-Agent (RFC 3261 8.1.1).
    ``max_forwards``: a leg started for a caller's call carries theirs (``onward_hops``)."""
    return build_request(method, uri, [
        ("Via", via),
        ("Max-Forwards", str(max_forwards)),
        *(("Route", r) for r in routes),
        ("From", from_),
        ("To", to),
        ("Call-ID", call_id),
        ("CSeq", f"{cseq} {method}"),
        *([("Contact", f"<{contact}>")] if contact else []),
        *extra,
        ("User-Agent", USER_AGENT),
    ], body=body)


@dataclass
class ClientTxn:
    data: bytes
    dest: tuple[str, int]
    method: str
    call_id: str
    # None: Timer B fired, no final response at all.
    on_response: Callable[[SipMessage | None], None] | None = None
    final: SipMessage | None = None
    provisional: bool = False
    done: threading.Event = field(default_factory=threading.Event)
    # Set once a response (or Timer B) has been handled, after its ``on_response``: what
    # that sent (an INVITE's ACK, BYE or CANCEL) has gone. ``done`` is set before it.
    heard: threading.Event = field(default_factory=threading.Event)
    # Set once its final response (or Timer B, or ``end``) has been handled, after its
    # ``on_response``: what a final starts (a 2xx's ACK and BYE) has gone or begun.
    settled: threading.Event = field(default_factory=threading.Event)
    interval: float = T1
    started: float = field(default_factory=time.monotonic)
    cseq: int = 0  # its CSeq number
    branch: str = ""  # its top Via's branch: a response matches by this and the method
    timer: Timer | None = None

    @classmethod
    def of(cls, data: bytes, dest: tuple[str, int], call_id: str, method: str,
           on_response: Callable[[SipMessage | None], None] | None = None) -> ClientTxn:
        """The transaction of request ``data`` of ours, its key read from the request."""
        request = SipMessage(data)
        if not request.top_branch.startswith(BRANCH_COOKIE):
            raise ValueError(f"{method} without a branch of ours: no response could match")
        return cls(data=data, dest=dest, method=method, call_id=call_id,
                   on_response=on_response, cseq=request.cseq[0], branch=request.top_branch)

    @property
    def key(self) -> tuple[str, str]:
        return branch_key(self.branch), self.method

    def answers(self, msg: SipMessage) -> bool:
        """Whether response ``msg`` is this transaction's: one Via (RFC 3261 8.1.3.3: a
        response with more is meant for a proxy, not for us) whose branch is ours, the
        CSeq method (17.1.3), and the request's Call-ID and CSeq number too (a proxy
        changes neither)."""
        return (len(msg.headers["Via"]) == 1 and branch_key(msg.top_branch) == self.key[0]
                and msg.cseq == (self.cseq, self.method) and msg.call_id == self.call_id)


@dataclass
class OutboundLeg:
    """An outbound call's INVITE client side: what the ACK, the CANCEL and a retransmitted
    2xx need once the INVITE is out. Kept by the front end, not on the call handle."""

    request_uri: str
    dest: tuple[str, int]
    invite_via: str
    invite_txn: ClientTxn | None = None
    provisional: bool = False
    ack: bytes | None = None  # the ACK for the 2xx, sent again for each 2xx retransmission
    cancelled: bool = False  # our CANCEL has gone (once: ``Dialer._send_cancel``)
    # To tags of other forks' 2xx we hung up (once each: ``Dialer._other_fork``)
    forks_hung_up: set[str] = field(default_factory=set)
    # Where the first response to the INVITE came from, when sent to a host name: a trunk
    # named by host (sip_uri_template) is no address until it answers (``Dialer.dials_to``).
    # At most one: whoever saw the INVITE may answer it too (review117).
    answered_from: set[str] = field(default_factory=set)


class ClientTransactions:
    """The client transactions of one front end, keyed by their top Via's branch and
    their method (RFC 3261 17.1.3: a CANCEL shares its INVITE's branch, 9.1), the one
    thing of a request no one off its path can know. Keyed by Call-ID and CSeq (before
    sip44), anyone who had seen a Call-ID (a log, a proxy, a capture) answered our INVITE
    or BYE from anywhere. Each transaction keeps its own key: our re-INVITE refreshing an
    outbound call's session, keyed by the method alone, once took the place of the call's
    INVITE, and a late copy of that INVITE's 2xx went unACKed (RFC 3261 13.2.2.4 wants
    every one ACKed; review51); an INVITE's is kept until the call is forgotten."""

    def __init__(self, *, send: Callable[[bytes, tuple[str, int]], None], later: Later) -> None:
        self._send = send
        self._later = later
        self._txns: dict[tuple[str, str], ClientTxn] = {}
        self._lock = threading.Lock()

    def start(self, data: bytes, dest: tuple[str, int], call_id: str, method: str,
              on_response: Callable[[SipMessage | None], None] | None = None) -> ClientTxn:
        """Send ``data`` and retransmit it (T1 doubling; an INVITE stops at its first
        provisional) until a final response or Timer B."""
        txn = ClientTxn.of(data, dest, call_id, method, on_response)
        with self._lock:
            self._txns[txn.key] = txn
        self._send(data, dest)
        txn.timer = self._later(txn.interval, self._retransmit, txn)
        return txn

    def _retransmit(self, txn: ClientTxn) -> None:
        if txn.done.is_set() or (txn.provisional and txn.method == "INVITE"):
            return
        if time.monotonic() - txn.started >= TIMER_B:
            self.end(txn)
            return
        self._send(txn.data, txn.dest)
        txn.interval = min(txn.interval * 2, T2 if txn.method != "INVITE" else TIMER_B)
        txn.timer = self._later(txn.interval, self._retransmit, txn)

    def end(self, txn: ClientTxn) -> None:
        """Give up on ``txn``; its ``on_response`` hears None when no final came."""
        txn.done.set()
        if txn.timer is not None:
            txn.timer.cancel()
        with self._lock:
            if self._txns.get(txn.key) is txn:
                del self._txns[txn.key]
        if txn.on_response is not None and txn.final is None:
            txn.on_response(None)  # timed out
        txn.settled.set()
        txn.heard.set()

    def on_response(self, msg: SipMessage) -> bool:
        """Hand a response to its transaction; False when it is no open transaction's
        (``ClientTxn.answers``)."""
        with self._lock:
            txn = self._txns.get((branch_key(msg.top_branch), msg.cseq[1]))
        if txn is None or not txn.answers(msg):
            return False
        if msg.status_code < 200:
            txn.provisional = True
            if txn.on_response is not None:
                txn.on_response(msg)
            txn.heard.set()
            return True
        first_final = txn.final is None
        txn.final = msg
        if first_final:
            txn.done.set()
            if txn.timer is not None:
                txn.timer.cancel()
            if txn.method != "INVITE":
                with self._lock:
                    self._txns.pop(txn.key, None)
        if txn.on_response is not None:
            txn.on_response(msg)  # INVITE: also 2xx retransmissions (ACK them again)
        txn.settled.set()
        txn.heard.set()
        return True

    def pending(self, call_id: str) -> list[ClientTxn]:
        """The call's transactions whose final response has not been handled yet."""
        with self._lock:
            return [t for t in self._txns.values()
                    if t.call_id == call_id and not t.settled.is_set()]

    def forget(self, call_id: str) -> None:
        with self._lock:
            for key in [k for k, t in self._txns.items() if t.call_id == call_id]:
                del self._txns[key]


__all__ = ["BRANCH_COOKIE", "MAX_FORWARDS", "ClientTransactions", "ClientTxn", "Later",
           "OutboundLeg", "branch_key", "new_branch", "new_request", "onward_hops", "udp_via"]
