"""A caller who holds the call (a hold key, a mobile phone's call waiting: re-INVITE
a=sendonly) at a turn other than the recording, socket-free on the dialogue's own state
handlers (``tests/ivr/test_kb_confirm.py``'s scripted line, ``converse``). Every turn that
waits for the caller follows one rule (``Dialogue._missed``): while they hold, it waits
(up to ``MAX_HOLD_SECONDS`` a call); a prompt they held through is said again once they are
back, a key wait starts again. Before, only the recording turn waited: a caller holding at
the read-back was timed out twice at the confirmation, the ticket filed as it was and its
number read to nobody; one holding at the menu lost their choice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import select

import telephony.call
from ivr.call_flow import IvrServices, State
from telephony.call import PlayResult
from tests.ivr import test_kb_confirm as scripted
from ticketing.models import Ticket

# The fixture (tests/ivr/conftest.py ``services``): shipped settings; SQLite alone (the
# subject is the dialogue, not storage).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
HOLD_SECONDS = 0.4  # how long the scripted caller is away


class HoldingLine(scripted.ScriptedLine):
    """A caller who puts the call on hold as the prompt ``holds_at`` picks starts to play
    (heard by nobody) and comes back ``away`` seconds later; while held, no key comes.
    ``heard``: the prompts played while the caller was there."""

    def __init__(self, keys: list[str], holds_at: Callable[[bytes], bool],
                 away: float | None = HOLD_SECONDS) -> None:
        super().__init__(keys)
        self.holds_at = holds_at
        self.away = away
        self.heard: list[bytes] = []
        self.held_once = False

    def play_pcm16(self, pcm16: bytes, *, interrupt_on_dtmf: bool = False,
                   last: bool = False) -> PlayResult:
        self.played.append(pcm16)
        if not self.held_once and self.holds_at(pcm16):
            self.held_once = True
            self.held = True
            self.holds += 1
            if self.away is not None:
                threading.Timer(self.away, self._back).start()
        if not self.held:
            self.heard.append(pcm16)
        return PlayResult.COMPLETED

    def _back(self) -> None:
        self.held = False

    def get_dtmf(self, timeout: float | None = 0.0) -> str | None:
        if self.held:  # away: nothing pressed, the wait runs out (shortened here)
            time.sleep(min(timeout or 0.0, 0.05))
            return None
        return super().get_dtmf(timeout)


def _ticket(services: IvrServices, number: str) -> Ticket:
    with services.sessions() as s:
        return s.scalars(select(Ticket).where(Ticket.number == number)).one()


def test_a_caller_holding_at_the_read_back_hears_it_again_and_confirms(
        services: IvrServices) -> None:
    confirm = services.prompts.pcm("confirm")
    line = HoldingLine(["1", "#"], holds_at=lambda pcm: pcm.endswith(confirm))
    d, line, path = scripted.converse(services, scripted.COMPLAINT, [],
                                      frozenset({State.GOODBYE, State.HANGUP}), line=line)
    readbacks = [p for p in line.played if p.endswith(confirm)]
    assert len(readbacks) == 2, "the read-back held through was not said again"
    assert readbacks[1] in line.heard
    # Confirmed with 1 once back, not timed out twice and filed unconfirmed.
    assert State.PREFERENCES in path
    assert d.intake.journal.confirm_asks == 0
    assert d.filed is not None


def test_a_caller_holding_at_the_menu_keeps_their_choice(services: IvrServices) -> None:
    menu = services.prompts.pcm("preferences")
    line = HoldingLine(["1", "1", "#"], holds_at=lambda pcm: pcm == menu)
    d, line, _ = scripted.converse(services, scripted.COMPLAINT, [],
                                      frozenset({State.GOODBYE, State.HANGUP}), line=line)
    assert line.played.count(menu) == 2 and menu in line.heard
    assert d.filed is not None
    assert _ticket(services, d.filed.number).confidential  # key 1 of the menu, once back


def test_the_ticket_number_read_while_held_is_read_again(services: IvrServices) -> None:
    told = services.prompts.pcm("ticket_number")
    line = HoldingLine(["1", "#"], holds_at=lambda pcm: pcm.startswith(told))
    d, line, _ = scripted.converse(services, scripted.COMPLAINT, [],
                                      frozenset({State.GOODBYE, State.HANGUP}), line=line)
    assert d.filed is not None
    number = services.prompts.number(d.filed.number)
    assert [number in p for p in line.played].count(True) == 2
    assert any(number in p for p in line.heard), "the ticket number was read to nobody"


def test_a_line_held_for_good_is_still_freed(services: IvrServices,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Bounded: past MAX_HOLD_SECONDS the turns' own limits run as before (here the
    confirmation times out twice and the complaint is filed as it is)."""
    monkeypatch.setattr(telephony.call, "MAX_HOLD_SECONDS", 0.3)
    confirm = services.prompts.pcm("confirm")
    line = HoldingLine(["1"], holds_at=lambda pcm: pcm.endswith(confirm), away=None)
    d, line, path = scripted.converse(services, scripted.COMPLAINT, [],
                                      frozenset({State.GOODBYE, State.HANGUP}), line=line)
    assert State.PREFERENCES not in path and d.filed is not None
    assert d.hold.held_seconds <= 0.3 + 0.1
