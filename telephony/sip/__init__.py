"""SIP/RTP for the hotline, built on pyVoIP 1.6.8 with its faults fixed in one place
(``ivr.sip.pyvoip_fixes``; catalogue in docs/sip.md).

Public API::

    fe = SipFrontEnd(settings, on_call)   # on_call(CallHandle) runs in its own thread
    fe.start(); ...; fe.stop()            # or: with SipFrontEnd(...) as fe:
    outcome = fe.call("1001")             # CallOutcome(kind=ANSWERED|BUSY|DECLINED|...)
    call.answer(); call.play_wav(path, interrupt_on_dtmf=True); call.get_dtmf(timeout=5)
    call.read_pcm16(timeout=1); call.hangup(); call.state; call.end_reason
"""

from ivr.sip.call import (
    TRANSITIONS,
    CallHandle,
    CallOutcome,
    CallState,
    CallStats,
    Direction,
    EndReason,
    InvalidTransition,
    OutcomeKind,
    PlayResult,
    read_wav_pcm16,
    write_wav_pcm16,
)
from ivr.sip.frontend import PhoneStatus, SipFrontEnd, SipRegistrationError

__all__ = [
    "TRANSITIONS",
    "CallHandle",
    "CallOutcome",
    "CallState",
    "CallStats",
    "Direction",
    "EndReason",
    "InvalidTransition",
    "OutcomeKind",
    "PhoneStatus",
    "PlayResult",
    "SipFrontEnd",
    "SipRegistrationError",
    "read_wav_pcm16",
    "write_wav_pcm16",
]
