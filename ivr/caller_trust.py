"""Whether an inbound caller's number is theirs: the one decision both carriers read.

Key 1 reads out what a number has filed (``ivr.ticket_lookup.open_tickets``) only to a
caller whose number the carrier vouched for; anyone else keys a ticket number. The SIP
side finds its evidence in the INVITE (``telephony.sip.identity.caller_identity``: an
asserted identity or our Kamailio front's carrier mark, from a trusted source), Twilio's
incoming-call webhook in its STIR/SHAKEN verdict (``StirVerstat``). Both are a
``telephony.call.CallerVouch``, decided here alone.

Before (loose27), Twilio's ``From`` was taken as the caller's for key 1 whatever Twilio said
of it: anyone who could reach the number with a spoofed caller ID heard that citizen's
tickets and their answers, which the SIP side had stopped a round before (loose26).
"""

from __future__ import annotations

from telephony.call import CallerVouch
from telephony.sip.identity import from_identity
from telephony.sip.uri import written_as_uri

# What makes a number the caller's: the carrier gave it (SIP's trusted network), or it
# signed that it knows the caller and their right to the number (SHAKEN attestation A).
# B and C attestations vouch for no number (the carrier does not know the caller may use
# it), a failed PASSporT for nothing: such a caller is asked for a ticket number, as a
# stranger on the SIP side is. Twilio's own client SDK calls a caller verified at A alone.
VERIFIED_VOUCHES = frozenset({CallerVouch.NETWORK, CallerVouch.SHAKEN_FULL})


def number_verified(vouch: CallerVouch) -> bool:
    """Whether the caller's number counts as theirs (key 1 reads its tickets)."""
    return vouch in VERIFIED_VOUCHES


def stir_vouch(verstat: str) -> CallerVouch:
    """Twilio's ``StirVerstat`` (present only on calls that came with a PASSporT) as a vouch:
    ``TN-Validation-Passed-A`` full, ``-B``/``-C`` partial, ``TN-Validation-Failed*``
    failed, ``No-TN-Validation``, absent or anything else none. Compared without case:
    carriers differ in how they spell it."""
    value = verstat.strip().lower()
    if value == "tn-validation-passed-a":
        return CallerVouch.SHAKEN_FULL
    if value in ("tn-validation-passed-b", "tn-validation-passed-c"):
        return CallerVouch.SHAKEN_PARTIAL
    if value.startswith("tn-validation-failed"):
        return CallerVouch.SHAKEN_FAILED
    return CallerVouch.NONE


def twilio_caller(from_: str, verstat: str) -> tuple[str, CallerVouch]:
    """Who a Twilio call is from, and who vouched: ``From`` is a bare number (E.164, or a
    word for a withheld one) for a call from the phone network, with ``StirVerstat`` as
    its vouch; a URI for a call to a SIP domain (``sip:+86...@city.sip.twilio.com``), which
    Twilio's STIR/SHAKEN verdict does not cover. Such a From is what the SIP front end's
    unverified From is (``telephony.sip.identity.from_identity``, the one reader): its
    user, vouched for by nobody, whatever ``StirVerstat`` says. Which of the two a From is:
    ``telephony.sip.uri.written_as_uri``, the test the number dialled is read by too."""
    if written_as_uri(from_):
        return from_identity(from_)
    return from_, stir_vouch(verstat)
