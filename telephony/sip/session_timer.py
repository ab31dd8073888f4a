"""SIP option tags and session timers (RFC 4028) for what we answer and what we refresh.

Carriers send ``Supported: timer`` and ``Session-Expires`` and refresh long calls with a
re-INVITE or an UPDATE. The refresher is the side the request chose (RFC 4028 9: the UAS
keeps the caller's ``refresher`` parameter): ``refresher=uac`` or none, the caller
refreshes and a refresh is answered like any re-INVITE/UPDATE (the call and its audio go
on); ``refresher=uas``, we refresh, at half the interval (RFC 4028 10), by UPDATE when the
caller allows it, else by re-INVITE with our SDP unchanged (``telephony.sip.refresher``).
A refresh that does not come, or ours unanswered (408, 481, no answer at all), means the
other side has lost the call (a crashed SBC, a NAT binding gone): the session is over, and
we end it with a BYE (RFC 4028 10, :func:`expired`) instead of holding a line for nobody.

A ``Require`` option we do not know gets 420 with ``Unsupported`` instead of being
ignored, which would leave the caller believing we do something we do not.
"""

from __future__ import annotations

from telephony.sip.message import SipMessage
from telephony.sip.uri import LWS

# Option tags we implement; "timer" as described above.
SUPPORTED_OPTIONS = frozenset({"timer"})
# The header saying so, in every answer of ours.
SUPPORTED_HEADER = ("Supported", ", ".join(sorted(SUPPORTED_OPTIONS)))
# RFC 4028 4: no session interval below 90 s may be asked for.
MIN_SE_SECONDS = 90


def option_tags(msg: SipMessage, name: str) -> list[str]:
    """The option tags of every ``name`` header (Require, Supported), lower case, in order."""
    return [tag.strip(LWS).lower() for value in msg.all(name) for tag in value.split(",")
            if tag.strip(LWS)]


def unsupported_options(msg: SipMessage) -> list[str]:
    """What ``Require`` asks for that we do not do (the 420's ``Unsupported``)."""
    return [tag for tag in option_tags(msg, "Require") if tag not in SUPPORTED_OPTIONS]


def session_expires(msg: SipMessage) -> int | None:
    """The delta-seconds of ``Session-Expires``; None when absent or unreadable (an
    unreadable one is treated as absent: the call is worth more than the timer)."""
    value = msg.first("Session-Expires").split(";", 1)[0].strip(LWS)
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    return int(value)


def too_brief(msg: SipMessage) -> bool:
    """A session interval below our minimum: answered 422 with ``Min-SE`` (RFC 4028 8.1)."""
    seconds = session_expires(msg)
    return seconds is not None and seconds < MIN_SE_SECONDS


def refresher(msg: SipMessage) -> str | None:
    """The ``refresher`` parameter of ``Session-Expires`` (``uac`` or ``uas``), or None."""
    for param in msg.first("Session-Expires").split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip(LWS).lower() == "refresher" and value.strip(LWS).lower() in ("uac", "uas"):
            return value.strip(LWS).lower()
    return None


def granted_interval(msg: SipMessage) -> int | None:
    """The session interval our 2xx to this INVITE or UPDATE puts in force, in seconds; None
    when it carries no timer. When the caller asked for a session timer and supports the
    extension, we take its interval (never below our minimum) with the refresher it chose
    (RFC 4028 9, :func:`we_refresh`). A caller that asks without supporting it gets no
    timer at all, as before we refreshed (RFC 4028 9 would have us refresh: the caller
    could not even read our ``Session-Expires``; a call is worth more than the timer). A
    refresh without one turns the timer off, as the RFC says of any session refresh."""
    seconds = session_expires(msg)
    uac_supports = "timer" in option_tags(msg, "Supported") + option_tags(msg, "Require")
    if seconds is None or not uac_supports:
        return None
    return max(seconds, MIN_SE_SECONDS)


def we_refresh(msg: SipMessage) -> bool:
    """Whether our 2xx to this request makes us the refresher: it granted a timer and the
    request asked ``refresher=uas`` (RFC 4028 9: "the UAS MUST" keep a refresher the
    request named). Without the parameter the caller refreshes, as before (RFC 4028 9
    lets the UAS choose; a caller that supports timers refreshes its own sessions)."""
    return granted_interval(msg) is not None and refresher(msg) == "uas"


def answer_headers(msg: SipMessage) -> list[tuple[str, str]]:
    """Session-timer headers for our 2xx to an INVITE or UPDATE (``Supported: timer`` is
    in every answer already, ``SipFrontEnd.contact_headers``): the :func:`granted_interval`
    with the refresher the request chose, and ``Require: timer`` (RFC 4028 9)."""
    seconds = granted_interval(msg)
    if seconds is None:
        return []
    who = "uas" if we_refresh(msg) else "uac"
    return [("Session-Expires", f"{seconds};refresher={who}"), ("Require", "timer")]


def refresh_after(interval: float) -> float:
    """Seconds after the answer or the last refresh at which we, the refresher, refresh:
    half the interval (RFC 4028 10's recommendation)."""
    return interval / 2


def refresh_headers(interval: int, min_se: int | None) -> list[tuple[str, str]]:
    """The session-timer headers of a refresh we send (RFC 4028 7.4): the interval in
    force, ourselves (the UAC of this request) as the refresher, ``Min-SE`` once a 422 or
    the peer's request named one (RFC 4028 7.4: the largest seen), and that we support
    the extension."""
    return [("Session-Expires", f"{interval};refresher=uac"),
            *([("Min-SE", str(min_se))] if min_se else []),
            ("Supported", "timer")]


def min_se(msg: SipMessage) -> int | None:
    """The delta-seconds of ``Min-SE`` (a 422's or a request's); None when absent."""
    value = msg.first("Min-SE").split(";", 1)[0].strip(LWS)
    if not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    return int(value)


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
