"""SIP timers: one thread runs every retransmission and timeout of a front end, and the
decision when an answered call has stalled (no ACK, no first RTP, RTP gone quiet)."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from telephony.call import EndReason

log = logging.getLogger("telephony.sip")

T1, T2, TIMER_B = 0.5, 4.0, 32.0  # RFC 3261 17.1.1.1
# How long a UAS sends its 2xx to an INVITE again while no ACK comes (RFC 3261 13.3.1.4),
# and its non-2xx final answer (Timer H, 17.2.1).
ACK_WAIT = 64 * T1
# How long a non-2xx final's transaction stays after its ACK, to absorb the ACK's own
# retransmissions over UDP (Timer I, RFC 3261 17.2.1).
T4 = 5.0


def next_retransmission(delay: float, waited: float) -> float | None:
    """The wait before an answer to an INVITE goes again, the last one having waited
    ``delay`` and all so far ``waited`` seconds: doubling up to T2, the last wait ending at
    64*T1 exactly (RFC 3261 13.3.1.4 for a 2xx, Timers G and H of 17.2.1 for the rest);
    None once 64*T1 has passed without the ACK."""
    if waited >= ACK_WAIT:
        return None
    return min(delay * 2, T2, ACK_WAIT - waited)


class Timer:
    __slots__ = ("args", "cancelled", "fn", "when")

    def __init__(self, when: float, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.when, self.fn, self.args, self.cancelled = when, fn, args, False

    def cancel(self) -> None:
        self.cancelled = True


class Timers:
    """One thread for every retransmission and timeout, instead of a Timer per packet."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._cond = threading.Condition()
        self._seq = itertools.count()
        self._running = True
        self._thread = threading.Thread(target=self._run, name="sip-timers", daemon=True)
        self._thread.start()

    def call_later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(time.monotonic() + delay, fn, args)
        with self._cond:
            heapq.heappush(self._heap, (timer.when, next(self._seq), timer))
            self._cond.notify()
        return timer

    def stop(self) -> None:
        with self._cond:
            self._running = False
            self._cond.notify()
        self._thread.join(timeout=2)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._running and (not self._heap or self._heap[0][0] > time.monotonic()):
                    wait = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(wait)
                if not self._running:
                    return
                _, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            try:
                timer.fn(*timer.args)
            except Exception:
                log.exception("SIP timer %s failed", getattr(timer.fn, "__name__", timer.fn))


def stall_reason(*, now: float, answered: float, acked: bool, rx_packets: int,
                 last_rx: float, ack_timeout: float, first_rtp_timeout: float,
                 rtp_timeout: float, held: bool = False, media: bool = True
                 ) -> EndReason | None:
    """Why an answered inbound call should end now, if it should (times are monotonic
    seconds; ``answered`` is when our 200 OK went out). A caller's phone ACKs within a round
    trip and sends RTP at once: a call that does neither holds a line for nobody.
    ``media=False``: our 200 carried the SDP offer (the INVITE had none) and no media runs
    before the answer in the ACK, so only the ACK is waited for, and as long."""
    if not acked and now - answered >= ack_timeout:
        return EndReason.NO_ACK
    if not media:
        return None
    if rx_packets == 0 and now - answered >= first_rtp_timeout:
        return EndReason.NO_RTP
    if not held and now - last_rx > rtp_timeout:  # on hold a caller sends nothing
        return EndReason.RTP_TIMEOUT
    return None
