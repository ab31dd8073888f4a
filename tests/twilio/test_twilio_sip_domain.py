"""A caller who reaches the hotline through a Twilio SIP domain: Twilio's ``From`` is then the
caller's SIP URI (``sip:+8613800138000@city.sip.twilio.com``), not a number. It is read as
the SIP front end reads an unverified From (``telephony.sip.identity.from_identity``, via
``ivr.caller_trust.twilio_caller``): the URI's user is the caller's number, vouched for by
nobody (Twilio's STIR/SHAKEN verdict does not cover SIP callers).

Before (mend92), the whole URI went to ``ticketing.phones.call_number``, which reads it as
no number: the ticket and the call record had none, so no SMS and no survey, and key 1 said
the number was withheld. Signed webhooks through the test client; socket-free."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts
from ivr.caller_trust import number_verified, twilio_caller
from ivr.callrecords import CallOutcome
from telephony.call import CallerVouch
from telephony.sip.identity import caller_identity
from telephony.sip.message import SipMessage
from tests.twilio.helpers import Twilio, call_form, new_sid, says, twiml, verbs
from tests.twilio.test_twilio_flow import _call_record, _gather_action
from ticketing.models import Ticket
from ticketing.phones import call_number
from ticketing.queries import identified_caller, may_contact

DOMAIN = "city.sip.twilio.com"
TO = f"sip:12345@{DOMAIN}"
# Twilio's From for a SIP-domain call, and the odd ones a SIP client may send: each with the
# number the ticket keeps (None: no number, the call still answered and filed).
FROMS = [
    (f"sip:+8613800138000@{DOMAIN}", "+8613800138000"),
    (f"sip:13800138000@{DOMAIN};user=phone", "+8613800138000"),
    (f"<sip:+8613800138000@{DOMAIN};user=phone>;tag=7f3a", "+8613800138000"),
    (f"sip:%2B8613800138000@{DOMAIN}", "+8613800138000"),
    (f"<sips:65123456;phone-context=+86-21@{DOMAIN}>", "+862165123456"),
    # Unbracketed, a ";" ends the URI (RFC 3261 20.10), in the user part too: no user.
    (f"sips:65123456;phone-context=+86-21@{DOMAIN}", None),
    ("tel:+8613800138000", "+8613800138000"),
    (f"sip:anonymous@{DOMAIN}", None),
    ("sip:anonymous@anonymous.invalid", None),
    (f"sip:{DOMAIN}", None),  # no user part
    (f"sip:12345@{DOMAIN}", "+8612345"),  # a service number: filed, never called back
    ("client:alice", None),  # Twilio's Voice SDK: no SIP, no number
]


def _sip_invite(from_value: str) -> SipMessage:
    """The INVITE the SIP front end would get from the same caller, straight (untrusted),
    its From written as Twilio wrote it."""
    return SipMessage((
        "INVITE sip:12345@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n"
        f"From: {from_value}\r\n"
        "To: <sip:12345@127.0.0.1>\r\n"
        "Call-ID: sip-domain\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").encode(),
        ("127.0.0.1", 5070))


def _one_ticket(sessions: sessionmaker[Session]) -> Ticket:
    with sessions() as s:
        return s.scalars(select(Ticket)).one()


def _key_zero_filed(twilio: Twilio, call: str, caller: str) -> None:
    """Key 0 with no operator: the callback request, after the offer to key a number in
    for a caller with none (# alone: filed without one)."""
    form = {"From": caller, "To": TO}
    root = twiml(twilio.post("/twilio/voice", call_form(call, **form)))
    assert verbs(root)  # answered: the greeting, whatever the From
    root = twiml(twilio.post("/twilio/menu", call_form(call, Digits="0", **form)))
    if says(root) == [prompts.text("ask_callback_number")]:
        path, _, query = _gather_action(root).partition("?")
        root = twiml(twilio.post(path, call_form(call, Digits="", **form), query=query))
    assert says(root) == [prompts.text("operator_unavailable")] and verbs(root)[-1] == "Hangup"


@pytest.mark.parametrize(("caller", "number"), FROMS)
def test_a_sip_domain_caller_keeps_the_number_the_sip_front_end_reads(
        caller: str, number: str | None, twilio: Twilio,
        sessions: sessionmaker[Session]) -> None:
    """The ticket and the call record keep the URI's number as the SIP front end reads the
    same From; the SMS and survey policy (``queries.may_contact``) and what links the
    caller's tickets (``identified_caller``) are then those of an unverified SIP caller."""
    call = new_sid("CA")
    _key_zero_filed(twilio, call, caller)

    ticket = _one_ticket(sessions)
    record = _call_record(sessions, call)
    assert ticket.caller_phone == number and not ticket.caller_phone_keyed
    assert record.caller == number and record.outcome == CallOutcome.CALLBACK_REQUEST
    sip_caller, sip_vouch = caller_identity(_sip_invite(caller), trusted=False)
    assert call_number(sip_caller) == number and sip_vouch is CallerVouch.NONE
    assert twilio_caller(caller, "") == (sip_caller, sip_vouch)
    # SMS and survey: to a mainland number that is no service's, as for the SIP caller.
    assert may_contact(ticket) is (number is not None and number != "+8612345")
    assert identified_caller(ticket) == number


@pytest.mark.parametrize("caller", [f"sip:+8613800138000@{DOMAIN}",
                                    "sip:anonymous@anonymous.invalid", f"sip:{DOMAIN}"])
def test_key_one_from_a_sip_domain_asks_a_ticket_number_whatever_stirverstat_says(
        caller: str, twilio: Twilio) -> None:
    """Key 1 from a SIP-domain caller, numbered or not (``sip:anonymous@…``, no user part),
    asks for a ticket number, as the SIP front end asks an unverified From: Twilio's
    STIR/SHAKEN verdict is about phone-network callers. Before, a full attestation made the
    URI a verified caller with no number ("未显示号码"). # alone goes on to the recording."""
    call = new_sid("CA")
    form = {"From": caller, "To": TO}
    twiml(twilio.post("/twilio/voice",
                      call_form(call, StirVerstat="TN-Validation-Passed-A", **form)))
    root = twiml(twilio.post("/twilio/menu", call_form(call, Digits="1", **form)))
    assert says(root) == [prompts.text("status_ask_ticket")]
    root = twiml(twilio.post("/twilio/ticket-number", call_form(call, Digits="", **form)))
    assert "Record" in verbs(root)


def test_only_a_phone_network_callers_verdict_is_read() -> None:
    number, vouch = twilio_caller(f"sip:+8613800138000@{DOMAIN}", "TN-Validation-Passed-A")
    assert number == "+8613800138000" and not number_verified(vouch)
    # A phone-network caller's From is a bare number, its verdict read as before.
    assert twilio_caller("+8613800138000", "TN-Validation-Passed-A") == (
        "+8613800138000", CallerVouch.SHAKEN_FULL)


# What a SIP-domain caller controls and Twilio passes on to the webhook: custom X- headers
# of its INVITE as ``SipHeader_<name>`` parameters, and anything inside its From URI.
MARKED = [
    ({"SipHeader_X-Hotline-Vouched": "carrier"}, f"sip:+8613800138000@{DOMAIN}"),
    ({"SipHeader_x-hotline-vouched": "carrier",
      "SipHeader_P-Asserted-Identity": "<sip:+8613800138000@carrier.example>"},
     f"sip:+8613800138000@{DOMAIN}"),
    ({}, f"sip:+8613800138000@{DOMAIN};x-hotline-vouched=carrier"),
    ({}, f"<sip:+8613800138000@{DOMAIN}?X-Hotline-Vouched=carrier>"),
]


@pytest.mark.parametrize(("extra", "caller"), MARKED)
def test_no_mark_a_sip_domain_caller_writes_makes_its_number_verified(
        extra: dict[str, str], caller: str, twilio: Twilio) -> None:
    """Our Kamailio front's carrier mark (``identity.VOUCHED_HEADER``) means something only
    on the SIP front end, where Kamailio strips it from every request first; through Twilio
    the caller writes it (review109): written as a header Twilio passes on or in the From
    URI, with a full STIR/SHAKEN verdict beside it, key 1 still asks for a ticket number."""
    call = new_sid("CA")
    form = {"From": caller, "To": TO}
    twiml(twilio.post("/twilio/voice", call_form(
        call, StirVerstat="TN-Validation-Passed-A", **form, **extra)))
    root = twiml(twilio.post("/twilio/menu", call_form(call, Digits="1", **form, **extra)))
    assert says(root) == [prompts.text("status_ask_ticket")]
