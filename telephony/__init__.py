"""Carrier adapters shared by the inbound IVR and the outbound service.

``sip/`` (message, uri, transport, timers, transaction, sdp, session_timer, identity,
floodguard, frontend, metrics), ``rtp``, ``call`` (the call handle), ``media/`` (g711, wav,
prompts), ``twilio/`` (signature check).

Imports only ``config`` (and the carriers' own libraries): ``ivr``, ``outbound`` and ``asr``
use it, so it must not reach back into any of them, nor into ``ticketing`` (an
import-linter contract in pyproject.toml).
"""
