"""SIP for the hotline, built on pyVoIP 1.6.8 with its faults fixed (catalogue in
``telephony.pyvoip`` and docs/sip.md).

Modules: ``message`` (parse/build), ``uri`` (SIP URIs, dial targets), ``transport`` (the
UDP socket), ``timers`` (one timer thread, stalled-call decision), ``transaction`` (requests
we send: the one request builder, retransmission, response matching, the outbound leg),
``sdp`` (offer/answer), ``session_timer`` (option tags, RFC 4028), ``identity`` (trusted
caller identity), ``floodguard`` (token buckets per source), ``frontend`` (the socket
and the router of messages to: ``registration``, ``admission`` (who is let in),
``indialog`` (requests inside our dialogs), ``dialer`` (outbound legs); ``dialog`` says
where an in-dialog request goes), ``metrics`` (Prometheus figures). The call handle is
``telephony.call``, RTP ``telephony.rtp``. Usage::

    # on_call(CallHandle) runs in its own thread; read_number: the core's reader of a
    # call's number (ticketing.phones.call_number), handed in: telephony imports no core
    fe = SipFrontEnd(settings, on_call, read_number=call_number)
    fe.start(); ...; fe.stop()            # or: with SipFrontEnd(...) as fe:
    outcome = fe.call("1001")             # DialOutcome(kind=ANSWERED|BUSY|DECLINED|...)
    call.answer(); call.play_wav(path, interrupt_on_dtmf=True); call.get_dtmf(timeout=5)
    call.read_pcm16(timeout=1); call.hangup(); call.state; call.end_reason
"""
