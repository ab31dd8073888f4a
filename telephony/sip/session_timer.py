"""SIP option tags and session timers (RFC 3261 8.2.2.3, RFC 4028) for what we answer.

Carriers send ``Supported: timer`` and ``Session-Expires`` and refresh long calls with a
re-INVITE or an UPDATE. We never refresh ourselves: the caller (the UAC) is always the
refresher, and a refresh is answered like any re-INVITE/UPDATE (the call and its audio go
on). A refresh that does not come means the caller's side has lost the call (a crashed SBC,
a NAT binding gone): the session is over, and we end it with a BYE shortly before it
expires (RFC 4028 10, :func:`expired`) instead of holding a line for nobody.

A ``Require`` option we do not know gets 420 with ``Unsupported`` instead of being
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


def granted_interval(msg: SipMessage) -> int | None:
    """The session interval our 2xx to this INVITE or UPDATE puts in force, in seconds; None
    when it carries no timer. When the caller asked for a session timer and supports the
    extension, we take its interval (never below our minimum) with the caller as refresher
    (RFC 4028 9). A caller that asks without supporting it would need us to refresh, which
    we do not: the answer then carries no timer at all. A refresh without one turns the
    timer off, as the RFC says of any session refresh."""
    seconds = session_expires(msg)
    uac_supports = "timer" in option_tags(msg, "Supported") + option_tags(msg, "Require")
    if seconds is None or not uac_supports:
        return None
    return max(seconds, MIN_SE_SECONDS)


def answer_headers(msg: SipMessage) -> list[tuple[str, str]]:
    """Session-timer headers for our 2xx to an INVITE or UPDATE (``Supported: timer`` is
    in every answer already, ``SipFrontEnd.contact_headers``): the :func:`granted_interval`
    with the caller as refresher, and ``Require: timer`` (RFC 4028 9)."""
    seconds = granted_interval(msg)
    if seconds is None:
        return []
    return [("Session-Expires", f"{seconds};refresher=uac"), ("Require", "timer")]


def bye_after(interval: float) -> float:
    """Seconds after the last refresh at which we, the refreshee, end the session: the
    interval less min(32 s, a third of it) (RFC 4028 10), so that our BYE arrives while the
    caller's side still knows the dialog."""
    return interval - min(32.0, interval / 3)


def expired(*, now: float, refreshed: float, interval: float | None) -> bool:
    """A session whose interval ``interval`` (None: no timer) ran from ``refreshed`` (the
    answer or the last refresh, same clock as ``now``) without a refresh, and is to be ended
    now with a BYE."""
    return interval is not None and now - refreshed >= bye_after(interval)
