"""One caller, one number: how numbers are stored, shown, masked and dialled
(ticketing.phones). No database, no sockets."""

from __future__ import annotations

import pytest

from config.settings import Settings
from ticketing.actors import Actor, mask_phone
from ticketing.models import Ticket
from ticketing.phones import (
    call_number,
    callback_number,
    can_text,
    dial_forms,
    display,
    domestic,
    is_service_number,
    mask,
    normalise,
)
from ticketing.queries import caller_phone_for
from ticketing.states import Role

MOBILE = "+8613912345678"
BEIJING = "+861065123456"


@pytest.mark.parametrize("raw", [
    "+8613912345678", "008613912345678", "13912345678", "86-139-1234-5678",
    "+86 139 1234 5678", "(+86) 139-1234-5678", "8613912345678", "１３９１２３４５６７８",
])
def test_every_spelling_of_a_mobile_is_one_number(raw: str) -> None:
    assert normalise(raw) == MOBILE


@pytest.mark.parametrize("raw", [
    "01065123456", "010-6512 3456", "010-65123456", "+86 10 6512 3456", "0086 10 6512 3456",
    "65123456",  # a bare 8-digit number is a Beijing one: the hotline is Beijing's
])
def test_beijing_landline_with_or_without_010(raw: str) -> None:
    assert normalise(raw) == BEIJING


@pytest.mark.parametrize(("raw", "e164"), [
    ("021-1234 5678", "+862112345678"),  # Shanghai
    ("0755-12345678", "+8675512345678"),  # Shenzhen, a 4-digit area code
    ("020 8888 6666", "+862088886666"),
    ("400-810-8888", "+864008108888"),
    ("+1 202 555 0123", "+12025550123"),  # a foreign number keeps its country
])
def test_other_area_codes_and_countries(raw: str, e164: str) -> None:
    assert normalise(raw) == e164


@pytest.mark.parametrize(("raw", "e164"), [
    ("12345", "+8612345"), ("+8612345", "+8612345"), ("95598", "+8695598"),
    ("110", "+86110"), ("119", "+86119"), ("120", "+86120"), ("10086", "+8610086"),
])
def test_service_numbers(raw: str, e164: str) -> None:
    assert normalise(raw) == e164


@pytest.mark.parametrize("raw", [
    None, "", "   ", "anonymous", "Anonymous", "unknown", "restricted", "withheld", "000", "0",
    "abc", "sip:1", "1391234567", "139123456789", "12", "99999", "+86", "138****5678",
    "1" * 60,
])
def test_what_is_no_number(raw: str | None) -> None:
    assert normalise(raw) is None


@pytest.mark.parametrize(("e164", "shown"), [
    (MOBILE, "139 1234 5678"),
    (BEIJING, "010-6512 3456"),
    ("+862112345678", "021-1234 5678"),
    ("+8675512345678", "0755-1234 5678"),
    ("+8612345", "12345"),
    ("+86110", "110"),
    ("+864008108888", "400 810 8888"),
    ("+12025550123", "+1 202-555-0123"),
    ("138****5678", "138****5678"),  # already masked: shown as it is
    (None, ""),
])
def test_display_the_chinese_way(e164: str | None, shown: str) -> None:
    assert display(e164) == shown


@pytest.mark.parametrize(("e164", "masked"), [
    (MOBILE, "139****5678"),
    (BEIJING, "010****3456"),
    ("+8612345", "123**"),
    ("13811112222", "138****2222"),  # a number stored before E.164
    (None, None),
])
def test_mask_keeps_the_recognisable_ends_of_the_domestic_form(e164: str | None,
                                                               masked: str | None) -> None:
    assert mask(e164) == masked
    assert mask_phone(e164) == masked  # the name the rest of the code calls


def test_masking_for_roles_goes_through_queries() -> None:
    ticket = Ticket(number="2612020001", caller_phone=MOBILE, confidential=False)
    operator = Actor(id=1, name="op", role=Role.OPERATOR)
    supervisor = Actor(id=2, name="sup", role=Role.SUPERVISOR, unit_path="/1/")
    assert caller_phone_for(operator, ticket, masked=False) == MOBILE
    assert caller_phone_for(operator, ticket, masked=True) == "139****5678"
    assert caller_phone_for(supervisor, ticket, masked=False) == "139****5678"
    withheld = Ticket(number="2612020002", caller_phone=None, confidential=False)
    assert caller_phone_for(operator, withheld, masked=False) is None


@pytest.mark.parametrize(("e164", "forms"), [
    (MOBILE, {"e164": MOBILE, "national": "013912345678", "phone": "13912345678"}),
    (BEIJING, {"e164": BEIJING, "national": "01065123456", "phone": "01065123456"}),
    ("+8675512345678", {"e164": "+8675512345678", "national": "075512345678",
                        "phone": "075512345678"}),
    ("+8695598", {"e164": "+8695598", "national": "95598", "phone": "95598"}),
    ("+12025550123", {"e164": "+12025550123", "national": "0012025550123",
                      "phone": "0012025550123"}),
    ("13900000030", {"e164": "+8613900000030", "national": "013900000030",
                     "phone": "13900000030"}),
    ("1001", {"e164": "1001", "national": "1001", "phone": "1001"}),  # a lab extension
])
def test_dial_forms(e164: str, forms: dict[str, str]) -> None:
    assert dial_forms(e164) == forms


def test_the_shipped_uri_template_dials_the_domestic_form() -> None:
    template = Settings().outbound.sip_uri_template
    assert template.format(**dial_forms(MOBILE)) == "13912345678"
    assert "sip:{national}@trunk:5060".format(**dial_forms(BEIJING)) == \
        "sip:01065123456@trunk:5060"
    assert "sip:{e164}@trunk".format(**dial_forms(MOBILE)) == "sip:+8613912345678@trunk"
    assert domestic(MOBILE) == "13912345678"


@pytest.mark.parametrize(("keyed", "e164"), [
    ("13912345678", MOBILE), ("01065123456", BEIJING), ("65123456", BEIJING),
    ("110", None), ("12345", None),  # no citizen is called back on a service number
    ("", None), ("139", None), ("0012025550123", None),
    # China's numbering plan keyed at home, 12 digits at most (loose28): a landline with a
    # three-digit area code and an 8-digit local number is the longest; a digit too many is
    # refused, not read as a number.
    ("075512345678", "+8675512345678"), ("0139123456780", None), ("1391234567800", None),
    # China's country code keyed before a number is that number, as ``normalise`` reads it
    # for the API (mend61, review62: loose28 refused it, one rule for keys and the API).
    ("008613912345678", MOBILE), ("8613912345678", MOBILE),
    ("0086075512345678", "+8675512345678"), ("8675512345678", "+8675512345678"),
    ("00860139123456780", None), ("86139123456780", None), ("0086139123456789012", None),
])
def test_a_keyed_in_callback_number(keyed: str, e164: str | None) -> None:
    assert callback_number(keyed) == e164


def test_only_mobiles_are_texted() -> None:
    """The citizen SMS goes to mobiles only: a landline or 12345 cannot take it."""
    assert can_text(normalise("13912345678"))
    assert not can_text(normalise("010-6512 3456"))
    assert not can_text(normalise("12345"))
    assert not can_text(None) and not can_text("garbage")


@pytest.mark.parametrize(("raw", "e164"), [
    ("62345678;phone-context=+86-21", "+862162345678"),  # a bare subscriber: its area
    ("62345678;phone-context=+86", "+861062345678"),  # the country alone: ours
    # A domain's: the front end hands the number on alone (``uri.number_in_context``), so
    # with it written beside the number it is no call's form.
    ("62345678;phone-context=example.com", None),
    ("62345678;PHONE-CONTEXT = +86-21", "+862162345678"),
    ("13800138000;phone-context=+86-10", "+8613800138000"),  # a mobile as written
    ("02112345678;phone-context=+86-10", "+862112345678"),  # its own trunk 0
    ("8613800138000;phone-context=+86", "+8613800138000"),  # its own country code
    ("+8613800138000;phone-context=+86-10", "+8613800138000"),
    ("12345;phone-context=+86-10", "+8612345"),  # a service number
    ("anonymous;phone-context=+86-10", None),
])
def test_a_context_places_a_bare_subscriber_number_alone(raw: str, e164: str | None) -> None:
    """review74: a phone-context glued before every local number made a mobile, a number
    with its trunk 0 or country code and a service number no number at all; the context
    says where a bare 7-8 digit subscriber number is, as LOCAL_AREA_CODE does without one."""
    assert call_number(raw) == e164
    assert e164 is None or is_service_number(e164) == (raw.startswith("12345;"))


@pytest.mark.parametrize("raw", [
    "13800138000;garbage", "65123456;phone-context=+86-21", "13800138000;",
    "13800138000;;;x=y", "+8613800138000;phone-context=+86-10"])
def test_a_semicolon_is_no_number_from_api_csv_or_portal_input(raw: str) -> None:
    """review77: ``normalise`` dropped every ``;...`` suffix, so API, CSV and portal input
    such as ``13800138000;garbage`` was stored as a number (refused before mend71). A
    context reaches it only as ``context=``, which the call's reader (``call_number``)
    alone passes."""
    assert normalise(raw) is None
    assert call_number("13800138000;garbage") is None


@pytest.mark.parametrize(("raw", "e164"), [
    ("25964023;phone-context=+86-21", "+862125964023"),  # not Nanjing's 025 as written
    ("65123456;phone-context=+86-21", "+862165123456"),
    ("5551234;phone-context=+1-212", None),  # a New York number, never +865551234
    ("13800138000;phone-context=+1-212", None),
    ("12345;phone-context=+44", None),
    ("13800138000;phone-context=+86-21", "+8613800138000"),  # a mobile as written
])
def test_an_explicit_context_comes_before_a_reading_as_written(raw: str, e164: str | None
                                                               ) -> None:
    """review77: the number as written was read before its context, so a Shanghai
    subscriber number that also reads as a Nanjing one was Nanjing's, and a US caller's
    local number a Chinese one (a callback or SMS to someone else). A bare subscriber
    number is read in its context first; a foreign context gives no number."""
    assert call_number(raw) == e164
    number, _, context = raw.partition(";phone-context=")
    assert normalise(number, context=context) == e164


@pytest.mark.parametrize("raw", [
    "1380013ABCD",  # read as 13800132223 by the keypad's letters: someone else's mobile
    "1380013800O",  # the letter O typed for a zero
    "139l2345678",  # a lower-case L for a one
    "010-6512FLOW",
])
def test_letters_are_no_digits_of_a_number(raw: str) -> None:
    """sec43: libphonenumber reads letters as the keypad's (2 for ABC: "vanity" numbers),
    so a number typed with a letter in it (API, CSV, the console) was stored as another
    number and the citizen's SMS went to a stranger. A letter in the number is no number;
    an extension after a whole number ("ext. 123", "x12", "#123") is still that number."""
    assert normalise(raw) is None
    assert callback_number(raw) is None


@pytest.mark.parametrize("raw", [
    "13912345678 ext. 123", "13912345678 x12", "13912345678#123", "tel:13912345678",
])
def test_an_extension_after_a_whole_number_is_that_number(raw: str) -> None:
    assert normalise(raw) == MOBILE


@pytest.mark.parametrize("raw", [
    "139\u200b1234\u200b5678", "139\u200d12345678", "139\u200c12345678", "\ufeff13912345678",
    "139\u206012345678", "139\u00ad1234\u00ad5678", "139\u3164" "12345678",
])
def test_a_number_pasted_with_invisible_characters_is_that_number(raw: str) -> None:
    """A paste brings characters that show nothing (the one set, ``ticketing.invisible``).
    libphonenumber skipped some (a zero-width space, a word joiner, a soft hyphen) and
    refused others (a zero-width joiner or non-joiner, a BOM): the same number typed into
    the same form was taken or refused by which invisible character came with it (sec57)."""
    assert normalise(raw) == MOBILE
