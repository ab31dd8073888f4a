"""The SIP flood guard's rules, socket-free at the shipped settings: token buckets and
bans per source, refunds for proven calls, penalties, trusted sources, bounded memory; the
stalled-call decision; and what doctor and start-up say about a direct mode that trusts no
trunk. The floods themselves, against a running IVR and Kamailio's pike, are in
tests/ivr/test_flood.py."""

from __future__ import annotations

import pytest

from config.settings import Settings, SipSettings
from hotline.doctor import check_sip_trunk
from telephony.call import EndReason
from telephony.sip.floodguard import (
    COST_ABANDONED_CALL,
    MAX_TRACKED_SOURCES,
    FloodGuard,
    is_our_number,
    resolve_trusted,
    source_call_limit,
    untrusted_direct_warning,
)
from telephony.sip.timers import stall_reason
from telephony.sip.uri import uri_number
from ticketing.phones import call_number


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_guard_bans_a_source_that_empties_its_bucket_and_no_other() -> None:
    clock = Clock()
    guard = FloodGuard(rate=2, burst=5, ban_seconds=30, trusted={"10.9.9.9"}, clock=clock)
    assert all(guard.admit("198.51.100.7") for _ in range(5))
    assert not guard.admit("198.51.100.7")  # sixth at once: banned
    assert guard.bans == 1 and guard.banned("198.51.100.7")
    clock.now += 10  # the bucket would have refilled, but the ban holds
    assert not guard.admit("198.51.100.7")
    assert guard.admit("198.51.100.8")  # another address is not affected
    assert all(guard.admit("10.9.9.9") for _ in range(100))  # the trusted proxy never is
    clock.now += 21
    assert guard.admit("198.51.100.7") and not guard.banned("198.51.100.7")
    assert guard.dropped == 2


def test_guard_lets_a_steady_caller_through_forever() -> None:
    clock = Clock()
    guard = FloodGuard(rate=1, burst=3, ban_seconds=60, clock=clock)
    for _ in range(500):  # one new request every 1.1 s is under the rate
        assert guard.admit("198.51.100.9")
        clock.now += 1.1
    assert guard.bans == 0


def test_trusted_networks_and_names() -> None:
    guard = FloodGuard(rate=1, burst=1, ban_seconds=60, clock=Clock(),
                       trusted=resolve_trusted(["192.0.2.0/24", "localhost", "no-such.invalid"]))
    assert all(guard.admit("192.0.2.77") for _ in range(10))  # a trunk's whole network
    assert all(guard.admit("127.0.0.1") for _ in range(10))  # a proxy named by host name
    assert guard.admit("203.0.113.5") and not guard.admit("203.0.113.5")
    assert not guard.is_trusted("not-an-address")


def test_trusted_addresses_can_be_replaced() -> None:
    guard = FloodGuard(rate=1, burst=1, ban_seconds=60, clock=Clock(), trusted=["10.0.0.5"])
    assert guard.is_trusted("10.0.0.5")
    guard.set_trusted(["10.0.0.9"])  # the proxy's name now resolves to a new address
    assert guard.is_trusted("10.0.0.9") and not guard.is_trusted("10.0.0.5")


def test_guard_memory_is_bounded_under_a_spoofed_sweep() -> None:
    guard = FloodGuard(rate=1, burst=1, ban_seconds=60, clock=Clock())
    for i in range(MAX_TRACKED_SOURCES + 500):
        guard.admit(f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}")
    assert len(guard._buckets) == MAX_TRACKED_SOURCES
    with pytest.raises(ValueError):
        FloodGuard(rate=0, burst=1, ban_seconds=1)


def shipped_guard(clock: Clock) -> FloodGuard:
    sip = Settings().sip  # config/hotline.toml + defaults
    return FloodGuard(rate=sip.flood_rate_per_second, burst=sip.flood_burst,
                      ban_seconds=sip.flood_ban_seconds, clock=clock)


def test_a_surge_of_complete_calls_is_never_banned() -> None:
    """A carrier's SBC in a blackout: 10 calls/s from one address (twice the shipped rate)
    for 5 minutes. Each INVITE is charged and given back when the call proves real (ACK +
    first RTP) or when the 486 of a call beyond capacity is ACKed: never banned. Charged
    and never given back, the same surge is banned within seconds."""
    clock = Clock()
    guard, stingy = shipped_guard(clock), shipped_guard(clock)
    for _ in range(3000):
        assert guard.admit("198.51.100.20")  # the INVITE
        stingy.admit("198.51.100.20")
        clock.now += 0.05
        guard.refund("198.51.100.20")  # its ACK (of a 486), or ACK + RTP of the 200
        clock.now += 0.05
    assert guard.bans == 0 and guard.dropped == 0
    assert stingy.bans >= 1 and stingy.dropped > 2000


def test_unrefunded_invites_at_the_same_pace_are_banned() -> None:
    """The same pace with nothing coming back (INVITEs never ACKed, each answered call
    abandoned) is the scanner pattern: banned within seconds."""
    clock = Clock()
    guard = shipped_guard(clock)
    admitted = 0
    for _ in range(100):
        admitted += guard.admit("198.51.100.21")
        if admitted <= source_call_limit(Settings().sip):
            clock.now += 0.1
            guard.penalize("198.51.100.21", COST_ABANDONED_CALL)  # no ACK within ack_timeout
        clock.now += 0.1
    assert guard.banned("198.51.100.21") and admitted < 20


def test_refund_never_lifts_a_ban_nor_overfills() -> None:
    clock = Clock()
    guard = FloodGuard(rate=1, burst=3, ban_seconds=30, clock=clock)
    for _ in range(10):
        guard.refund("198.51.100.22")  # nothing charged yet: no credit to bank
    assert [guard.admit("198.51.100.22") for _ in range(4)] == [True, True, True, False]
    guard.refund("198.51.100.22", 3)
    assert not guard.admit("198.51.100.22")  # still banned


def test_penalties_ban_a_slow_line_holder_and_spare_the_trusted() -> None:
    clock = Clock()
    guard = FloodGuard(rate=5, burst=20, ban_seconds=60, trusted=["10.0.0.5"], clock=clock)
    bans = [guard.penalize("198.51.100.23", COST_ABANDONED_CALL) for _ in range(5)]
    assert bans == [False, False, False, False, True] and guard.banned("198.51.100.23")
    assert not any(guard.penalize("10.0.0.5", 100) for _ in range(5))
    assert not guard.banned("10.0.0.5")


def test_stall_reasons_with_a_fake_clock() -> None:
    sip = SipSettings()

    def reason(now: float, *, acked: bool = True, rx: int = 0,
               last_rx: float = 0.0, held: bool = False) -> EndReason | None:
        return stall_reason(now=now, answered=0.0, acked=acked, rx_packets=rx,
                            last_rx=last_rx, ack_timeout=sip.ack_timeout,
                            first_rtp_timeout=sip.first_rtp_timeout,
                            rtp_timeout=sip.rtp_timeout, held=held)

    assert reason(1.0, acked=False) is None  # the 200 is still being retransmitted
    assert reason(sip.ack_timeout, acked=False) is EndReason.NO_ACK  # long before 32 s
    assert reason(sip.first_rtp_timeout - 0.1) is None
    assert reason(sip.first_rtp_timeout) is EndReason.NO_RTP  # ACKed, silent: freed
    assert reason(60.0, rx=3000, last_rx=59.9) is None  # a long call with media goes on
    assert reason(60.0, rx=3000, last_rx=60.0 - sip.rtp_timeout - 0.1) is EndReason.RTP_TIMEOUT
    # On hold (a re-INVITE a=sendonly/inactive) the caller sends nothing: not a dead call.
    assert reason(60.0, rx=3000, last_rx=60.0 - sip.rtp_timeout - 0.1, held=True) is None
    assert sip.ack_timeout < 32 and sip.first_rtp_timeout < sip.rtp_timeout


def ours(sip: SipSettings, user: str) -> bool:
    """A Request-URI's user, as admission reads it (``uri.uri_number``), is ours."""
    return is_our_number(sip, uri_number(f"sip:{user}@192.0.2.1"), call_number)


def test_shipped_limits_and_numbers() -> None:
    sip = Settings().sip
    assert sip.mode == "direct" and sip.max_calls == 20
    assert 1 <= source_call_limit(sip) < sip.max_calls  # one address never takes every line
    assert source_call_limit(SipSettings(max_calls=1)) == 1
    # What the README, the tests and Kamailio's HOTLINE_NUMBER dial today is ours.
    assert ours(sip, "12345") and ours(sip, "12345;user=phone")
    assert ours(SipSettings(username="hotline9"), "hotline9")  # register mode
    assert not any(ours(sip, u) for u in ("100", "1000", "", "admin", "012345"))


def test_a_service_number_however_the_uri_spells_it() -> None:
    """%-escapes (RFC 3261 19.1.4) and visual separators (RFC 3966) name the same number:
    before, sip:010-12345@ and sip:%31%32345@ got 404 "not a number of this service" and
    were charged as extension guessing."""
    sip = Settings().sip
    for user in ("010-12345", "+86-10-12345", "(010)12345", "%31%32345", "+86.12345;user=phone",
                 "010%2012345", "12345;phone-context=+86-10"):  # review74: the one set
        assert ours(sip, user), user
    for user in ("10-0", "-", "%", "0-1-0", "1234-5-6", "%2D"):
        assert not ours(sip, user), user


def test_doctor_and_start_up_say_direct_mode_trusts_no_trunk() -> None:
    shipped = Settings()
    check = check_sip_trunk(shipped)
    assert not check.ok and not check.required
    assert "no trusted trunk" in check.detail and "HOTLINE_SIP__TRUSTED_SOURCES" in check.detail
    assert check.detail == untrusted_direct_warning(shipped.sip)  # the start-up log's words
    assert check_sip_trunk(Settings(sip={"trusted_sources": ["192.0.2.1"]})).ok
    assert check_sip_trunk(Settings(sip={"mode": "register"})).ok
