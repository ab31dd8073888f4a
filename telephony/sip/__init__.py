"""SIP for the hotline, built on pyVoIP 1.6.8 with its faults fixed (catalogue in
``telephony.pyvoip`` and docs/sip.md).

Modules: ``message`` (parse/build), ``uri`` (SIP URIs, dial targets), ``transport`` (the
UDP socket), ``timers`` (one timer thread, stalled-call decision), ``transaction`` (requests
we send: the one request builder, retransmission, response matching, the outbound leg),
``sdp`` (offer/answer), ``session_timer`` (option tags, RFC 4028), ``identity`` (trusted
caller identity), ``floodguard`` (admission of untrusted sources), ``frontend``
(registration, inbound admission, dialogs, outbound dialing), ``metrics`` (Prometheus
figures). The call handle is
``telephony.call``, RTP ``telephony.rtp``. Usage::

    fe = SipFrontEnd(settings, on_call)   # on_call(CallHandle) runs in its own thread
    fe.start(); ...; fe.stop()            # or: with SipFrontEnd(...) as fe:
    outcome = fe.call("1001")             # DialOutcome(kind=ANSWERED|BUSY|DECLINED|...)
    call.answer(); call.play_wav(path, interrupt_on_dtmf=True); call.get_dtmf(timeout=5)
    call.read_pcm16(timeout=1); call.hangup(); call.state; call.end_reason
"""
