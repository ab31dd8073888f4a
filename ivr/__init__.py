"""Phone front door: the IVR dialogue over SIP (``telephony``) and Twilio webhooks."""
