"""Who is calling: the From user, or the network-asserted identity from a trusted peer.

A carrier withholding the number sends ``From: "Anonymous" <sip:anonymous@anonymous.invalid>``
and the real number in ``P-Asserted-Identity`` (RFC 3325) or the older ``Remote-Party-ID``.
Those headers are only as good as whoever put them there: anyone reaching the port can
write any number into them, so they count only from a trusted source (the flood guard's
trust list: ``sip.trusted_sources``, plus the registrar in register mode).
"""

from __future__ import annotations

from telephony.sip.message import SipMessage
from telephony.sip.uri import plain_user

# In order of preference: PAI is the standard, Remote-Party-ID its predecessor.
ASSERTED_IDENTITY_HEADERS = ("P-Asserted-Identity", "Remote-Party-ID")


def _uri_user(value: str) -> str:
    uri = value.split("<", 1)[1].split(">", 1)[0] if "<" in value else value.split(";", 1)[0]
    scheme, colon, rest = uri.strip().partition(":")
    if not colon or scheme.lower() not in ("sip", "sips", "tel"):
        return ""
    if scheme.lower() == "tel":
        return plain_user(rest).strip()
    return plain_user(rest.split("@", 1)[0]).strip() if "@" in rest else ""


def asserted_user(msg: SipMessage) -> str:
    """The user part of the first asserted identity with one (a tel: URI's number); ""
    when there is none. PAI may list a sip: and a tel: identity, in either order."""
    for name in ASSERTED_IDENTITY_HEADERS:
        for header in msg.all(name):
            for part in header.split(","):
                user = _uri_user(part)
                if user:
                    return user
    return ""


def asserted_caller(msg: SipMessage, *, trusted: bool) -> str:
    """The caller an INVITE's network asserts, when it comes from a trusted source; ""
    otherwise (the caller is then the From user, which may be "anonymous")."""
    return asserted_user(msg) if trusted else ""
