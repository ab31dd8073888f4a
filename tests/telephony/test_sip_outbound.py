"""Outbound calls to a SIPp called party, through Kamailio and directly: answered with a
key, answered with none, busy, declined, no answer."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from telephony.call import CallState, EndReason, OutcomeKind
from telephony.sip.frontend import SipFrontEnd
from tests.support import harness
from tests.support.harness import Sipp, dtmf_pcap, render_scenario
from tests.support.sipkit import FrontEndFactory

pytestmark = pytest.mark.sip


@pytest.fixture(params=["kamailio", "direct"])
def route(request: pytest.FixtureRequest) -> str:
    return request.param


def dial(route: str, make_frontend: FrontEndFactory, request: pytest.FixtureRequest,
         sipp_dir: Path, sipps: list[Sipp], scenario: Path,
         ) -> tuple[SipFrontEnd, Sipp, str]:
    """Start the SIPp called party, and our phone; returns what to dial."""
    uas = Sipp(scenario, sipp_dir, timeout_s=20)
    sipps.append(uas)
    uas.start()
    if route == "kamailio":
        kamailio: harness.Kamailio = request.getfixturevalue("kamailio")
        user = f"handler{uuid.uuid4().hex[:8]}"
        harness.register_contact(sipp_dir, kamailio, user, uas.sip_port)
        fe = make_frontend(None, mode="register", kamailio=kamailio)
        return fe, uas, user
    fe = make_frontend(None, mode="direct")
    return fe, uas, f"sip:handler@127.0.0.1:{uas.sip_port}"


def uas_answer(sipp_dir: Path, digit: str | None) -> Path:
    play = (f'<nop><action><exec play_pcap_audio="{dtmf_pcap(digit)}"/></action></nop>'
            if digit else "")
    text = (harness.SCENARIOS / "uas_answer.xml").read_text().replace("<!--@PLAY@-->", play)
    path = sipp_dir / f"uas_answer-{uuid.uuid4().hex[:8]}.xml"
    path.write_text(text)
    return path


def test_answered_and_key_1_pressed(route: str, make_frontend: FrontEndFactory,
                                    request: pytest.FixtureRequest, sipp_dir: Path,
                                    sipps: list[Sipp]) -> None:
    fe, uas, target = dial(route, make_frontend, request, sipp_dir, sipps,
                           uas_answer(sipp_dir, "1"))
    outcome = fe.call(target, timeout=10)
    assert outcome.kind is OutcomeKind.ANSWERED, outcome
    call = outcome.call
    assert call is not None and call.state is CallState.ANSWERED
    assert call.get_dtmf(timeout=5) == "1"
    assert call.get_dtmf(timeout=0.5) is None  # end-packet retransmits were not extra keys
    call.hangup()
    assert call.end_reason is EndReason.LOCAL_HANGUP
    result = uas.wait()
    assert result.ok, result.stdout[-2000:] + result.errors[-2000:]


def test_answered_and_no_key(route: str, make_frontend: FrontEndFactory,
                             request: pytest.FixtureRequest, sipp_dir: Path,
                             sipps: list[Sipp]) -> None:
    fe, uas, target = dial(route, make_frontend, request, sipp_dir, sipps,
                           uas_answer(sipp_dir, None))
    outcome = fe.call(target, timeout=10)
    assert outcome.kind is OutcomeKind.ANSWERED, outcome
    assert outcome.call is not None
    assert outcome.call.get_dtmf(timeout=2) is None
    outcome.call.hangup()
    result = uas.wait()
    assert result.ok, result.stdout[-2000:] + result.errors[-2000:]


@pytest.mark.parametrize(("code", "reason", "kind"), [
    ("486", "Busy Here", OutcomeKind.BUSY),
    ("603", "Decline", OutcomeKind.DECLINED),
])
def test_refused(route: str, code: str, reason: str, kind: OutcomeKind,
                 make_frontend: FrontEndFactory, request: pytest.FixtureRequest,
                 sipp_dir: Path, sipps: list[Sipp]) -> None:
    scenario = render_scenario("uas_reject.xml", sipp_dir, CODE=code, REASON=reason)
    fe, uas, target = dial(route, make_frontend, request, sipp_dir, sipps, scenario)
    outcome = fe.call(target, timeout=10)
    assert outcome.kind is kind
    assert outcome.status == int(code)
    assert outcome.call is None
    result = uas.wait()  # it got our ACK
    assert result.ok, result.stdout[-2000:] + result.errors[-2000:]
    assert not fe.active_calls()


def test_no_answer(route: str, make_frontend: FrontEndFactory,
                   request: pytest.FixtureRequest, sipp_dir: Path, sipps: list[Sipp]) -> None:
    scenario = render_scenario("uas_noanswer.xml", sipp_dir)
    fe, uas, target = dial(route, make_frontend, request, sipp_dir, sipps, scenario)
    outcome = fe.call(target, timeout=1.5)
    assert outcome.kind is OutcomeKind.NO_ANSWER
    assert outcome.status in (487, None)
    result = uas.wait()  # it got CANCEL and the ACK for its 487
    assert result.ok, result.stdout[-2000:] + result.errors[-2000:]


def test_nobody_there_fails(make_frontend: FrontEndFactory) -> None:
    fe = make_frontend(None, mode="direct")
    outcome = fe.call(f"sip:nobody@127.0.0.1:{harness.free_port()}", timeout=1.0)
    assert outcome.kind is OutcomeKind.FAILED  # not even a 100 Trying came back
    assert outcome.call is None


def test_answered_by_a_200_naming_its_content_type_twice(
        route: str, make_frontend: FrontEndFactory, request: pytest.FixtureRequest,
        sipp_dir: Path, sipps: list[Sipp]) -> None:
    # A sloppy callee's (or B2BUA's) 200 OK with the same Content-Type row twice, relayed
    # as it is by Kamailio. Refused as a doubled header (sip42), the 200 was dropped, never
    # ACKed: the callee who answered heard silence and the call ended "no answer", to be
    # dialled again (review114).
    scenario = uas_answer(sipp_dir, "1")
    text = scenario.read_text()
    doubled = text.replace("Content-Type: application/sdp\n",
                           "Content-Type: application/sdp\nContent-Type: application/sdp\n", 1)
    assert doubled != text
    scenario.write_text(doubled)
    fe, uas, target = dial(route, make_frontend, request, sipp_dir, sipps, scenario)
    outcome = fe.call(target, timeout=10)
    assert outcome.kind is OutcomeKind.ANSWERED, outcome
    assert outcome.call is not None and outcome.call.get_dtmf(timeout=5) == "1"
    outcome.call.hangup()
    result = uas.wait()
    assert result.ok, result.stdout[-2000:] + result.errors[-2000:]
