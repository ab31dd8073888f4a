"""Phone front door: SIP/RTP adapter (``ivr.sip``) and, later, the IVR dialogue."""
