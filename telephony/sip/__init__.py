"""SIP for the hotline, built on pyVoIP 1.6.8 with its faults fixed (catalogue in
``telephony.pyvoip`` and docs/sip.md).

Modules: ``message`` (parse/build), ``transport`` (the UDP socket), ``sdp`` (offer/answer),
``floodguard`` (admission of untrusted sources), ``frontend`` (registration, inbound
admission, outbound dialing), ``metrics`` (Prometheus figures). The call handle is
``telephony.call``, RTP ``telephony.rtp``. Usage::

    fe = SipFrontEnd(settings, on_call)   # on_call(CallHandle) runs in its own thread
    fe.start(); ...; fe.stop()            # or: with SipFrontEnd(...) as fe:
    outcome = fe.call("1001")             # CallOutcome(kind=ANSWERED|BUSY|DECLINED|...)
    call.answer(); call.play_wav(path, interrupt_on_dtmf=True); call.get_dtmf(timeout=5)
    call.read_pcm16(timeout=1); call.hangup(); call.state; call.end_reason
"""
