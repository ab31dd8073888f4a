"""SIP option tags and session timers (RFC 3261 8.2.2.3, RFC 4028) for what we answer.

Carriers send ``Supported: timer`` and ``Session-Expires`` and refresh long calls with a
re-INVITE or an UPDATE. We never refresh ourselves: the caller (the UAC) is always the
refresher, and a refresh is answered like any re-INVITE/UPDATE (the call and its audio go
on). A ``Require`` option we do not know gets 420 with ``Unsupported`` instead of being
ignored, which would leave the caller believing we do something we do not.
"""

from __future__ import annotations

from telephony.sip.message import SipMessage

# Option tags we implement; "timer" is answered as described above.
SUPPORTED_OPTIONS = frozenset({"timer"})
# The header saying so, in every answer of ours.
SUPPORTED_HEADER = ("Supported", ", ".join(sorted(SUPPORTED_OPTIONS)))
# RFC 4028 4: no session interval below 90 s may be asked for.
MIN_SE_SECONDS = 90


def option_tags(msg: SipMessage, name: str) -> list[str]:
    """The option tags of every ``name`` header (Require, Supported), lower case, in order."""
    return [tag.strip().lower() for value in msg.all(name) for tag in value.split(",")
            if tag.strip()]


def unsupported_options(msg: SipMessage) -> list[str]:
    """What ``Require`` asks for that we do not do (the 420's ``Unsupported``)."""
    return [tag for tag in option_tags(msg, "Require") if tag not in SUPPORTED_OPTIONS]


def session_expires(msg: SipMessage) -> int | None:
    """The delta-seconds of ``Session-Expires``; None when absent or unreadable (an
    unreadable one is treated as absent: the call is worth more than the timer)."""
    value = msg.first("Session-Expires").split(";", 1)[0].strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    return int(value)


def too_brief(msg: SipMessage) -> bool:
    """A session interval below our minimum: answered 422 with ``Min-SE`` (RFC 4028 8.1)."""
    seconds = session_expires(msg)
    return seconds is not None and seconds < MIN_SE_SECONDS


def answer_headers(msg: SipMessage) -> list[tuple[str, str]]:
    """Session-timer headers for our 2xx to an INVITE or UPDATE (``Supported: timer`` is
    in every answer already, ``SipFrontEnd.contact_headers``). When the caller asked for a session
    timer and supports the extension, we take its interval with the caller as refresher and
    say ``Require: timer`` (RFC 4028 9). A caller that asks without supporting it would
    need us to refresh, which we do not: the answer then carries no timer at all."""
    headers: list[tuple[str, str]] = []
    seconds = session_expires(msg)
    uac_supports = "timer" in option_tags(msg, "Supported") + option_tags(msg, "Require")
    if seconds is not None and uac_supports:
        headers += [("Session-Expires", f"{max(seconds, MIN_SE_SECONDS)};refresher=uac"),
                    ("Require", "timer")]
    return headers
