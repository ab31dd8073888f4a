"""The leg we start for a caller (the operator bridge, the 110/119/120 hand-over) carries the
caller's INVITE's Max-Forwards less one, and none is started when that leaves nothing: a
call looping through us (a trunk routing our hand-over back to the hotline number, two
hotline nodes bridging to each other) then ends at the sip44 483 rule instead of taking a
line and a thread at each turn until all are gone. Before sip45 every leg began at 70.
Socket-free: a real front end (``tests.telephony.sipwire``) takes the caller's INVITE and
places the leg; the dialogue's fallback is the real one."""

from __future__ import annotations

import threading
from dataclasses import replace
from types import SimpleNamespace

import pytest

from ivr import call_flow
from ivr.call_flow import IvrServices, State
from ivr.transfer import TransferResult, bridge_to_operator
from telephony.call import CallHandle
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.message import SipMessage, build_response
from telephony.sip.transaction import MAX_FORWARDS
from tests.ivr.test_emergency_decline import FIRE, services  # noqa: F401 (fixture)
from tests.ivr.test_stop_emergency import _dialogue, _run
from tests.telephony.sipwire import PHONE, Clockwork, front_end, offer, request, ringing_call

OPERATOR = f"sip:operator@{PHONE[0]}:{PHONE[1]}"


def _caller(fe: SipFrontEnd, call_id: str, hops: int | None) -> CallHandle:
    return ringing_call(fe, request("INVITE", call_id=call_id, body=offer(),
                                    max_forwards=hops))


def _bridge_refused(fe: SipFrontEnd, wire: Clockwork, caller: CallHandle) -> str:
    """The leg's INVITE's Max-Forwards; the operator answers it 486 so that the bridge ends
    (REFUSED since review121: told apart from nobody answering)."""
    results: list[TransferResult] = []
    bridge = threading.Thread(target=lambda: results.append(bridge_to_operator(
        fe, caller, SimpleNamespace(forward=None), OPERATOR,  # type: ignore[arg-type]
        ring_timeout=3600)), daemon=True)
    bridge.start()
    invite = wire.first_sent("INVITE")
    fe._on_message(SipMessage(build_response(invite, 486, to_tag="op1"), PHONE))
    bridge.join(timeout=30)
    assert not bridge.is_alive() and results == [TransferResult.REFUSED]
    return invite.first("Max-Forwards")


@pytest.mark.parametrize(("hops", "onward"), [(5, "4"), (2, "1"), (70, "69"),
                                              # None: an RFC 2543 phone writes none
                                              (None, str(MAX_FORWARDS)),
                                              # more than we would ever start with
                                              (255, str(MAX_FORWARDS))])
def test_the_leg_for_a_caller_carries_the_callers_max_forwards_less_one(
        hops: int | None, onward: str) -> None:
    fe, wire = front_end()
    caller = _caller(fe, "hops", hops)
    assert _bridge_refused(fe, wire, caller) == onward


def test_a_caller_with_one_hop_left_gets_no_leg_started() -> None:
    fe, wire = front_end()
    caller = _caller(fe, "last-hop", 1)
    results: list[TransferResult] = []
    bridge = threading.Thread(target=lambda: results.append(bridge_to_operator(
        fe, caller, SimpleNamespace(forward=None), OPERATOR,  # type: ignore[arg-type]
        ring_timeout=3600)), daemon=True)
    bridge.start()
    bridge.join(timeout=10)  # (a leg that rang would ring past it: nobody answers here)
    assert "INVITE" not in wire.methods() and len(fe._calls) == 1  # no line taken
    assert results == [TransferResult.REFUSED]  # (a FAILED dial; its fallback: a callback)


def test_calls_the_service_starts_itself_keep_70() -> None:
    """A reminder or a survey call has no caller's INVITE behind it."""
    fe, wire = front_end()
    placed = threading.Thread(target=lambda: fe.call(OPERATOR, timeout=3600), daemon=True)
    placed.start()
    invite = wire.first_sent("INVITE")
    fe._on_message(SipMessage(build_response(invite, 486, to_tag="op1"), PHONE))
    placed.join(timeout=30)
    assert invite.first("Max-Forwards") == str(MAX_FORWARDS) == "70"


def _ringing_briefly(svc: IvrServices) -> IvrServices:
    """A leg placed (wrongly) rings out within a second: nobody answers here."""
    return replace(svc, settings=svc.settings.model_copy(update={
        "sip": svc.settings.sip.model_copy(update={"ring_timeout": 1.0})}))


@pytest.mark.parametrize("hops", [1, 2, 3])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # subject: the dialogue's path
def test_an_emergency_caller_with_few_hops_left_is_still_handed_over_with_a_full_count(
        services: IvrServices, monkeypatch: pytest.MonkeyPatch, hops: int) -> None:  # noqa: F811
    """review130: a caller arriving with 1..3 hops (an SBC and a proxy in front of us
    spending them, a device starting low) is put through to 119 on a leg of 70, as before
    sip45: carried, its leg carried 0 to 2 and died at our first or second hop (no leg
    at 1; a 483 from the carrier's proxies after it), and the caller was told to dial
    119 themselves. A loop through the hand-over stays bounded by the lines and by a
    dialogue per turn; a refused 119 is not bounded by anything."""
    fe, wire = front_end()
    monkeypatch.setattr(call_flow, "emergency_target",
                        lambda settings, number: (f"sip:{number}@{PHONE[0]}", "uri"))
    svc = _ringing_briefly(replace(services, frontend=fe))
    d, line = _dialogue(svc, FIRE, [], None)
    line.invite = request("INVITE", call_id="few-hops", body=offer(), max_forwards=hops)
    line.waits_ended = False
    path = _run(d, State.UNDERSTAND)
    assert path == [State.UNDERSTAND, State.EMERGENCY, State.DONE]  # rang out: nobody here
    leg = wire.first_sent("INVITE")
    assert leg.request_uri.startswith("sip:119@")
    assert leg.first("Max-Forwards") == str(MAX_FORWARDS)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_on_the_shipped_settings_a_one_hop_emergency_caller_is_handed_over_at_70(
        services: IvrServices, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """The case above on the shipped ring time: the 119 leg is refused (486) instead of
    ringing out, so the test does not wait the shipped ring."""
    fe, wire = front_end()
    monkeypatch.setattr(call_flow, "emergency_target",
                        lambda settings, number: (f"sip:{number}@{PHONE[0]}", "uri"))
    d, line = _dialogue(replace(services, frontend=fe), FIRE, [], None)
    line.invite = request("INVITE", call_id="few-hops-shipped", body=offer(), max_forwards=1)
    line.waits_ended = False
    path: list[State] = []
    ran = threading.Thread(target=lambda: path.extend(_run(d, State.UNDERSTAND)), daemon=True)
    ran.start()
    leg = wire.first_sent("INVITE")
    fe._on_message(SipMessage(build_response(leg, 486, to_tag="busy119"), PHONE))
    ran.join(timeout=60)
    assert path == [State.UNDERSTAND, State.EMERGENCY, State.DONE]
    assert leg.request_uri.startswith("sip:119@")
    assert leg.first("Max-Forwards") == str(MAX_FORWARDS)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_key_0_with_one_hop_left_leaves_a_callback_request(
        services: IvrServices) -> None:  # noqa: F811
    """Key 0: no operator leg can be started, so the caller's request is left for a
    callback, as when the operator does not answer."""
    fe, wire = front_end()
    settings = services.settings.model_copy(update={"sip": services.settings.sip.model_copy(
        update={"operator_uri": OPERATOR, "ring_timeout": 1.0})})
    svc = replace(services, settings=settings, frontend=fe)
    d, line = _dialogue(svc, "我家楼下的餐馆每天晚上油烟很大，窗户都不敢开", [], None)
    line.invite = request("INVITE", call_id="loop0", body=offer(), max_forwards=1)
    line.waits_ended = False
    assert d.handlers[State.OPERATOR]() in (State.CALLBACK, State.CALLBACK_NUMBER)
    assert line.played == [svc.prompts.pcm("transfer")]
    assert "INVITE" not in wire.methods()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_key_0_on_the_shipped_settings_leaves_a_callback_request(
        services: IvrServices) -> None:  # noqa: F811
    """The twin on the shipped settings (no duty operator configured, the shipped ring
    time): whatever the hops, key 0 leaves the caller's request for a callback."""
    fe, wire = front_end()
    svc = replace(services, frontend=fe)
    assert svc.settings.sip.operator_uri == ""
    d, line = _dialogue(svc, "我家楼下的餐馆每天晚上油烟很大，窗户都不敢开", [], None)
    line.invite = request("INVITE", call_id="loop0-shipped", body=offer(), max_forwards=1)
    line.waits_ended = False
    assert d.handlers[State.OPERATOR]() in (State.CALLBACK, State.CALLBACK_NUMBER)
    assert "INVITE" not in wire.methods()
