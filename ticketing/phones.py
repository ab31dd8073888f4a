"""Phone numbers: one spelling per number, decided here for every way a number comes in.

``+8613912345678``, ``008613912345678``, ``13912345678`` and ``86-139-1234-5678`` are one
caller. Stored spellings that differ split a caller in two: the 多诉 link, the key-1
status lookup and the survey's daily cap all compare numbers, so every number is stored in
E.164 (``+8613912345678``) by :func:`normalise`, and only shown or dialled in other forms
(:func:`display`, :func:`mask`, :func:`dial_forms`). The rules are Google's libphonenumber
(``phonenumbers``), kept up to date by its maintainers, not a regex of ours.
"""

from __future__ import annotations

import unicodedata

import phonenumbers
from phonenumbers import PhoneNumberFormat, shortnumberinfo

from config.numbering import without_separators
from ticketing.invisible import without_invisible

DEFAULT_REGION = "CN"
# The hotline is Beijing's: a bare 7- or 8-digit landline number is a Beijing (010) one,
# the way a Beijing caller or operator writes it.
LOCAL_AREA_CODE = "10"

# What a carrier or softphone puts in the From user when the number is withheld; none of
# them is a number, but "anonymous" must not be mistaken for a typo to be refused either.
_MAX_INPUT = 40


def ascii_digits(text: str) -> str:
    """``text`` with the decimal digits of any script (full-width ２, Arabic-Indic ٢, what
    input methods type) as ASCII ones. Superscripts and other "digits" that are no decimal
    digit stay as they are, and so are no number: ``str.isdigit`` is true for "²", and
    libphonenumber raises on it."""
    return "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in text)


def _short_number(digits: str, region: str) -> phonenumbers.PhoneNumber | None:
    """A service number (12345, 95598, 110, 10086) as the region dials it."""
    if not (digits.isascii() and digits.isdigit()) or not 3 <= len(digits) <= 6:
        return None
    number = phonenumbers.parse(digits, region)
    return number if shortnumberinfo.is_valid_short_number_for_region(number, region) else None


# RFC 3966's local number with its context, as a tel: URI or a SIP URI's user writes it
# (``65123456;phone-context=+86-21``) and as the SIP front end hands a caller on.
PHONE_CONTEXT = "phone-context"


def in_context(raw: str) -> tuple[str, str]:
    """A call's caller or callee as the SIP front end hands it on (``uri.number_in_context``:
    the number, and a global context in RFC 3966's form ``;phone-context=+86-21``) as
    (number, the context in E.164 digits: "+8621"). Anything else after a ";" is no such
    form: (``raw``, ""), which ``normalise`` refuses as it refuses any ";"."""
    number, sep, param = raw.partition(";")
    name, _, value = param.partition("=")
    context = without_separators(ascii_digits(value.strip()))
    if sep and name.strip().lower() == PHONE_CONTEXT and context.startswith("+") \
            and context[1:].isascii() and context[1:].isdigit() and ";" not in value:
        return number, context
    return raw, ""


def _parse(raw: str, region: str, context: str) -> phonenumbers.PhoneNumber | None:
    # Read without what shows nothing (a paste's zero-width characters, a BOM: the one set,
    # ticketing.invisible): libphonenumber skipped some and refused others, so one number
    # was taken or refused by which of them came with it (sec57). Only E.164 is stored.
    text = without_invisible(raw).strip()
    if not text or len(text) > _MAX_INPUT or ";" in text:
        return None
    compact = without_separators(ascii_digits(text))
    if context and not context.startswith("+86"):
        # A foreign network's local number: never a Chinese one (review77: 5551234 in
        # +1-212 became +865551234, a callback to someone else).
        return None
    if context and _bare_subscriber(compact, region):
        # Its context places it first (review77: 25964023 in +86-21 read as written was
        # Nanjing's +8625964023, not Shanghai's).
        return _subscriber(compact, context)
    if region == "CN" and compact.startswith("86") and not compact.startswith("+"):
        # "86-139-1234-5678": the country code written without + or 00.
        digits = compact[2:]
        if len(digits) >= 9 and digits.isascii() and digits.isdigit():
            compact = "+86" + digits
    for prefix in ("+86", "0086"):
        if region == "CN" and compact.startswith(prefix):
            short = _short_number(compact[len(prefix):], region)
            if short is not None:  # "+8612345": the hotline's own number as SIP writes it
                return short
    short = _short_number(compact, region)
    if short is not None:
        return short
    try:
        number = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException:
        return None
    if not _digits_as_written(compact, number):
        return None
    if phonenumbers.is_valid_number(number):
        return number
    return _subscriber(compact, context) if _bare_subscriber(compact, region) else None


def _digits_as_written(compact: str, number: phonenumbers.PhoneNumber) -> bool:
    """Whether the number read is made of the digits written: libphonenumber turns letters
    into the keypad's digits ("vanity" numbers: 1380013ABCD is 13800132223), so a number
    typed with a letter in it became a stranger's, and the citizen's SMS went there
    (sec43). An extension after a whole number (``ext. 123``, ``x12``) keeps it."""
    digits = "".join(ch for ch in compact if ch.isascii() and ch.isdigit())
    return str(number.national_number) in digits


def _bare_subscriber(compact: str, region: str) -> bool:
    """A bare 7- or 8-digit landline number: no trunk 0, no country code, no mobile's 1."""
    return (region == "CN" and compact.isascii() and compact.isdigit()
            and len(compact) in (7, 8) and compact[0] not in "01")


def _subscriber(compact: str, context: str) -> phonenumbers.PhoneNumber | None:
    """A bare subscriber number (``_bare_subscriber``) in its area: its ``phone-context``'s
    (RFC 3966 5.1.5: ``65123456;phone-context=+86-21`` is Shanghai's), else the hotline's
    (LOCAL_AREA_CODE). The one place a context applies (review74: glued before every local
    number, it made a mobile in a Beijing context +861013800138000, no number at all)."""
    # A context of the country alone (+86) names no area: the hotline's, as without one.
    area = context if context not in ("", "+86") else "+86" + LOCAL_AREA_CODE
    try:
        local = phonenumbers.parse(area + compact, None)
    except phonenumbers.NumberParseException:
        return None
    return local if phonenumbers.is_valid_number(local) else None


def normalise(raw: str | None, default_region: str = DEFAULT_REGION, *,
              context: str = "") -> str | None:
    """``raw`` in E.164 (``+8613912345678``, ``+861065123456``; a service number such as
    12345 as ``+8612345``), or None when it is no number (anonymous, withheld, garbage,
    anything with a ";": review77, API/CSV/portal input is a number or nothing).
    ``context``: the number's RFC 3966 global ``phone-context`` ("+86-21"), which only the
    SIP front end knows and only ``call_number`` passes: a bare subscriber number is read
    in it first; a foreign one gives None."""
    if not raw:
        return None
    context = without_separators(ascii_digits(context.strip()))
    number = _parse(raw, default_region, context)
    if number is None:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def call_number(raw: str | None) -> str | None:
    """A call's caller or callee in E.164 as ``normalise`` reads it, the context the SIP
    front end hands on beside it (``in_context``) passed as ``context``: the one reader of
    a number that came with a call (key 1, the ticket, the call record)."""
    if not raw:
        return None
    number, context = in_context(raw)
    return normalise(number, context=context)


def is_chinese(e164: str | None) -> bool:
    """A mainland number (mobile, landline or service number)."""
    return bool(e164) and e164.startswith("+86")  # type: ignore[union-attr]


def _number_type(e164: str | None, parsed: phonenumbers.PhoneNumber | None = None
                 ) -> int | None:
    """phonenumbers' type of a stored number (PhoneNumberType), None when unreadable;
    ``parsed``: the number already parsed (parsing is most of the cost)."""
    if parsed is not None:
        return phonenumbers.number_type(parsed)
    if not e164:
        return None
    try:
        return phonenumbers.number_type(phonenumbers.parse(e164, None))
    except phonenumbers.NumberParseException:
        return None


def can_text(e164: str | None) -> bool:
    """A number an SMS can reach: a mobile (a landline or a service number cannot)."""
    return _number_type(e164) in (phonenumbers.PhoneNumberType.MOBILE,
                                  phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def _national_digits(e164: str) -> str:
    """The national significant number: 13912345678, 1065123456, 12345."""
    return e164[3:] if e164.startswith("+86") else e164.lstrip("+")


# A mainland service number (110, 12345, 95598) has at most this many digits; stored in
# E.164 it is "+86" and these, at most 9 characters (queries.contactable reads it so).
SERVICE_NUMBER_DIGITS = 6


def is_service_number(e164: str | None) -> bool:
    """110, 119, 120, 12345, 95598...: a service's number, never a citizen's to call back."""
    return (e164 is not None and is_chinese(e164)
            and len(_national_digits(e164)) <= SERVICE_NUMBER_DIGITS)


def _has_area_code(e164: str, parsed: phonenumbers.PhoneNumber | None = None) -> bool:
    """A landline (dialled with 0 + area code at home); mobiles, 400/800 numbers and
    service numbers are dialled as they are."""
    if not is_chinese(e164) or is_service_number(e164):
        return False
    return _number_type(e164, parsed) in (phonenumbers.PhoneNumberType.FIXED_LINE,
                                          phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def display(e164: str | None) -> str:
    """How a Chinese reader writes the number: ``139 1234 5678``, ``010-6512 3456``,
    ``0755-1234 5678``, ``12345``; a foreign number in its international form."""
    if not e164:
        return ""
    if is_service_number(e164):
        return _national_digits(e164)
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    if number.country_code != 86:
        return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
    national = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    if not _has_area_code(e164, number):
        return national
    area, _, rest = national.partition(" ")
    return f"{area}-{rest}" if rest else national


def mask(phone: str | None) -> str | None:
    """``139****5678``: enough to recognise a number, not enough to dial it. The one rule
    for every place a number is shown masked (lists, exports, the trail's data, and the
    logs: ``hotline.observability.mask_phones`` finds numbers in a line and masks each
    here), so one number reads the same everywhere, however it was written
    (``+86 139-1234-5678``, ``sip:008613912345678``): what says where it rings (a mobile's
    first three digits, 0 and a landline's area code, + and a foreign country code),
    ``****``, the last four digits. A service number: its first three digits. Something
    that is no number keeps its first three and last four characters (visual separators
    left out: ``config.numbering``). A call's number in its context (``in_context``) is
    masked as the number it is, or, when it is none, its number part alone (review77)."""
    if not phone:
        return phone
    number, context = in_context(phone)
    compact = without_separators(number)
    # A stored number is E.164 already: parsed once, not normalised again (the lists and
    # the exports mask one per row).
    stored = phone.startswith("+") and phone[1:].isascii() and phone[1:].isdigit()
    e164 = phone if stored else normalise(number, context=context) or _international(compact)
    if e164 is None or is_service_number(e164):
        shown = (_national_digits(e164) if e164 else "") or compact or phone
        if len(shown) <= 7:
            return shown[:3] + "*" * (len(shown) - 3)
        return shown[:3] + "*" * (len(shown) - 7) + shown[-4:]
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return compact[:3] + "****" + compact[-4:]
    if not is_chinese(e164):
        head = f"+{number.country_code}"
        shown = head + str(number.national_number)
    elif _has_area_code(e164, number):
        shown = "0" + _national_digits(e164)
        head = shown[:1 + phonenumbers.length_of_geographical_area_code(number)]
    else:
        shown = _national_digits(e164)
        head = shown[:3]
    return head + "****" + shown[-4:]



# A caller ID that is no number (anonymous, a softphone's user name) is kept and shown this
# long at most: a SIP From user has no length limit, and one of 300 characters was logged
# whole in the call's summary line (judge25's trial, "Left"; loose26). The call record's
# ``caller_raw`` column is as long (``ivr.callrecords.CALLER_CHARS``).
CALLER_ID_CHARS = 64
# The fewest digits that can be a number to hide (a service number: 110, 12345); fewer is a
# user name's ("alice2"), shown as written.
_DIGITS_OF_A_NUMBER = 3


def caller_id_shown(raw: str | None) -> str:
    """A caller ID as a log line shows it: anything with digits enough to be (or hide) a
    number goes through ``mask``, the one rule for a number shown (``139****5678``; a
    string ``normalise`` rejects, such as ``1391234567`` or ``+99912345678901``, keeps its
    first three and last four characters); only what is plainly no number (anonymous, a
    user name) is shown as it came. Either is cut to ``CALLER_ID_CHARS`` with its whole
    length said ("…(300 chars)"). Before (review53) a string normalise rejected was shown
    whole: a mistyped or foreign number in the log."""
    if not raw:
        return raw or ""
    digits = sum(ch.isdecimal() for ch in raw)
    shown = (mask(raw) or "") if digits >= _DIGITS_OF_A_NUMBER else raw
    if len(shown) <= CALLER_ID_CHARS:
        return shown
    return f"{shown[:CALLER_ID_CHARS]}…({len(raw)} chars)"


def _international(compact: str) -> str | None:
    """``+…`` or ``00…`` that is no valid number (a range not yet in libphonenumber, a
    drama number) still says its country code: so is it masked."""
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if not (compact.startswith("+") and compact[1:].isascii() and compact[1:].isdigit()):
        return None
    try:
        number = phonenumbers.parse(compact, None)
    except phonenumbers.NumberParseException:
        return None
    return f"+{number.country_code}{number.national_number}"


def domestic(e164: str) -> str:
    """The number as dialled inside China: ``13912345678``, ``01065123456``, ``12345``;
    a foreign number as ``00`` + its international digits."""
    if not is_chinese(e164):
        return "00" + e164.lstrip("+")
    digits = _national_digits(e164)
    return "0" + digits if _has_area_code(e164) else digits


def dial_forms(phone: str) -> dict[str, str]:
    """The placeholders of ``outbound.sip_uri_template`` for a stored number: ``{e164}``
    (+8613912345678), ``{national}`` with the trunk prefix 0 the way many Chinese trunks want
    every national call (013912345678, 01065123456; a service number as it is) and
    ``{phone}``, the domestic form (13912345678, 01065123456, 12345). Something that is no
    number (an extension in a test lab) fills every placeholder as it is."""
    e164 = phone if phone.startswith("+") else normalise(phone)
    if e164 is None:
        return {"e164": phone, "national": phone, "phone": phone}
    if not is_chinese(e164):
        national = "00" + e164.lstrip("+")
    elif is_service_number(e164):
        national = _national_digits(e164)
    else:
        national = "0" + _national_digits(e164)
    return {"e164": e164, "national": national, "phone": domestic(e164)}


# China's numbering plan: a mobile is 11 digits (139 1234 5678); a landline an area code of
# 2-3 digits (10, 21, 755) and a local number of 7-8 (6512 3456): the national number is 11
# digits at most. Dialled at home a landline takes the trunk prefix 0 first, so a number
# keyed on a keypad is 12 digits at most (0755 1234 5678).
NATIONAL_DIGITS = 11
KEYED_DIGITS = NATIONAL_DIGITS + 1
# China's country code as a keypad keys it ("+" cannot be keyed): 0086 or 86 before the
# number (mend61: a caller keying 86 13912345678 means that mobile, as ``normalise`` reads
# it for the API). The longest entry that can be a number: 0086 and a number keyed at home.
COUNTRY_CODE_KEYED = ("0086", "86")
LONGEST_KEYED = len(COUNTRY_CODE_KEYED[0]) + KEYED_DIGITS


def _keyed_too_long(raw: str) -> bool:
    """Digits alone longer than any number keyed at home (``KEYED_DIGITS``), unless they are
    China's country code keyed before one (``86 13912345678``, ``0086 13912345678``, a
    landline ``0086 755 12345678``)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw) <= KEYED_DIGITS:
        return False
    for prefix in COUNTRY_CODE_KEYED:
        if raw.startswith(prefix):
            # The national number after it, a trunk 0 allowed (0086 0755 ... is still one).
            return len(raw[len(prefix):].removeprefix("0")) > NATIONAL_DIGITS
    return True


def callback_number(raw: str | None) -> str | None:
    """``raw`` in E.164 when the hotline can call a citizen back on it: a mainland mobile or
    landline (what a caller keys in on the IVR, or Twilio's Gather, or the API takes). Service
    numbers (110, 12345) and foreign numbers are no citizen's callback number; nor are digits
    alone longer than a number is keyed (``_keyed_too_long``): a number with a digit too many
    is no number the caller can have meant (loose28: keying took 16 digits). China's country
    code keyed before a number (``8613912345678``, ``008613912345678``) is that number, as
    ``normalise`` reads it (mend61: loose28 refused it, and the caller heard no reason)."""
    if raw is not None and _keyed_too_long(raw):
        return None
    e164 = normalise(raw)
    if e164 is None or not is_chinese(e164) or is_service_number(e164):
        return None
    if len(_national_digits(e164)) > NATIONAL_DIGITS:
        return None
    return e164
