"""Session timers, option tags and the asserted caller identity, socket-free: what the front
end decides from an INVITE/UPDATE's headers (RFC 3261 8.2.2.3, RFC 3325, RFC 4028)."""

from __future__ import annotations

import pytest

from ivr.caller_trust import number_verified
from telephony.sip.identity import (
    asserted_caller,
    asserted_user,
    caller_address,
    caller_identity,
)
from telephony.sip.message import SipMessage
from telephony.sip.session_timer import (
    MIN_SE_SECONDS,
    answer_headers,
    bye_after,
    expired,
    granted_interval,
    min_se,
    refresh_after,
    refresh_headers,
    session_expires,
    too_brief,
    unsupported_options,
    we_refresh,
)

ANONYMOUS = '"Anonymous" <sip:anonymous@anonymous.invalid>;tag=a'


def request(extra: str = "", *, method: str = "INVITE", from_: str = ANONYMOUS) -> SipMessage:
    return SipMessage((
        f"{method} sip:12345@192.0.2.1 SIP/2.0\r\n"
        "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx\r\n"
        f"From: {from_}\r\nTo: <sip:12345@192.0.2.1>\r\n"
        f"Call-ID: c1@x\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n"
    ).encode())


def test_unknown_require_options_are_named_and_timer_is_not() -> None:
    assert unsupported_options(request("Require: timer\r\n")) == []
    assert unsupported_options(request("Require: foo, timer\r\nrequire: 100rel\r\n")) == [
        "foo", "100rel"]
    assert unsupported_options(request()) == []


def test_a_timer_request_is_answered_with_the_refresher_it_chose() -> None:
    msg = request("Supported: timer\r\nSession-Expires: 1800;refresher=uac\r\n")
    assert answer_headers(msg) == [("Session-Expires", "1800;refresher=uac"),
                                   ("Require", "timer")]
    assert not we_refresh(msg)
    # No refresher named: the caller refreshes, as before (RFC 4028 9 leaves it to us).
    msg = request("Supported: timer\r\nSession-Expires: 1800\r\n")
    assert answer_headers(msg)[0] == ("Session-Expires", "1800;refresher=uac")
    # Compact form (x) and Require instead of Supported; refresher=uas is kept (RFC 4028
    # 9): we refresh. Before (the twenty-second round), answered refresher=uac.
    msg = request("Require: timer\r\nx: 600;REFRESHER=UAS\r\n")
    assert answer_headers(msg) == [("Session-Expires", "600;refresher=uas"),
                                   ("Require", "timer")]
    assert we_refresh(msg)
    # Asked of a caller that cannot read our Session-Expires: no timer, as documented.
    assert not we_refresh(request("Session-Expires: 600;refresher=uas\r\n"))
    assert answer_headers(request("Session-Expires: 600;refresher=uas\r\n")) == []


def test_our_refresh_goes_at_half_the_interval_and_names_us_and_min_se() -> None:
    assert refresh_after(MIN_SE_SECONDS) == 45.0
    assert refresh_headers(90, None) == [("Session-Expires", "90;refresher=uac"),
                                         ("Supported", "timer")]
    assert refresh_headers(120, 120) == [("Session-Expires", "120;refresher=uac"),
                                         ("Min-SE", "120"), ("Supported", "timer")]
    assert min_se(request("Min-SE: 120\r\n")) == 120 and min_se(request()) is None


def test_no_timer_without_one_asked_for_or_without_support_for_it() -> None:
    assert answer_headers(request("Supported: timer\r\n")) == []
    # Asked for, but the caller could not refresh: we would have to, and we do not.
    assert answer_headers(request("Session-Expires: 1800\r\n")) == []
    assert session_expires(request("Session-Expires: soon\r\n")) is None


def test_the_granted_interval_is_what_the_answer_says() -> None:
    msg = request("Supported: timer\r\nSession-Expires: 1800;refresher=uac\r\n")
    assert granted_interval(msg) == 1800
    assert answer_headers(msg)[0] == ("Session-Expires", f"{granted_interval(msg)};refresher=uac")
    # A refresh without a timer, or from a caller that cannot refresh: no timer in force.
    assert granted_interval(request("Supported: timer\r\n", method="UPDATE")) is None
    assert granted_interval(request("Session-Expires: 1800\r\n")) is None


@pytest.mark.parametrize(("interval", "bye_at"), [
    (MIN_SE_SECONDS, 60.0),  # a third of 90 s is less than 32 s
    (96, 64.0),  # the two rules meet
    (1800, 1768.0),  # 32 s before expiry
])
def test_the_bye_goes_out_before_expiry_by_the_lesser_of_32_s_and_a_third(
        interval: int, bye_at: float) -> None:
    assert bye_after(interval) == bye_at
    assert not expired(now=100.0 + bye_at - 0.01, refreshed=100.0, interval=interval)
    assert expired(now=100.0 + bye_at, refreshed=100.0, interval=interval)


def test_a_refresh_sets_the_timer_going_again_and_no_timer_never_expires() -> None:
    answered, refreshed = 1000.0, 1000.0 + 50
    late = answered + bye_after(MIN_SE_SECONDS) + 10  # past expiry counted from the answer
    assert expired(now=late, refreshed=answered, interval=MIN_SE_SECONDS)
    assert not expired(now=late, refreshed=refreshed, interval=MIN_SE_SECONDS)
    assert expired(now=refreshed + bye_after(MIN_SE_SECONDS), refreshed=refreshed,
                   interval=MIN_SE_SECONDS)
    assert not expired(now=answered + 10**6, refreshed=answered, interval=None)


def test_a_session_interval_below_the_minimum_is_too_brief() -> None:
    assert too_brief(request(f"Session-Expires: {MIN_SE_SECONDS - 1}\r\n"))
    assert not too_brief(request(f"Session-Expires: {MIN_SE_SECONDS}\r\n"))
    assert not too_brief(request())


@pytest.mark.parametrize(("header", "user"), [
    ("P-Asserted-Identity: <sip:+8613912345678@carrier.example>\r\n", "+8613912345678"),
    ("P-Asserted-Identity: <tel:+8613912345678>\r\n", "+8613912345678"),
    ('P-Asserted-Identity: "x" <sip:carrier.example>, <tel:13912345678;cpc=ordinary>\r\n',
     "13912345678"),
    ('Remote-Party-ID: "A" <sip:13912345678@10.0.0.1>;party=calling;privacy=full\r\n',
     "13912345678"),
    ("", ""),
])
def test_the_asserted_identity_is_read_from_pai_or_rpid(header: str, user: str) -> None:
    assert asserted_user(request(header)) == user


def test_an_asserted_identity_counts_only_from_a_trusted_source() -> None:
    msg = request("P-Asserted-Identity: <sip:+8613912345678@carrier.example>\r\n")
    assert asserted_caller(msg, trusted=True) == "+8613912345678"
    assert asserted_caller(msg, trusted=False) == ""


@pytest.mark.parametrize(("headers", "trusted", "identity"), [
    ("", False, ("13800000021", False)),  # direct mode: anyone's word
    ("", True, ("13800000021", False)),  # a stranger our front relayed (no mark)
    ("X-Hotline-Vouched: carrier\r\n", True, ("13800000021", True)),  # the carrier's, marked
    ("X-Hotline-Vouched: carrier\r\n", False, ("13800000021", False)),  # mark from outside
    # review53: header names are case-insensitive; an operator's SBC may write it so.
    ("x-hotline-vouched: carrier\r\n", True, ("13800000021", True)),
    ("X-HOTLINE-VOUCHED: Carrier\r\n", True, ("13800000021", True)),
    ("P-Asserted-Identity: <tel:+8613912345678>\r\n", True, ("+8613912345678", True)),
    ("P-Asserted-Identity: <tel:+8613912345678>\r\n", False, ("13800000021", False)),
])
def test_who_vouched_for_the_caller_is_one_rule(headers: str, trusted: bool,
                                                identity: tuple[str, bool]) -> None:
    """loose26: behind our Kamailio (trusted) a stranger's From was taken as verified."""
    msg = request(headers, from_="<sip:13800000021@198.51.100.7>;tag=a")
    caller, vouch = caller_identity(msg, trusted=trusted)
    assert (caller, number_verified(vouch)) == identity


@pytest.mark.parametrize(("from_user", "caller"), [
    ("%2B8613912345678", "+8613912345678"),  # RFC 3261 19.1.4: sip:%2B86…@ is sip:+86…@
    ("%31%33912345678", "13912345678"),
    ("13912345678;cpc=ordinary", "13912345678"),  # a user parameter is no part of the number
    ("%0D%0A13912345678", "%0D%0A13912345678"),  # decoded, a line break in every log line
    ("%FF13912345678", "%FF13912345678"),  # not UTF-8
])
def test_the_from_user_reads_as_the_request_uri_does(from_user: str, caller: str) -> None:
    """The Request-URI's user was read with its %-escapes decoded (floodguard.is_our_number),
    the caller's From user as written: a gateway writing the caller's + as %2B filed the
    call with no number (no SMS, no survey, no status by key 1; seventeenth round's trial)."""
    from telephony.sip.transaction import new_request, udp_via
    from tests.telephony.sipwire import LOCAL, PHONE, front_end, offer, our_number, ringing_call

    fe, _wire = front_end()
    invite = SipMessage(new_request(
        "INVITE", f"sip:{our_number()}@{LOCAL[0]}:{LOCAL[1]}",
        via=udp_via(PHONE[0], PHONE[1], "z9hG4bKfromuser"),
        from_=f"<sip:{from_user}@{PHONE[0]}>;tag=them", to=f"<sip:{our_number()}@{LOCAL[0]}>",
        call_id=f"from-{from_user.encode().hex()[:32]}", cseq=1,
        contact=f"sip:phone@{PHONE[0]}:{PHONE[1]}",
        extra=[("Content-Type", "application/sdp")], body=offer()), PHONE)
    assert ringing_call(fe, invite).caller == caller
    pai = request(f"P-Asserted-Identity: <sip:{from_user}@carrier.example>\r\n")
    assert asserted_caller(pai, trusted=True) == caller


@pytest.mark.parametrize(("vias", "trusted", "address"), [
    ("Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx\r\n", False, "192.0.2.10"),
    # Relayed by our front: the address it received the INVITE from (received=, else sent-by).
    ("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKk\r\n"
     "Via: SIP/2.0/UDP 10.0.0.5:5060;received=198.51.100.7;branch=z9hG4bKx\r\n",
     True, "198.51.100.7"),
    ("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKk\r\n"
     "Via: SIP/2.0/UDP 198.51.100.8:5060;branch=z9hG4bKx\r\n", True, "198.51.100.8"),
    # A trusted B2BUA (a carrier's SBC) relays every caller from its own address with no
    # Via below: no caller's address, or one caller's limit would be the whole city's.
    ("Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx\r\n", True, ""),
    # The same Vias from a source not trusted: its own address, whatever it wrote below.
    ("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKk\r\n"
     "Via: SIP/2.0/UDP 198.51.100.8:5060;branch=z9hG4bKx\r\n", False, "192.0.2.10"),
])
def test_the_callers_address_is_the_one_the_trusted_front_received_from(
        vias: str, trusted: bool, address: str) -> None:
    """loose26: ticket numbers keyed are counted by the caller's address; behind Kamailio
    every INVITE comes from Kamailio, so its source would make one caller's limit all's."""
    msg = SipMessage((
        "INVITE sip:12345@192.0.2.1 SIP/2.0\r\n" + vias + "From: <sip:1@x>;tag=a\r\n"
        "To: <sip:12345@192.0.2.1>\r\nCall-ID: c1@x\r\nCSeq: 1 INVITE\r\n"
        "Content-Length: 0\r\n\r\n").encode(), ("192.0.2.10", 5060))
    assert caller_address(msg, trusted=trusted) == address
