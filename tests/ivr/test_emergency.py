"""三号联动, decided at function level with the shipped settings and classification rules:
an emergency goes straight to the hand-over, a complaint is read back as before."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.settings import Settings, SipSettings
from ivr import prompts as P
from ivr.call_flow import TRANSITIONS, State, after_understanding, emergency_target
from ticketing.context import Domain

FIRE = "我们楼道里着火了，浓烟很大，快来人啊"
WATER = "朝阳区望京西园三区5号楼停水一天了"


@pytest.fixture
def domain(tmp_path: Path) -> Domain:
    # data_dir of its own: no trained model from a developer's var/ changes the answer.
    return Domain.load(Settings(data_dir=tmp_path))


def test_fire_goes_to_the_hand_over_without_confirmation(domain: Domain) -> None:
    understood = domain.understand(FIRE)
    assert understood.emergency == "119"
    assert after_understanding(understood, ask_again=False) is State.EMERGENCY
    # Unsure words are not asked again when they describe an emergency.
    assert after_understanding(understood, ask_again=True) is State.EMERGENCY
    assert State.EMERGENCY in TRANSITIONS[State.UNDERSTAND]
    assert State.CONFIRM not in TRANSITIONS[State.EMERGENCY]


def test_a_complaint_is_read_back_as_before(domain: Domain) -> None:
    understood = domain.understand(WATER)
    assert understood.emergency == "none"
    assert after_understanding(understood, ask_again=False) is State.READBACK
    assert after_understanding(understood, ask_again=True) is State.ASK_AGAIN
    assert after_understanding(None, ask_again=False) is State.READBACK


def test_hand_over_target_is_the_service_line_then_the_duty_operator() -> None:
    shipped = Settings()
    assert shipped.ivr.emergency_uris == {"110": "", "119": "", "120": ""}
    assert emergency_target(shipped, "119") == ("", "none")
    with_operator = Settings(sip=SipSettings(operator_uri="sip:duty@10.0.0.5"))
    assert emergency_target(with_operator, "119") == ("sip:duty@10.0.0.5", "operator")
    with_fire_line = Settings(sip=SipSettings(operator_uri="sip:duty@10.0.0.5"),
                              ivr={"emergency_uris": {"119": "sip:119@10.0.0.9"}})
    assert emergency_target(with_fire_line, "119") == ("sip:119@10.0.0.9", "uri")
    assert emergency_target(with_fire_line, "120") == ("sip:duty@10.0.0.5", "operator")


def test_emergency_prompts_are_in_the_catalogue_and_read_digit_by_digit() -> None:
    assert P.text("emergency_transfer_119") == "您反映的情况紧急，正在为您转接119，请不要挂机。"
    assert "拨打110" in P.text("emergency_failed_110")
    assert P.speakable(P.text("emergency_transfer_120")).count("幺二零") == 1
    # Only the whole number: 1190 or a deadline's 120 inside a longer number stay as they are.
    assert P.speakable("1190") == "1190"
    assert P.speakable("拨打12345") == "拨打幺二三四五"
