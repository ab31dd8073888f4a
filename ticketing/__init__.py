"""The ticket domain of the 12345 hotline (接诉即办): the core every channel drives.

This package imports no telephony: calls, speech recognition and outbound dialling
live in ``ivr``, ``asr`` and ``outbound`` and depend on this package, never the reverse.
"""
