"""Who is calling, and whether anyone vouched for it: the one rule (``caller_identity``).

A carrier withholding the number sends ``From: "Anonymous" <sip:anonymous@anonymous.invalid>``
and the real number in ``P-Asserted-Identity`` (RFC 3325) or the older ``Remote-Party-ID``.
Those headers are only as good as whoever put them there: anyone reaching the port can
write any number into them, so they count only from a trusted source (the flood guard's
trust list: ``sip.trusted_sources``, plus the registrar in register mode).

A trusted source is not always the carrier: the shipped Kamailio front (deploy/kamailio) is
trusted by the nodes yet relays anyone who reaches port 5060. So a number counts as the
caller's, verified, only when a trusted source says the carrier gave it: a kept asserted
identity (Kamailio removes PAI/RPID/PPI from everyone outside CARRIER_NETS; a carrier's SBC
trusted directly asserts it itself), or Kamailio's own mark ``VOUCHED_HEADER``, which it
removes from every request and adds only to those from CARRIER_NETS. Anything else is the
From user as written: unverified (key 1 then asks for a ticket number, ``ivr.call_flow``).
Before (loose26, judge25's "Left"), a caller from any address through Kamailio who wrote a
citizen's number in From was taken for that citizen and key 1 read their tickets.
"""

from __future__ import annotations

from telephony.call import CallerVouch
from telephony.sip.message import SipMessage
from telephony.sip.uri import LWS, canonical_host, split_header_list, uri_caller

# In order of preference: PAI is the standard, Remote-Party-ID its predecessor.
ASSERTED_IDENTITY_HEADERS = ("P-Asserted-Identity", "Remote-Party-ID")
# Added by our Kamailio front to requests from CARRIER_NETS alone (and removed from every
# request first, so nobody outside can bring it): the carrier gave this From.
VOUCHED_HEADER = "X-Hotline-Vouched"
VOUCHED_VALUE = "carrier"


def asserted_user(msg: SipMessage) -> str:
    """The user part of the first asserted identity with one (a tel: URI's number); ""
    when there is none. PAI may list a sip: and a tel: identity, in either order, split
    on commas outside quoted display names: split on every comma (before mend70), a trusted
    carrier copying ``"Zhang, <sip:999@x>" <sip:138...@carrier>`` verified 999."""
    for name in ASSERTED_IDENTITY_HEADERS:
        for header in msg.all(name):
            for part in split_header_list(header):
                user = uri_caller(part)
                if user:
                    return user
    return ""


def asserted_caller(msg: SipMessage, *, trusted: bool) -> str:
    """The caller an INVITE's network asserts, when it comes from a trusted source; ""
    otherwise (the caller is then the From user, which may be "anonymous")."""
    return asserted_user(msg) if trusted else ""


def carrier_marked(msg: SipMessage) -> bool:
    """Whether the request bears our front's mark that it came from the carrier."""
    return any(v.strip(LWS).lower() == VOUCHED_VALUE for v in msg.all(VOUCHED_HEADER))


def caller_identity(msg: SipMessage, *, trusted: bool) -> tuple[str, CallerVouch]:
    """Who an INVITE is from, and who vouched for that number: (the asserted identity,
    NETWORK) from a trusted source that kept one; (the From user, NETWORK) from a trusted
    source with the carrier's mark; (the From user, NONE) otherwise -- direct mode, or a
    stranger relayed by the trusted front. Whether a vouch makes the number the caller's
    is ``ivr.caller_trust.number_verified`` (one decision with Twilio's STIR/SHAKEN)."""
    asserted = asserted_caller(msg, trusted=trusted)
    if asserted:
        return asserted, CallerVouch.NETWORK
    return from_identity(msg.first("From"), marked=trusted and carrier_marked(msg))


def from_identity(from_value: str, *, marked: bool = False) -> tuple[str, CallerVouch]:
    """What a From (a SIP From header, or Twilio's ``From`` for a call to a SIP domain:
    ``sip:+86...@city.sip.twilio.com``) says on its own: the caller it names
    (``uri_caller``: a sip:/sips: URI's user, a tel: URI's number, "" for any other
    scheme or no user; "anonymous" reads as no number downstream), vouched for by the
    carrier only when our front marked the request (``marked``), by nobody otherwise --
    whoever reaches the domain or the port writes any number there. The one rule for an
    unverified From, whichever front end took the call (mend92: Twilio's SIP-domain
    callers lost their number, the whole URI read as none)."""
    return uri_caller(from_value), CallerVouch.NETWORK if marked else CallerVouch.NONE


def caller_address(msg: SipMessage, *, trusted: bool) -> str:
    """The network address the caller called from, for counting what one caller does
    across calls (``ivr.ticket_lookup.KeyedLookups``): the INVITE's source; from a trusted
    source that relayed it (our Kamailio) the address that proxy received it from, its
    ``received`` on the Via below its own (RFC 3261 18.2.1: written by the proxy whenever
    the sender's own sent-by differs), else that sent-by. Everything behind Kamailio comes
    from Kamailio's address: counted by it, one caller's limit would be everyone's. A
    trusted source that wrote no Via below its own (a carrier's SBC, a B2BUA: every caller
    of the city arrives from its address) names no caller: "" (not counted by address; the
    call's own cap holds), or its six tries an hour would be the whole city's."""
    source = msg.source[0] if msg.source is not None else ""
    vias = msg.headers.get("Via") or []
    if not trusted:
        return source
    if len(vias) < 2:
        return ""
    below = vias[1]
    received = str(below.get("received") or "")
    address = below.get("address")
    host = str(address[0]) if isinstance(address, tuple) and address else ""
    # One spelling of each address (``uri.canonical_host``): a caller must not get a fresh
    # count by writing its sent-by anew (review77).
    return canonical_host(received or host or source)

