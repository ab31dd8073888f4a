"""Carrier adapters shared by the inbound IVR and the outbound service.

Imports only ``config`` (and the carriers' own libraries): ``ivr`` and ``outbound`` both
use it, so it must not reach back into either, nor into ``ticketing``.
"""
