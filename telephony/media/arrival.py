"""Which of a source's RTP audio packets are heard: RFC 3550 A.1's sequence-number rules
(``update_seq``), so that a packet the network delivered twice is heard once, and a source
that numbers afresh is heard, not taken for copies.

A packet up to ``MAX_MISORDER`` behind the highest number seen (or that number itself) is a
copy if that number was heard already (a duplicating link, a forking SBC: the copy comes a
few packets late), else a late packet, heard. Anything else is heard: ahead by less than
``MAX_DROPOUT``, in order (packets lost between); further off, a jump, which two sequential
packets confirm as the source's restart (its numbers start again there). A restart can
also land within the window behind (a sender that plays one recording after another with
the same numbers: SIPp's play_pcap_audio): its first packet looks like a copy and is held
for one packet; the next, one on, is a copy too, confirms the restart and both are heard.
A real copy is one packet, not a run. Before, only a copy right behind its original was
dropped; one two packets late was heard again, the same 20 ms twice in the recording (10 %
of packets so repeated: 223 frames for 200)."""

from __future__ import annotations

from collections import deque
from typing import Generic, TypeVar

SEQ_MOD = 1 << 16
MAX_DROPOUT = 3000  # RFC 3550 A.1: ahead by less than this, in order
MAX_MISORDER = 100  # RFC 3550 A.1: behind by at most this, late or a copy

P = TypeVar("P")


class Arrival(Generic[P]):
    """One call's audio packets in arrival order; ``admit`` says which to hear."""

    def __init__(self) -> None:
        self.ssrc: int | None = None
        self.max_seq = 0
        self.bad_seq: int | None = None  # a jump's next number: two in a row, a restart
        self._heard: deque[int] = deque(maxlen=MAX_MISORDER + 1)
        self._heard_set: set[int] = set()
        self._held: tuple[int, P] | None = None  # a copy, or a restart's first packet
        self.duplicates = 0  # copies dropped

    def admit(self, ssrc: int, seq: int, packet: P) -> list[P]:
        """The packets to hear now, in order: ``packet``, none (a copy, or held for one
        packet), or a held one and ``packet`` (a restart confirmed)."""
        if ssrc != self.ssrc:  # a new source (a transfer, an SBC re-anchoring): afresh
            self._restart(ssrc, seq)
            return [packet]
        held, self._held = self._held, None
        behind = (self.max_seq - seq) % SEQ_MOD
        if behind <= MAX_MISORDER and seq in self._heard_set:
            if held is not None and seq == (held[0] + 1) % SEQ_MOD:
                self._restart(ssrc, held[0])  # a run of "copies": the numbers start again
                self._hear(seq)
                return [held[1], packet]
            if held is not None:
                self.duplicates += 1
            self._held = (seq, packet)
            return []
        if held is not None:
            self.duplicates += 1
        if behind <= MAX_MISORDER:
            self._hear(seq, advance=False)  # late, not heard yet
            return [packet]
        ahead = (seq - self.max_seq) % SEQ_MOD
        if ahead < MAX_DROPOUT:
            self._hear(seq)
            self.bad_seq = None
        elif seq == self.bad_seq:  # two in a row after a jump: the source restarted
            self._restart(ssrc, seq)
        else:
            self.bad_seq = (seq + 1) % SEQ_MOD
            self._remember(seq)
        return [packet]

    def _restart(self, ssrc: int, seq: int) -> None:
        self.ssrc, self.max_seq, self.bad_seq = ssrc, seq, None
        self._heard.clear()
        self._heard_set.clear()
        self._remember(seq)

    def _hear(self, seq: int, *, advance: bool = True) -> None:
        if advance:
            self.max_seq = seq
        self._remember(seq)

    def _remember(self, seq: int) -> None:
        if seq in self._heard_set:
            return
        if len(self._heard) == self._heard.maxlen:
            self._heard_set.discard(self._heard[0])
        self._heard.append(seq)
        self._heard_set.add(seq)
