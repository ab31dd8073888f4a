"""Key 0: put the caller through to a human operator, by a bridged second call.

Why a bridge and not a SIP REFER (blind transfer): the adapter (telephony/sip) implements no
REFER/NOTIFY (pyVoIP 1.6.8 has neither), many citizen-side endpoints and trunks refuse
REFER, and after a REFER we would lose the call -- no record of whether the operator
answered, no fallback to a callback ticket. Bridging keeps the caller's leg with us: we
call ``settings.sip.operator_uri``; if it answers, each side's 20 ms frames are queued on
the other side's RTP sender (both legs are 8 kHz G.711, so no resampling, ~20-40 ms added
latency); if it does not, the dialogue still has the caller and leaves a callback ticket.
The caller's side keeps being recorded while bridged.
"""

from __future__ import annotations

import logging
import time
from enum import Enum
from typing import TYPE_CHECKING

from telephony.call import OutcomeKind

if TYPE_CHECKING:
    from collections.abc import Callable

    from ivr.audio import CallAudio
    from telephony.call import CallHandle
    from telephony.sip.frontend import SipFrontEnd

log = logging.getLogger("hotline.ivr.transfer")

# How often a bridge that goes on tells the call's journal so (``alive``): well inside the
# age at which recovery settles a call in progress as dead (``recover_spool``, 900 s).
ALIVE_SECONDS = 60.0


class TransferResult(Enum):
    # The operator answered; returns when either side hung up (an operator leg that ended
    # first with nothing heard from it is REFUSED: nobody took the call).
    BRIDGED = "bridged"
    NOT_SET = "not_set"  # no operator_uri configured
    NO_ANSWER = "no_answer"  # nobody answered in the ring time (or our stop: none placed)
    # Busy, declined, failed (the trunk's refusal or none at all), not placed (front end
    # stopped, unusable URI), or answered and ended with nothing heard: told apart from
    # NO_ANSWER for a hand-over's trail.
    REFUSED = "refused"
    CALLER_GONE = "caller_gone"  # the caller hung up while we were ringing


def bridge_to_operator(frontend: SipFrontEnd, call: CallHandle, audio: CallAudio, uri: str,
                       *, ring_timeout: float,
                       alive: Callable[[], object] | None = None,
                       emergency: bool = False) -> TransferResult:
    """``alive`` is called every ``ALIVE_SECONDS`` while the bridge lasts (the call's
    journal written again: a talk with the operator can outlast any IVR dialogue).
    ``emergency``: the 110/119/120 hand-over, whose leg starts at 70 hops whatever the
    caller's INVITE had left (review130)."""
    if not uri:
        return TransferResult.NOT_SET
    if call.waits_ended:  # our stop began: no call placed that its drain would cut
        return TransferResult.NO_ANSWER
    try:
        # Cancelled as soon as the caller hangs up, not left ringing for the ring time; and
        # as soon as our stop begins (``CallHandle.end_waits``): before (review64) a caller
        # who pressed 0 heard ringback for the ring time (20 s) past the stop's drain
        # (15 s), then our BYE, never the notice.
        # ``for_call``: the leg carries the caller's hops less one, and none is started
        # when none is left (a loop through us: sip45), the caller getting the fallback.
        # Not an emergency's (review130): a caller arriving with 1..3 hops (an SBC and a
        # proxy before us, a device starting low) had no 119 leg, or one the carrier's
        # proxies refused 483, and was told to dial 119 themselves. A loop through the
        # hand-over needs a dialogue hearing an emergency at every turn and is bounded by
        # the lines; a refused 119 may cost a life.
        outcome = frontend.call(uri, timeout=ring_timeout,
                                give_up_when=lambda: call.ended or call.waits_ended,
                                for_call=None if emergency else call)
    except (RuntimeError, ValueError) as exc:  # front end stopped, unusable URI
        log.error("call %s: operator call to %s not placed: %s", call.call_id, uri, exc)
        return TransferResult.REFUSED
    if outcome.kind is not OutcomeKind.ANSWERED or outcome.call is None:
        if call.ended:
            log.info("call %s: caller hung up while operator %s rang: operator call %s (%s)",
                     call.call_id, uri, outcome.kind.value, outcome.status)
            return TransferResult.CALLER_GONE
        log.info("call %s: operator %s %s (%s)", call.call_id, uri, outcome.kind.value,
                 outcome.status)
        return (TransferResult.NO_ANSWER if outcome.kind is OutcomeKind.NO_ANSWER
                else TransferResult.REFUSED)
    op = outcome.call
    if call.ended:
        op.hangup()
        return TransferResult.CALLER_GONE
    log.info("call %s: bridged to operator %s (%s)", call.call_id, uri, op.call_id)
    caller_rtp, op_rtp = call.rtp, op.rtp
    assert caller_rtp is not None and op_rtp is not None
    # queue_pcm16 (not play_pcm16): it returns at once, so neither the pump thread nor
    # the operator leg's RTP receive thread ever waits on the other side's pacing.
    op.on_audio = caller_rtp.queue_pcm16
    audio.forward = op_rtp.queue_pcm16
    unheard = False
    try:
        last_alive = time.monotonic()
        while not call.ended and not op.ended:
            time.sleep(0.1)
            if alive is not None and time.monotonic() - last_alive >= ALIVE_SECONDS:
                last_alive = time.monotonic()
                try:
                    alive()
                except Exception:
                    # The journal is for recovery, the talk is the citizen's: a write
                    # failing (disk full) only risks the call settled early, never cut.
                    log.exception("call %s: journal not written during the bridge",
                                  call.call_id)
        # The operator's leg ended first and not a sound came from it: a phone that picked
        # up and hung up at once (answered by ``answered_at`` since trial54) or one whose
        # audio never reached us. Nobody took the call: the caller is kept, for the
        # callback or "请挂机后直接拨打119", not hung up on as if put through.
        unheard = not call.ended and not op.stats.rx_packets
    finally:
        audio.forward = None
        op.on_audio = None
        if not op.ended:
            op.hangup()
        if not call.ended and not unheard:
            call.hangup()
    if unheard:
        log.warning("call %s: operator %s answered and ended (%s) with nothing heard from "
                    "it: not put through", call.call_id, uri,
                    op.end_reason.value if op.end_reason else "ended")
        return TransferResult.REFUSED
    return TransferResult.BRIDGED
