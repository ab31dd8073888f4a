"""The hops a leg for a caller carries, with Kamailio on both paths (review130): a SIPp
caller through Kamailio (which spends a hop) to our front end in register mode, whose
operator bridge's INVITE goes through Kamailio again (one more) to an operator registered
there; the emergency hand-over's leg starts at 70. sip45's socket-free tests drove the
dial path alone; here real proxies decrement."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from ivr.transfer import bridge_to_operator
from telephony.call import CallHandle
from telephony.sip.frontend import SipFrontEnd
from telephony.sip.message import SipMessage
from tests.support import harness
from tests.support.harness import Sipp, pause, render_scenario, uac_subs
from tests.support.sipkit import FrontEndFactory

pytestmark = pytest.mark.sip


@pytest.mark.parametrize(("sent", "emergency", "at_operator"), [
    (70, False, 67), (4, False, 1),
    # The 119 hand-over: a leg of 70 whatever the caller had left (before: none at all).
    (2, True, 69)])
def test_the_operator_leg_through_kamailio_carries_the_callers_hops(
        make_frontend: FrontEndFactory, kamailio: harness.Kamailio, sipp_dir: Path,
        sipps: list[Sipp], sent: int, emergency: bool, at_operator: int) -> None:
    operator = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    operator.bind((harness.LOOPBACK, 0))
    operator.settimeout(15)
    user = f"operator{uuid.uuid4().hex[:8]}"
    harness.register_contact(sipp_dir, kamailio, user, operator.getsockname()[1])
    got: list[SipMessage] = []
    fe_box: list[SipFrontEnd] = []

    def on_call(call: CallHandle) -> None:
        got.append(call.invite)  # type: ignore[arg-type]
        assert call.answer()
        bridge_to_operator(fe_box[0], call, SimpleNamespace(forward=None),  # type: ignore[arg-type]
                           user, ring_timeout=3, emergency=emergency)  # nobody answers: the leg is all we read
        call.hangup()

    fe = make_frontend(on_call, mode="register", kamailio=kamailio)
    fe_box.append(fe)
    scenario = render_scenario("uac_call.xml", sipp_dir, **uac_subs(
        caller="13800138000", media=pause(6000), ending="bye", media_port="[media_port]"))
    caller = Sipp(scenario, sipp_dir, target=f"127.0.0.1:{kamailio.port}",
                  service=fe.sip.username, timeout_s=30)
    sipps.append(caller)
    text = caller.scenario.read_text()
    at = text.index("INVITE sip:")  # (the rendered scenario has messages before it)
    caller.scenario.write_text(text[:at] + text[at:].replace(
        "Max-Forwards: 70", f"Max-Forwards: {sent}", 1))
    caller.start()
    data, _ = operator.recvfrom(65535)  # the bridge's INVITE, Kamailio's copy
    leg = SipMessage(data, None)
    operator.close()
    assert leg.method == "INVITE" and leg.request_uri.startswith(f"sip:{user}@")
    assert got[0].max_forwards == sent - 1  # Kamailio spent one
    assert leg.max_forwards == at_operator  # we one more, Kamailio one more
    caller.wait()
