"""Our non-2xx final answers to INVITEs and re-INVITEs (486, 488, 491, 500, 503, 487...),
sent again until their ACK: the INVITE server transaction of RFC 3261 17.2.1 from its
Completed state on (``FinalState``). What reaches a call before (100, 180) and our 2xx
are the call's business (``CallHandle.last_invite_response``, ``indialog.InDialog``).

Over UDP a final answer can be lost; a proxy's 100 has already stopped the caller resending
its INVITE, so without our retransmission the caller waits out its own Timer B (32 s) for an
answer that was given. And what is the transaction's is absorbed here, before any dialog
or admission sees it: the INVITE retransmitted (the same answer again: a lost 486 or 503
in a burst never makes a second call), its ACK (it acknowledges this answer and nothing of
the dialog's: an ACK of a 500 to a re-INVITE is not the ACK of our 200 to the INVITE), and
a CANCEL of it (200: too late to cancel, RFC 3261 9.2).

A request is the transaction's when its Call-ID, top Via branch and CSeq number are the
INVITE's (RFC 3261 17.2.3: the ACK of a non-2xx carries the INVITE's Via, 17.1.1.3) and it
comes from the address the INVITE came from; an ACK also carries the To tag of our answer,
which only its receiver knows.

Nothing more goes to an address the flood guard has banned (``silenced``): a refused
INVITE from a forged source would otherwise draw eleven answers to it instead of one.

It owns no socket and no timer thread: it is given ``send(data, addr)`` and ``later``.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from telephony.call import InvalidTransition
from telephony.sip.message import SipMessage, build_response
from telephony.sip.timers import T1, T4, next_retransmission
from telephony.sip.transaction import Later, branch_key

log = logging.getLogger("telephony.sip")

Send = Callable[[bytes, tuple[str, int] | None], None]

# Transactions kept at once: one per refused INVITE for up to 64*T1 (32 s), so a surge
# from many addresses is bounded; past it the oldest is dropped (its retransmissions stop,
# and a late retransmission of its INVITE is taken as a new one).
MAX_FINALS = 4096
# The INVITE again is answered (free: a lost answer is not the caller's fault) as often as a
# client sends it within Timer B (Timer A: at 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s), no more:
# copies with a forged source would otherwise draw our answer to its owner, uncharged.
MAX_INVITE_AGAIN = 6


class FinalState(enum.Enum):
    """RFC 3261 17.2.1 from the final answer on (its Proceeding state, the 1xx, is the
    call's)."""

    # Sent, and again at T1 doubling to T2 (Timer G) until its ACK; the INVITE's
    # retransmissions get it again; 64*T1 without the ACK (Timer H): TERMINATED.
    COMPLETED = "completed"
    # Its ACK came: sent no more; the ACK's and the INVITE's retransmissions are absorbed
    # for T4 (Timer I), then TERMINATED.
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"  # forgotten: what comes later is a request of its own


FINAL_TRANSITIONS: dict[FinalState, frozenset[FinalState]] = {
    FinalState.COMPLETED: frozenset({FinalState.CONFIRMED, FinalState.TERMINATED}),
    FinalState.CONFIRMED: frozenset({FinalState.TERMINATED}),
    FinalState.TERMINATED: frozenset(),
}

# Call-ID, the INVITE's top Via branch (``branch_key``: in any case), its CSeq number, the
# address it came from: a copy from elsewhere is a transaction of its own and never takes
# the caller's place.
Key = tuple[str, str, int, str]


def _key(msg: SipMessage) -> Key:
    return (msg.call_id, branch_key(msg.top_branch), msg.cseq[0],
            msg.source[0] if msg.source is not None else "")


@dataclass(eq=False)
class InviteFinal:
    """One non-2xx final answer of ours to an INVITE, and where its transaction stands."""

    key: Key
    source_ip: str  # where the INVITE came from: only that address's requests are its
    response: bytes
    dest: tuple[str, int] | None
    to_tag: str  # our answer's To tag, which its ACK carries
    code: int
    refund: bool  # a capacity refusal: its ACK gives the INVITE's flood-guard token back
    state: FinalState = FinalState.COMPLETED
    waited: float = 0.0  # seconds of Timer G so far
    again: int = 0  # the INVITE's copies answered (``MAX_INVITE_AGAIN``)


class InviteFinals:
    def __init__(self, *, send: Send, later: Later,
                 on_ack: Callable[[InviteFinal], None] | None = None,
                 silenced: Callable[[str], bool] = lambda _ip: False,
                 limit: int = MAX_FINALS) -> None:
        self._send = send
        self._later = later
        self._on_ack = on_ack
        self._silenced = silenced
        self._limit = limit
        self._finals: OrderedDict[Key, InviteFinal] = OrderedDict()
        # The receive thread adds and matches, the timer thread retransmits and forgets.
        self._lock = threading.Lock()

    def send(self, invite: SipMessage, response: bytes, dest: tuple[str, int] | None, *,
             refund: bool = False) -> InviteFinal:
        """Send ``response`` (a final answer of 300-699 to ``invite``) to ``dest`` and
        again until its ACK. An INVITE already answered (its retransmission reaching us
        by another path) gets its first answer again, not a second one."""
        sent = SipMessage(response)
        if not 300 <= sent.status_code <= 699:
            raise ValueError(f"not a non-2xx final answer: {sent.status_code}")
        key = _key(invite)
        source_ip = key[3]
        with self._lock:
            final = self._finals.get(key)
            if final is None:
                final = InviteFinal(key=key, source_ip=source_ip, response=response,
                                    dest=dest, to_tag=sent.to_tag, code=sent.status_code,
                                    refund=refund)
                self._finals[key] = final
                self._finals.move_to_end(key)
                while len(self._finals) > self._limit:
                    # Forgotten, so its timer sends it no more either.
                    _, dropped = self._finals.popitem(last=False)
                    self._move(dropped, FinalState.TERMINATED)
                new = True
            else:
                new = False
        self._send(final.response, final.dest)
        if new:
            self._later(T1, self._again, final, T1)
        return final

    def state(self, msg: SipMessage) -> FinalState:
        """Where the transaction of ``msg`` (its INVITE, ACK or CANCEL) stands."""
        final = self._finals.get(_key(msg))
        return final.state if final is not None else FinalState.TERMINATED

    def take(self, msg: SipMessage) -> bool:
        """Whether ``msg`` is a request of one of our non-2xx answers' transactions, and
        if so, handled: the INVITE retransmitted gets the answer again (COMPLETED), its
        ACK moves it to CONFIRMED (and stops the retransmissions), a CANCEL gets 200."""
        if msg.type == 0 or msg.method not in ("INVITE", "ACK", "CANCEL") or msg.source is None:
            return False
        with self._lock:
            final = self._finals.get(_key(msg))
            if (final is None or final.state is FinalState.TERMINATED
                    or (msg.method == "INVITE" and msg.to_tag
                        and msg.to_tag != final.to_tag)
                    or (msg.method == "ACK" and msg.to_tag != final.to_tag)):
                return False
            acked = msg.method == "ACK" and final.state is FinalState.COMPLETED
            if acked:
                self._move(final, FinalState.CONFIRMED)
            state = final.state
            answer_again = (msg.method == "INVITE" and state is FinalState.COMPLETED
                            and final.again < MAX_INVITE_AGAIN)
            if answer_again:
                final.again += 1
        if msg.method == "CANCEL":
            self._send(build_response(msg, 200, to_tag=final.to_tag), msg.source)
        elif answer_again and not self._silenced(final.source_ip):
            self._send(final.response, msg.source)
        elif acked:
            self._later(T4, self._terminate, final)
            if self._on_ack is not None:
                self._on_ack(final)
        return True

    def _move(self, final: InviteFinal, new: FinalState) -> None:
        """(Under ``_lock``.) ``FINAL_TRANSITIONS`` or InvalidTransition."""
        if new not in FINAL_TRANSITIONS[final.state]:
            raise InvalidTransition(f"{final.key[0]}: {final.code} {final.state.value} -> "
                                    f"{new.value}")
        log.debug("call %s INVITE %s: %s -> %s", final.key[0], final.code,
                  final.state.value, new.value)
        final.state = new

    def _terminate(self, final: InviteFinal) -> None:
        with self._lock:
            if final.state is not FinalState.TERMINATED:
                self._move(final, FinalState.TERMINATED)
            if self._finals.get(final.key) is final:
                del self._finals[final.key]

    def _again(self, final: InviteFinal, delay: float) -> None:
        """Timer G: the answer again, until its ACK; Timer H: given up at 64*T1."""
        if final.state is not FinalState.COMPLETED:
            return
        final.waited += delay
        wait = next_retransmission(delay, final.waited)
        if wait is not None and self._silenced(final.source_ip):
            self._terminate(final)  # banned since: no more answers to it
            return
        if wait is None:
            log.info("call %s: no ACK for our %d to the INVITE (CSeq %d) in %.0f s",
                     final.key[0], final.code, final.key[2], final.waited)
            self._terminate(final)
            return
        self._send(final.response, final.dest)
        self._later(wait, self._again, final, wait)


def final_code(response: bytes) -> int:
    """The status code of a response we built (``SIP/2.0 486 ...``)."""
    return int(response.split(b" ", 2)[1])


__all__ = ["FINAL_TRANSITIONS", "MAX_FINALS", "MAX_INVITE_AGAIN", "FinalState", "InviteFinal",
           "InviteFinals", "final_code"]
