"""Key 1 on the Twilio carrier reads a number's tickets only when Twilio's STIR/SHAKEN
verdict vouches for it, by the one decision the SIP line reads (``ivr.caller_trust``).

Before (loose27), Twilio's From was taken as the caller's whatever Twilio said of it: a
caller who spoofed a citizen's number heard their tickets and the answers to them. Signed
webhooks (the signature check as it is); socket-free."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ivr import prompts
from ivr.caller_trust import VERIFIED_VOUCHES, number_verified, stir_vouch
from ivr.callrecords import CallOutcome
from ivr.decisions import keyed_digits
from ivr.ticket_lookup import TICKET_TRIES_PER_CALL
from telephony.call import CallerVouch
from telephony.sip.identity import caller_identity
from telephony.sip.message import SipMessage
from tests.support.city import City
from tests.twilio.helpers import CALLER, PUBLIC_BASE, Twilio, call_form, new_sid, says, twiml
from tests.twilio.test_twilio_flow import _call_record, _filed_earlier
from ticketing import service
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.models import Ticket

VICTIM_HEARS = "status_intro"  # the first words of a number's own tickets read out


@pytest.mark.parametrize("verstat", [
    None,  # no PASSporT came with the call (most calls outside the US)
    "No-TN-Validation",
    "TN-Validation-Passed-B",  # the carrier knows the caller, not their right to the number
    "TN-Validation-Passed-C",  # a gateway: knows neither
    "TN-Validation-Failed-A",
    "TN-Validation-Failed",
    "TN-Validation-Passed-A-but-not",
])
def test_key_one_from_a_number_twilio_did_not_vouch_for_asks_a_ticket_number(
        verstat: str | None, twilio: Twilio, sessions: sessionmaker[Session],
        domain: Domain) -> None:
    number = _filed_earlier(sessions, domain)  # the citizen whose number is spoofed
    call = new_sid("CA")
    extra = {} if verstat is None else {"StirVerstat": verstat}
    twiml(twilio.post("/twilio/voice", call_form(call, **extra)))
    root = twiml(twilio.post("/twilio/menu", call_form(call, Digits="1")))

    assert says(root) == [prompts.text("status_ask_ticket")]
    (gather,) = root.iter("Gather")
    assert gather.get("action") == f"{PUBLIC_BASE}/twilio/ticket-number"
    assert gather.get("finishOnKey") == "#"
    assert not any(number[-4:] in line for line in says(root))
    # The ticket's own number keyed: its step alone, no answer, nothing of the caller.
    root = twiml(twilio.post("/twilio/ticket-number", call_form(call, Digits=number)))
    assert says(root)[:2] == [prompts.status_item_text(number[-4:], "已受理"),
                              prompts.text("status_done")]
    assert "Record" in [el.tag for el in root]  # then a new complaint may be spoken
    twiml(twilio.post("/twilio/status", call_form(call, CallStatus="completed")))
    assert _call_record(sessions, call).outcome == CallOutcome.STATUS_QUERY


def test_key_one_with_full_attestation_reads_the_numbers_tickets(
        twilio: Twilio, sessions: sessionmaker[Session], domain: Domain) -> None:
    number = _filed_earlier(sessions, domain)
    call = new_sid("CA")
    twiml(twilio.post("/twilio/voice",
                      call_form(call, StirVerstat="TN-Validation-Passed-A")))
    root = twiml(twilio.post("/twilio/menu", call_form(call, Digits="1")))
    spoken = says(root)
    assert spoken[0] == prompts.text(VICTIM_HEARS)
    assert spoken[2] == prompts.status_item_text(number[-4:], "已受理")


def test_keyed_ticket_numbers_are_capped_per_call(
        twilio: Twilio, sessions: sessionmaker[Session], domain: Domain) -> None:
    """As on the SIP line: three numbers a call (# alone is none), then no more, however
    the action is posted."""
    number = _filed_earlier(sessions, domain)
    call = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    root = twiml(twilio.post("/twilio/ticket-number", call_form(call, Digits="")))
    assert says(root)[0] == prompts.text("status_ticket_unknown")  # no try used
    for _ in range(TICKET_TRIES_PER_CALL):
        twiml(twilio.post("/twilio/menu", call_form(call, Digits="1")))
        root = twiml(twilio.post("/twilio/ticket-number", call_form(call, Digits="20991231")))
        assert says(root)[0] == prompts.text("status_ticket_unknown")
    root = twiml(twilio.post("/twilio/menu", call_form(call, Digits="1")))
    assert says(root)[0] == prompts.text("status_tries_over")
    root = twiml(twilio.post("/twilio/ticket-number", call_form(call, Digits=number)))
    assert says(root)[0] == prompts.text("status_tries_over")


def test_keyed_ticket_numbers_are_capped_across_calls_by_from(
        make_twilio: Any, sessions: sessionmaker[Session], domain: Domain) -> None:
    """review55: only 3 a call, so calling again walked the sequential numbers (what
    loose26 closed on SIP). The SIP line's shared count (``KeyedLookups``), keyed by the
    caller's From: another From, and a withheld one, keep their own calls' numbers."""
    twilio = make_twilio(ivr={"ticket_numbers_per_address": 4})
    number = _filed_earlier(sessions, domain)

    def keyed(call: str, caller: str, digits: str) -> list[str]:
        twiml(twilio.post("/twilio/menu", call_form(call, Digits="1", From=caller)))
        return says(twiml(twilio.post("/twilio/ticket-number",
                                      call_form(call, Digits=digits, From=caller))))

    first, second = new_sid("CA"), new_sid("CA")
    for call in (first, second):
        twiml(twilio.post("/twilio/voice", call_form(call)))
    for _ in range(TICKET_TRIES_PER_CALL):
        assert keyed(first, CALLER, "20991231")[0] == prompts.text("status_ticket_unknown")
    assert keyed(second, CALLER, "20991232")[0] == prompts.text("status_ticket_unknown")
    root = twiml(twilio.post("/twilio/menu", call_form(second, Digits="1")))
    assert says(root)[0] == prompts.text("status_tries_over")  # the From's 4 spent
    for caller in ("+8613900009999", "anonymous"):
        other = new_sid("CA")
        twiml(twilio.post("/twilio/voice", call_form(other, From=caller)))
        assert keyed(other, caller, number)[0] == prompts.status_item_text(number[-4:],
                                                                            "已受理")


def test_a_from_spoofed_each_call_is_still_counted_by_the_address_twilio_names(
        make_twilio: Any, sessions: sessionmaker[Session], domain: Domain) -> None:
    """loose28: counted by From alone, a caller who wrote another From on each call (over
    a Twilio SIP domain, from one address) got 3 numbers a call for as long as they
    called. The one rule (``keyed_count_keys``) counts the address Twilio names as well
    (``SipSourceIp``); a PSTN caller (none named) keeps the From's count alone."""
    twilio = make_twilio(ivr={"ticket_numbers_per_address": 4})
    number = _filed_earlier(sessions, domain)
    source = {"SipSourceIp": "198.51.100.7"}

    def keyed(call: str, caller: str, digits: str) -> list[str]:
        twiml(twilio.post("/twilio/menu", call_form(call, Digits="1", From=caller)))
        return says(twiml(twilio.post("/twilio/ticket-number",
                                      call_form(call, Digits=digits, From=caller))))

    spoofed = [f"+861390000{n:04d}" for n in range(3)]
    said = []
    for caller in spoofed:
        call = new_sid("CA")
        twiml(twilio.post("/twilio/voice", call_form(call, From=caller, **source)))
        said += [keyed(call, caller, "20991231")[0] for _ in range(2)]
    unknown, over = prompts.text("status_ticket_unknown"), prompts.text("status_tries_over")
    assert said == [unknown] * 4 + [over] * 2  # the address's 4 spent across three Froms
    # Another address, and a PSTN caller with another From: their own counts.
    for form in ({"SipSourceIp": "198.51.100.8"}, {}):
        call = new_sid("CA")
        twiml(twilio.post("/twilio/voice", call_form(call, From="+8613900009999", **form)))
        assert keyed(call, "+8613900009999", number)[0] == prompts.status_item_text(
            number[-4:], "已受理")


def test_callers_behind_a_trusted_trunk_are_not_counted_as_one_address(
        make_twilio: Any, sessions: sessionmaker[Session], domain: Domain) -> None:
    """review62: ``SipSourceIp`` was counted with nothing like SIP's trusted_sources, so
    behind one carrier SIP/BYOC trunk every caller of the city shared one count. A trunk in
    ``sip.trusted_sources`` names no caller (``floodguard.counted_source``, the SIP rule):
    each caller keeps their From's count; an address not trusted is still counted."""
    twilio = make_twilio(ivr={"ticket_numbers_per_address": 4},
                         sip={"trusted_sources": ["198.51.100.0/28"]})
    number = _filed_earlier(sessions, domain)

    def keyed(source: str, caller: str) -> list[str]:
        call = new_sid("CA")
        twiml(twilio.post("/twilio/voice", call_form(call, From=caller, SipSourceIp=source)))
        said = []
        for digits in ("20991231", "20991232", number):
            twiml(twilio.post("/twilio/menu", call_form(call, Digits="1", From=caller)))
            said += says(twiml(twilio.post("/twilio/ticket-number",
                                           call_form(call, Digits=digits, From=caller))))[:1]
        return said

    found = prompts.status_item_text(number[-4:], "已受理")
    unknown, over = prompts.text("status_ticket_unknown"), prompts.text("status_tries_over")
    # Three citizens through the trusted trunk: 9 numbers, more than the address's 4.
    for n in range(3):
        assert keyed("198.51.100.7", f"+861390000{n:04d}") == [unknown, unknown, found]
    # From an address nobody trusts, the address is counted across Froms as before.
    said = [*keyed("198.51.100.99", "+8613900001000"), *keyed("198.51.100.99",
                                                               "+8613900001001")]
    assert said == [unknown, unknown, found, unknown, over, over]


def test_a_star_keyed_in_a_ticket_number_is_ignored_as_on_sip(
        twilio: Twilio, sessions: sessionmaker[Session], domain: Domain) -> None:
    """review55: SIP drops ``*`` from a keyed number, Twilio looked ``*2612…`` up as keyed
    and found nothing: one rule (``ivr.decisions.keyed_digits``) for both carriers."""
    number = _filed_earlier(sessions, domain)
    call = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    twiml(twilio.post("/twilio/menu", call_form(call, Digits="1")))
    keyed = f"*{number[:4]}*{number[4:]}"
    root = twiml(twilio.post("/twilio/ticket-number", call_form(call, Digits=keyed)))
    assert says(root)[0] == prompts.status_item_text(number[-4:], "已受理")
    assert keyed_digits(keyed) == number
    assert keyed_digits("*#AB") == ""


def test_a_forged_verdict_on_a_later_webhook_vouches_for_nothing(
        twilio: Twilio, sessions: sessionmaker[Session], domain: Domain) -> None:
    """The verdict is the incoming call's: a StirVerstat on the menu's webhook is not
    read (Twilio signs them all, but the call was answered on the first)."""
    _filed_earlier(sessions, domain)
    call = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(call)))
    root = twiml(twilio.post("/twilio/menu", call_form(
        call, Digits="1", StirVerstat="TN-Validation-Passed-A")))
    assert says(root) == [prompts.text("status_ask_ticket")]


def test_sip_and_twilio_read_one_decision() -> None:
    """The carrier's network (SIP: a trusted source's asserted identity or our front's
    mark) and SHAKEN's full attestation are the verified vouches; nothing else is."""
    assert {CallerVouch.NETWORK, CallerVouch.SHAKEN_FULL} == VERIFIED_VOUCHES
    assert [v for v in CallerVouch if number_verified(v)] == [CallerVouch.NETWORK,
                                                              CallerVouch.SHAKEN_FULL]
    assert stir_vouch("tn-validation-passed-a") is CallerVouch.SHAKEN_FULL
    assert stir_vouch(" TN-Validation-Passed-C ") is CallerVouch.SHAKEN_PARTIAL
    assert stir_vouch("TN-Validation-Failed-B") is CallerVouch.SHAKEN_FAILED
    invite = SipMessage((
        "INVITE sip:12345@127.0.0.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1\r\n"
        f"From: <sip:{CALLER}@127.0.0.1>;tag=a\r\nTo: <sip:12345@127.0.0.1>\r\n"
        "Call-ID: one-rule\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n").encode(),
        ("127.0.0.1", 5070))
    assert caller_identity(invite, trusted=False) == (CALLER, CallerVouch.NONE)
    assert not number_verified(caller_identity(invite, trusted=False)[1])


def test_a_ticket_set_aside_is_told_as_not_handled_either_way(
        twilio: Twilio, sessions: sessionmaker[Session], domain: Domain, city: City) -> None:
    """mend85: a ticket set aside (剔除) was told 已办结 to a keyed number, and nothing of it
    to a vouched-for one. Now 不予办理: with the listed reason its SMS gave to the number
    Twilio vouched for, the step alone to a keyed number."""
    number = _filed_earlier(sessions, domain)
    boss = city.actor("supervisor")  # before our session: SQLite has one writer
    with transaction(sessions) as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        service.exclude(session=s, domain=domain, ticket=t, actor=boss,
                        reason="非本市事项：反映的是河北省廊坊市的道路")
    call = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(call, StirVerstat="TN-Validation-Passed-A")))
    spoken = says(twiml(twilio.post("/twilio/menu", call_form(call, Digits="1"))))
    assert spoken == [prompts.text("status_none"),
                      prompts.status_set_aside_text(number[-4:], "非本市事项"),
                      prompts.text("status_done")]
    assert (
        prompts.status_set_aside_text("1111", "非本市事项")) == "尾号幺幺幺幺的工单经审核不予办理，原因：非本市事项。"
    keyed = new_sid("CA")
    twiml(twilio.post("/twilio/voice", call_form(keyed)))
    twiml(twilio.post("/twilio/menu", call_form(keyed, Digits="1")))
    spoken = says(twiml(twilio.post("/twilio/ticket-number", call_form(keyed, Digits=number))))
    assert spoken[:2] == [prompts.status_item_text(number[-4:], "不予办理"),
                          prompts.text("status_done")]
    assert not any("廊坊" in line or "已办结" in line for line in spoken)
