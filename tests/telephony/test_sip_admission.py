"""Who the front end lets in, socket-free at the shipped settings: the flood guard applied
to requests (in-dialog ones never charged, the ACK of our refusal free or refunding),
malformed datagrams, wrong numbers, trusted sources and their names resolved again, the
line limits. Floods against a running IVR are in tests/ivr/test_flood.py."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from config.settings import Settings, SipSettings
from telephony.call import CallHandle, Direction
from telephony.sip.admission import BUSY_RETRY_AFTER_SECONDS, TRUSTED_REFRESH_SECONDS, Admission
from telephony.sip.floodguard import COST_WRONG_NUMBER, source_call_limit
from telephony.sip.message import SipMessage
from telephony.sip.timers import Timer
from telephony.sip.transaction import new_request, udp_via
from telephony.sip.uri import uri_number
from tests.telephony.sipwire import PHONE, front_end, offer
from ticketing.phones import call_number

SCANNER = "198.51.100.66"
PROXY = "10.20.0.5"


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class Wire:
    """What the admission sends, and the timers it sets (fired by hand)."""

    def __init__(self) -> None:
        self.sent: list[tuple[SipMessage, tuple[str, int] | None]] = []
        self.timers: list[Timer] = []
        self.tags = 0

    def send(self, data: bytes, addr: tuple[str, int] | None) -> None:
        self.sent.append((SipMessage(data), addr))

    def new_tag(self) -> str:
        self.tags += 1
        return f"t{self.tags}"

    def later(self, delay: float, fn: Callable[..., Any], *args: Any) -> Timer:
        timer = Timer(delay, fn, args)
        self.timers.append(timer)
        return timer


def make_admission(sip: SipSettings | None = None,
                   resolve: Callable[[Iterable[str]], list[str]] | None = None,
                   ) -> tuple[Admission, Wire, Clock]:
    wire, clock = Wire(), Clock()
    extra: dict[str, Any] = {} if resolve is None else {"resolve": resolve}
    admission = Admission(sip or Settings().sip, send=wire.send, new_tag=wire.new_tag,
                          later=wire.later, read_number=call_number, clock=clock,
                          spawn=lambda job: job(), **extra)
    return admission, wire, clock


def request(method: str, source: str, *, call_id: str = "c1", user: str | None = None,
            to_tag: str = "", branch: str = "z9hG4bKa1") -> SipMessage:
    user = user or Settings().sip.numbers[0]
    to = f"<sip:{user}@192.0.2.1>" + (f";tag={to_tag}" if to_tag else "")
    data = new_request(method, f"sip:{user}@192.0.2.1", via=udp_via(source, 5060, branch),
                       from_=f"<sip:caller@{source}>;tag=f1", to=to, call_id=call_id,
                       cseq=1, contact=f"sip:caller@{source}:5060")
    return SipMessage(data, (source, 5060))


def burst(sip: SipSettings) -> int:
    return sip.flood_burst


def test_a_source_that_empties_its_bucket_is_banned_but_its_calls_go_on() -> None:
    admission, _wire, clock = make_admission()
    sip = admission.sip
    for n in range(burst(sip)):
        assert admission.admit(request("OPTIONS", SCANNER, call_id=f"s{n}"), in_dialog=False)
    assert not admission.admit(request("INVITE", SCANNER, call_id="x"), in_dialog=False)
    assert admission.flood.banned(SCANNER) and admission.flood.bans == 1
    # A request of a call it has passes untouched however banned its source is.
    assert admission.admit(request("BYE", SCANNER, call_id="live", to_tag="ours"),
                           in_dialog=True)
    assert not admission.admit(request("OPTIONS", SCANNER, call_id="y"), in_dialog=False)
    clock.now += sip.flood_ban_seconds + 1
    assert admission.admit(request("OPTIONS", SCANNER, call_id="z"), in_dialog=False)


def test_a_to_tag_alone_does_not_make_a_request_in_dialog() -> None:
    admission, _wire, _clock = make_admission()
    for n in range(burst(admission.sip) + 1):
        admission.admit(request("BYE", SCANNER, call_id=f"b{n}", to_tag="guess"),
                        in_dialog=False)
    assert admission.flood.banned(SCANNER)


def test_malformed_datagrams_are_charged_and_share_the_ban() -> None:
    admission, _wire, _clock = make_admission()
    assert all(admission.admit_malformed(SCANNER) for _ in range(burst(admission.sip)))
    assert not admission.admit_malformed(SCANNER)
    assert not admission.admit(request("INVITE", SCANNER), in_dialog=False)
    assert admission.admit_malformed("198.51.100.67")  # its neighbour is not touched


def test_trusted_source_is_never_limited_and_names_the_caller() -> None:
    sip = Settings().sip.model_copy(update={"trusted_sources": [PROXY]})
    admission, _wire, _clock = make_admission(sip)
    assert all(admission.admit(request("INVITE", PROXY, call_id=f"p{n}"), in_dialog=False)
               for n in range(burst(sip) * 5))
    assert all(admission.admit_malformed(PROXY) for _ in range(burst(sip) * 5))
    assert admission.is_trusted(PROXY) and not admission.is_trusted(SCANNER)
    assert admission.flood.bans == 0


def test_register_mode_trusts_its_registrar() -> None:
    sip = Settings().sip.model_copy(update={"mode": "register", "registrar_ip": PROXY})
    admission, _wire, _clock = make_admission(sip)
    assert admission.is_trusted(PROXY)


def test_trusted_names_are_resolved_again_on_a_timer_until_stopped() -> None:
    addresses = {"proxy.internal": ["10.20.0.5"]}
    sip = Settings().sip.model_copy(update={"trusted_sources": ["proxy.internal"]})

    def resolve(entries: Iterable[str]) -> list[str]:
        return [a for e in entries for a in addresses.get(e, [e])]

    admission, wire, _clock = make_admission(sip, resolve=resolve)
    assert admission.is_trusted("10.20.0.5")
    admission.start()
    assert [t.when for t in wire.timers] == [TRUSTED_REFRESH_SECONDS]
    addresses["proxy.internal"] = ["10.20.0.9"]  # the proxy restarted elsewhere
    refresh = wire.timers.pop()
    refresh.fn(*refresh.args)
    assert admission.is_trusted("10.20.0.9") and not admission.is_trusted("10.20.0.5")
    assert len(wire.timers) == 1  # and again later
    admission.stop()
    addresses["proxy.internal"] = ["10.20.0.7"]
    refresh = wire.timers.pop()
    refresh.fn(*refresh.args)
    assert not admission.is_trusted("10.20.0.7") and not wire.timers


def test_addresses_alone_need_no_refresh() -> None:
    sip = Settings().sip.model_copy(update={"trusted_sources": ["10.20.0.0/24"]})
    admission, wire, _clock = make_admission(sip)
    admission.start()
    assert not wire.timers and admission.is_trusted("10.20.0.77")


def test_busy_refusal_says_when_to_retry_and_its_ack_refunds() -> None:
    admission, wire, _clock = make_admission()
    invite = request("INVITE", SCANNER, call_id="busy1")
    assert admission.admit(invite, in_dialog=False)
    admission.refuse(invite, 486, warning="all lines busy", capacity=True)
    answer, addr = wire.sent[-1]
    assert answer.status_code == 486 and addr == invite.source
    assert answer.first("Retry-After") == str(BUSY_RETRY_AFTER_SECONDS)
    assert admission.rejected == {486: 1}
    # The retransmitted INVITE is the refusal's transaction's: the same answer (same To
    # tag), free; even refused a second time it would get the first answer.
    assert admission.finals.take(invite)
    assert wire.sent[-1][0].to_tag == answer.to_tag
    admission.refuse(invite, 486, warning="all lines busy", capacity=True)
    assert wire.sent[-1][0].to_tag == answer.to_tag
    # Drain the bucket but one; the ACK is free and gives the INVITE's token back.
    for n in range(burst(admission.sip) - 2):
        assert admission.admit(request("OPTIONS", SCANNER, call_id=f"o{n}"), in_dialog=False)
    ack = request("ACK", SCANNER, call_id="busy1", to_tag=answer.to_tag)
    assert admission.finals.take(ack)
    assert admission.admit(request("OPTIONS", SCANNER, call_id="after1"), in_dialog=False)
    assert admission.admit(request("OPTIONS", SCANNER, call_id="after2"), in_dialog=False)
    assert not admission.admit(request("OPTIONS", SCANNER, call_id="after3"), in_dialog=False)


def test_an_ack_with_a_made_up_tag_or_source_is_charged() -> None:
    admission, wire, _clock = make_admission()
    invite = request("INVITE", SCANNER, call_id="r1")
    admission.refuse(invite, 488, warning="no codec")
    tag = wire.sent[-1][0].to_tag
    assert wire.sent[-1][0].first("Retry-After") == ""  # not a capacity refusal
    other = "198.51.100.70"
    for n in range(burst(admission.sip)):
        admission.admit(request("OPTIONS", other, call_id=f"q{n}"), in_dialog=False)
    # The right tag from another address is no part of our transaction: charged (and the
    # refusal stays for the real ACK).
    assert not admission.finals.take(request("ACK", other, call_id="r1", to_tag=tag))
    assert not admission.admit(request("ACK", other, call_id="r1", to_tag=tag), in_dialog=False)
    assert admission.finals.take(request("ACK", SCANNER, call_id="r1", to_tag=tag))
    for n in range(burst(admission.sip) + 1):
        ack = request("ACK", SCANNER, call_id="r1", to_tag=f"x{n}")
        if not admission.finals.take(ack):
            admission.admit(ack, in_dialog=False)
    assert admission.flood.banned(SCANNER)


def test_an_invite_to_another_number_is_refused_and_costs_more() -> None:
    admission, wire, _clock = make_admission()
    ours = request("INVITE", SCANNER, call_id="ours")
    assert not admission.refuse_other_number(ours) and not wire.sent
    guesses = 0
    while admission.admit(request("INVITE", SCANNER, call_id=f"g{guesses}", user="9000"),
                          in_dialog=False):
        assert admission.refuse_other_number(
            request("INVITE", SCANNER, call_id=f"g{guesses}", user="9000"))
        guesses += 1
        assert guesses <= burst(admission.sip)
    assert guesses <= burst(admission.sip) / COST_WRONG_NUMBER + 1
    assert wire.sent[0][0].status_code == 404 and admission.rejected[404] == guesses


def invite_to(request_uri: str, call_id: str) -> SipMessage:
    data = new_request("INVITE", request_uri, via=udp_via(SCANNER, 5060, f"z9hG4bK{call_id}"),
                       from_=f"<sip:13800000000@{SCANNER}>;tag=f1",
                       to=f"<{request_uri}>", call_id=call_id, cseq=1,
                       contact=f"sip:13800000000@{SCANNER}:5060")
    return SipMessage(data, (SCANNER, 5060))


@pytest.mark.parametrize(("numbers", "request_uri", "admitted"), [
    # A global number: ours however it is written, listed in that form or not (before, a
    # hotline listed as "12345" alone refused sip:+8612345@ and sip:0086-12345@ 404).
    (["12345"], "sip:+8612345@192.0.2.1", True),
    (["12345"], "sip:0086-12345@192.0.2.1;user=phone", True),
    # A local number in its phone-context, read as a caller's From is (ticketing.phones):
    # a landline hotline dialled as a Beijing local number is ours, the same digits in
    # Shanghai's context are someone else's; a foreign network's 12345 is not ours
    # (before, the context was dropped unread and both were let in or both refused).
    (["+861065123456"], "sip:65123456;phone-context=+86-10@192.0.2.1", True),
    (["+861065123456"], "sip:65123456;phone-context=+86-21@192.0.2.1", False),
    (["12345"], "sip:12345;phone-context=+86-10@192.0.2.1", True),
    (["12345"], "sip:12345;phone-context=+1-212@192.0.2.1", False),
    # What the operator listed is taken as written when no context is given: an
    # extension no reader calls a public number still answers.
    (["8001"], "sip:8001@192.0.2.1", True),
    (["8001"], "sip:8002@192.0.2.1", False),
])
def test_the_dialled_number_is_read_as_a_callers_number_is(
        numbers: list[str], request_uri: str, admitted: bool) -> None:
    admission, wire, _clock = make_admission(SipSettings(numbers=numbers))
    refused = admission.refuse_other_number(invite_to(request_uri, "d1"))
    assert refused is not admitted
    assert [m.status_code for m, _ in wire.sent] == ([] if admitted else [404])


def test_a_tel_request_uri_names_our_number_but_is_refused_by_scheme_first() -> None:
    """tel: is read by the same reader (``uri.uri_number``: a tel: number and a sip: user
    alike), so its number is ours; the INVITE is still 416, as we route sip: only, and
    never reaches the number check (the front end asks the scheme first)."""
    admission, wire, _clock = make_admission()
    tel = invite_to("tel:12345;phone-context=+86-10", "t1")
    assert uri_number(tel.request_uri) in admission.ours
    assert admission.refuse_scheme(tel)
    assert [m.status_code for m, _ in wire.sent] == [416]


class NoSignalling:
    local_ip = "127.0.0.1"

    def contact_headers(self) -> list[tuple[str, str]]:
        return []

    def send_to(self, data: bytes, addr: tuple[str, int] | None) -> None: ...

    def send_invite_2xx(self, call: CallHandle) -> None: ...

    def send_invite_final(self, call: CallHandle, response: bytes) -> None: ...

    def send_bye(self, call: CallHandle) -> None: ...

    def cancel_outbound(self, call: CallHandle) -> None: ...

    def call_ended(self, call: CallHandle) -> None: ...


def inbound_call(n: int, source: str) -> CallHandle:
    call = CallHandle(NoSignalling(), direction=Direction.INBOUND, call_id=f"in{n}",
                      local_tag=f"l{n}", caller="13800000000", callee="12345")
    call.invite_source = (source, 5060)
    return call


def test_line_limits_per_node_and_per_untrusted_source() -> None:
    sip = Settings().sip.model_copy(update={"trusted_sources": [PROXY]})
    admission, _wire, _clock = make_admission(sip)
    share = source_call_limit(sip)
    from_scanner = [inbound_call(n, SCANNER) for n in range(share)]
    assert admission.line_refusal(from_scanner[:-1], SCANNER) is None
    assert admission.line_refusal(from_scanner, SCANNER) == f"{share} lines busy from this address"
    assert admission.line_refusal(from_scanner, "198.51.100.99") is None
    from_proxy = [inbound_call(n, PROXY) for n in range(sip.max_calls - 1)]
    assert admission.line_refusal(from_proxy, PROXY) is None  # the trunk has no share
    full = [*from_proxy, inbound_call(99, PROXY)]
    assert admission.line_refusal(full, PROXY) == f"all {sip.max_calls} lines busy"


@pytest.mark.parametrize("request_uri", [f"sips:{Settings().sip.numbers[0]}@127.0.0.1",
                                         f"SIPS:{Settings().sip.numbers[0]}@127.0.0.1",
                                         f"tel:{Settings().sip.numbers[0]}"])
def test_an_invite_for_a_scheme_other_than_sip_is_416_and_no_call(request_uri: str) -> None:
    fe, wire = front_end()
    user = Settings().sip.numbers[0]
    data = new_request("INVITE", request_uri, via=udp_via(*PHONE, "z9hG4bKs1"),
                       from_=f"<sip:13800000000@{PHONE[0]}>;tag=f1",
                       to=f"<sip:{user}@127.0.0.1>", call_id="s1", cseq=1,
                       contact=f"sip:13800000000@{PHONE[0]}:{PHONE[1]}",
                       extra=[("Content-Type", "application/sdp")], body=offer())
    fe._on_message(SipMessage(data, PHONE))
    # RFC 3261 8.2.2.1 / 26.2.2: a sips: call asks for TLS on every hop, which we do not
    # give over UDP: refused, not answered as if it had it.
    assert wire.codes() == [416] and fe._lookup("s1") is None


@pytest.mark.parametrize(("request_uri", "admitted"), [
    # A real carrier's forms of 12345 (the shipped numbers): ours.
    ("sip:12345@192.0.2.1;user=phone", True),
    ("sip:+86-10-12345@192.0.2.1;user=phone", True),
    ("sip:%31%32345@192.0.2.1", True),  # RFC 3261 19.1.4: an escaped digit is the digit
    ("sip:12345;PHONE-CONTEXT=+86-10@192.0.2.1;user=phone", True),  # any case
    ("sip:12345;Phone-Context=+86@192.0.2.1", True),  # the country alone: no area
    # A domain context (an IMS network's own plan) places no number elsewhere.
    ("sip:12345;phone-context=ims.mnc000.mcc460.3gppnetwork.org@192.0.2.1", True),
    ("sip:12345;cpc=ordinary@192.0.2.1", True),  # other parameters are not the number
    # Not ours: another network's 12345 in any case, an escaped ";" read as what it
    # decodes to (that network's context), other digits, our digits with more.
    ("sip:12345;Phone-Context=+1-212@192.0.2.1", False),
    ("sip:12345%3Bphone-context=%2B1-212@192.0.2.1", False),
    ("sip:12345;phone-context\u3000=+1-212@192.0.2.1", True),  # no context: see below
    ("sip:123456@192.0.2.1", False),
    ("sip:012345@192.0.2.1", False),
    ("sip:12345%00@192.0.2.1", False),  # an escape decoding to a control: as written
    ("sip:192.0.2.1", False),  # no user
])
def test_odd_request_uri_forms_have_a_defined_outcome(request_uri: str, admitted: bool) -> None:
    """review82: each odd form of a Request-URI admitted or refused 404 by the one reader.
    ``phone-context<U+3000>`` is no phone-context (SIP's white space is SP/HTAB: Kamailio
    reads another parameter name), so that URI dials 12345 with no context: ours."""
    admission, wire, _clock = make_admission()
    assert admission.refuse_other_number(invite_to(request_uri, "o1")) is not admitted
    assert [m.status_code for m, _ in wire.sent] == ([] if admitted else [404])
