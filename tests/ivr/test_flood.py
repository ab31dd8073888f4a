"""SIP floods (SIPVicious-style INVITE and REGISTER sweeps) against the service's own flood
guard and against the production Kamailio front (pike), with a real call in progress that
must not notice. Every flood is a bounded SIPp run from its own 127.x address."""

from __future__ import annotations

import logging
import socket
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from config.settings import Settings, SipSettings
from hotline.doctor import check_sip_trunk
from ivr.callrecords import CallOutcome
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
from tests.ivr.conftest import PHRASES
from tests.ivr.ivrkit import IvrUnderTest, assert_ok
from tests.sip import harness
from tests.sip.callers import CallerScript

# 127.0.0.2 stands in for the carrier's SBC (FrontKamailio's CARRIER_NETS); the others are
# a softphone that later floods (a hijacked or scanning host), a REGISTER sweeper, and a
# citizen calling afterwards.
CARRIER, FLOODER, SWEEPER, LATER_CITIZEN = "127.0.0.2", "127.0.0.66", "127.0.0.67", "127.0.0.3"


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
               last_rx: float = 0.0) -> EndReason | None:
        return stall_reason(now=now, answered=0.0, acked=acked, rx_packets=rx,
                            last_rx=last_rx, ack_timeout=sip.ack_timeout,
                            first_rtp_timeout=sip.first_rtp_timeout,
                            rtp_timeout=sip.rtp_timeout)

    assert reason(1.0, acked=False) is None  # the 200 is still being retransmitted
    assert reason(sip.ack_timeout, acked=False) is EndReason.NO_ACK  # long before 32 s
    assert reason(sip.first_rtp_timeout - 0.1) is None
    assert reason(sip.first_rtp_timeout) is EndReason.NO_RTP  # ACKed, silent: freed
    assert reason(60.0, rx=3000, last_rx=59.9) is None  # a long call with media goes on
    assert reason(60.0, rx=3000, last_rx=60.0 - sip.rtp_timeout - 0.1) is EndReason.RTP_TIMEOUT
    assert sip.ack_timeout < 32 and sip.first_rtp_timeout < sip.rtp_timeout


def test_shipped_limits_and_numbers() -> None:
    sip = Settings().sip
    assert sip.mode == "direct" and sip.max_calls == 20
    assert 1 <= source_call_limit(sip) < sip.max_calls  # one address never takes every line
    assert source_call_limit(SipSettings(max_calls=1)) == 1
    # What the README, the tests and Kamailio's HOTLINE_NUMBER dial today is ours.
    assert is_our_number(sip, "12345") and is_our_number(sip, "12345;user=phone")
    assert is_our_number(SipSettings(username="hotline9"), "hotline9")  # register mode
    assert not any(is_our_number(sip, u) for u in ("100", "1000", "", "admin", "012345"))


def test_doctor_and_start_up_say_direct_mode_trusts_no_trunk() -> None:
    shipped = Settings()
    check = check_sip_trunk(shipped)
    assert not check.ok and not check.required
    assert "no trusted trunk" in check.detail and "HOTLINE_SIP__TRUSTED_SOURCES" in check.detail
    assert check.detail == untrusted_direct_warning(shipped.sip)  # the start-up log's words
    assert check_sip_trunk(Settings(sip={"trusted_sources": ["192.0.2.1"]})).ok
    assert check_sip_trunk(Settings(sip={"mode": "register"})).ok


def _long_call(ivr: IvrUnderTest, speech: bytes, tmp: Path, *, source: str, caller: str,
               hold: float) -> harness.Sipp:
    """A citizen who talks, stays on the line ``hold`` seconds, then hangs up."""
    script = CallerScript(tmp).say(speech, then_wait=hold)
    return ivr.caller(script, ending="bye", caller=caller, local_ip=source, timeout_s=60)


def _wait_answered(ivr: IvrUnderTest, timeout: float = 15.0) -> None:
    assert ivr.runtime is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c.answered_at for c in ivr.runtime.frontend.active_calls()):
            return
        time.sleep(0.05)
    raise AssertionError("the citizen's call was not answered")


def _wait_until(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _unanswered(target_port: int, source: str) -> bool:
    """An INVITE from ``source`` gets no answer at all within a second."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.settimeout(1.0)
    port = s.getsockname()[1]
    s.sendto((
        f"INVITE sip:12345@127.0.0.1:{target_port} SIP/2.0\r\n"
        f"Via: SIP/2.0/UDP {source}:{port};branch=z9hG4bKprobe{port}\r\n"
        f"From: <sip:100@{source}>;tag=p{port}\r\nTo: <sip:12345@127.0.0.1>\r\n"
        f"Call-ID: probe{port}@{source}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
        "Content-Length: 0\r\n\r\n").encode(), ("127.0.0.1", target_port))
    try:
        s.recv(4096)
        return False
    except TimeoutError:
        return True
    finally:
        s.close()


@pytest.mark.sip
def test_service_guard_drops_a_flood_while_a_call_goes_on(
        ivr_factory, korean_speech, tmp_path: Path) -> None:
    ivr = ivr_factory(engine=None, flood_burst=10, flood_rate_per_second=2,
                      flood_ban_seconds=60)
    fe = ivr.runtime.frontend
    answered0 = REGISTRY.get_sample_value("hotline_call_answer_seconds_count") or 0
    # A call in progress from the very address that floods next: the ban must not cut it.
    citizen = _long_call(ivr, korean_speech[PHRASES[0]], tmp_path / "c1", source=FLOODER,
                         caller="13800000001", hold=5.0).start()
    _wait_answered(ivr)
    assert REGISTRY.get_sample_value("hotline_calls_active", {"direction": "inbound"}) >= 1
    _wait_until(lambda: REGISTRY.get_sample_value("hotline_call_answer_seconds_count")
                == answered0 + 1)
    dropped0 = REGISTRY.get_sample_value("hotline_sip_flood_dropped_total") or 0

    invites = harness.sipp_flood("flood_invite.xml", tmp_path / "flood", target=ivr.target,
                                 source_ip=FLOODER, count=300, rate=300)
    registers = harness.sipp_flood("flood_register.xml", tmp_path / "flood", target=ivr.target,
                                   source_ip=SWEEPER, count=200, rate=200)
    assert invites.ok and registers.ok, invites.stdout[-1500:] + registers.stdout[-1500:]
    assert_ok(citizen.wait())  # its BYE, from the banned address, was still taken

    assert fe.flood.banned(FLOODER) and fe.flood.banned(SWEEPER)
    assert not fe.flood.banned(LATER_CITIZEN)
    # Each flooder got through with about its burst (plus the trickle the rate refills
    # while the flood lasts); everything else was dropped unanswered.
    assert fe.rejected.get(488, 0) <= 10 + 4  # scanner INVITEs without SDP that got in
    assert fe.flood.dropped >= (300 - 14) + (200 - 14)
    assert _unanswered(fe.local_port, FLOODER)
    assert (REGISTRY.get_sample_value("hotline_sip_flood_dropped_total") or 0) - dropped0 \
        == fe.flood.dropped

    # A citizen calling from another address right after is answered as usual.
    later = _long_call(ivr, korean_speech[PHRASES[1]], tmp_path / "c2", source=LATER_CITIZEN,
                       caller="13800000002", hold=0.5)
    assert_ok(later.run())
    records = ivr.wait_record(count=2)
    assert [r.caller for r in records] == ["13800000001", "13800000002"]
    assert all(r.outcome == CallOutcome.TICKET for r in records)
    assert all(ivr.ticket_of(r) is not None for r in records)


@pytest.mark.sip
def test_kamailio_pike_stops_a_flood_before_the_nodes_and_spares_the_call(
        ivr_factory, korean_speech, tmp_path: Path) -> None:
    # The node trusts Kamailio (every call comes from it): only pike stands in the way.
    ivr = ivr_factory(engine=None, trusted_sources=["127.0.0.1"])
    fe = ivr.runtime.frontend
    front = harness.FrontKamailio(tmp_path / "kamailio", nodes=[fe.local_port]).start()
    try:
        via_front = f"127.0.0.1:{front.port}"
        # In progress from the address that floods next: pike bans it, the call goes on.
        citizen = _long_call(ivr, korean_speech[PHRASES[0]], tmp_path / "c1", source=FLOODER,
                             caller="13800000011", hold=6.0)
        citizen.target = via_front
        citizen.start()
        _wait_answered(ivr)
        flood = harness.sipp_flood("flood_invite.xml", tmp_path / "flood", target=via_front,
                                   source_ip=FLOODER, count=400, rate=200)
        sweep = harness.sipp_flood("flood_register.xml", tmp_path / "flood", target=via_front,
                                   source_ip=SWEEPER, count=200, rate=200)
        assert flood.ok and sweep.ok, flood.stdout[-1500:]
        assert_ok(citizen.wait())  # its BYE, from the banned address, was still relayed

        log = front.log_text()
        assert f"pike: request flood from {FLOODER}" in log
        assert f"pike: request flood from {SWEEPER}" in log
        # pike lets about 30 requests per 2 s window through before the ban (36 seen here);
        # of the 400 scanner INVITEs the node saw no more than that (488: they have no SDP).
        assert fe.rejected.get(488, 0) <= 60
        assert _unanswered(front.port, FLOODER)

        # The carrier's SBC (CARRIER_NETS) sends a whole city's calls from one address: a
        # burst from it far past pike's limit is all passed on, and it is never banned.
        before = fe.rejected.get(488, 0)
        burst = harness.sipp_flood("flood_invite.xml", tmp_path / "flood", target=via_front,
                                   source_ip=CARRIER, count=100, rate=200)
        assert burst.ok
        # >= 100: Kamailio may retransmit an INVITE the node was slow to answer.
        _wait_until(lambda: fe.rejected.get(488, 0) - before >= 100)
        assert f"pike: request flood from {CARRIER}" not in front.log_text()

        later = _long_call(ivr, korean_speech[PHRASES[1]], tmp_path / "c2",
                           source=LATER_CITIZEN, caller="13800000012", hold=0.5)
        later.target = via_front
        assert_ok(later.run())
        records = ivr.wait_record(count=2)
        assert [r.outcome for r in records] == [CallOutcome.TICKET, CallOutcome.TICKET]
    finally:
        front.stop()


@pytest.mark.sip
def test_a_stream_of_malformed_sip_gets_a_few_400s_then_silence(
        ivr_factory, caplog: pytest.LogCaptureFixture) -> None:
    ivr = ivr_factory(engine=None, flood_burst=5, flood_rate_per_second=1)
    fe = ivr.runtime.frontend
    source = "127.0.0.68"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.settimeout(0.5)
    port = s.getsockname()[1]
    broken = (f"INVITE sip:12345@127.0.0.1:{fe.local_port} SIP/2.0\r\n"
              f"Via: SIP/2.0/UDP {source}:{port};branch=z9hG4bKjunk\r\n"
              f"From: <sip:x@{source}>;tag=j\r\nTo: <sip:12345@127.0.0.1>\r\n"
              "Call-ID: junk@x\r\nCSeq: one INVITE\r\nContent-Length: 0\r\n\r\n").encode()
    answers = 0
    with caplog.at_level(logging.WARNING, logger="telephony.sip"):
        for _ in range(200):  # bounded: 200 datagrams, then read what came back
            s.sendto(broken, ("127.0.0.1", fe.local_port))
        try:
            while True:
                answers += s.recv(4096).startswith(b"SIP/2.0 400")
        except TimeoutError:
            pass
    s.close()
    assert 1 <= answers <= 6  # the burst (and what the rate refilled meanwhile)
    # (some of the 200 may never reach us: the socket buffer overflows at this pace)
    assert fe._transport.garbage_dropped >= 100
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) <= 8, [r.getMessage() for r in warnings]
    assert any("SIP flood from 127.0.0.68" in r.getMessage() for r in warnings)
