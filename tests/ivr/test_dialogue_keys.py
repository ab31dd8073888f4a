"""A line that keeps keying in the preferences menu (1 保密 / 2 不要回访 / #), socket-free on
the dialogue's own state handlers (the scripted line of test_kb_confirm): after
MAX_PREFERENCE_KEYS keys the ticket is filed with the choices made so far, where before
the menu took keys for as long as they came and held the line."""

from __future__ import annotations

import pytest

from ivr.call_flow import MAX_PREFERENCE_KEYS, IvrServices, State
from tests.ivr import test_kb_confirm as scripted

services = scripted.services  # the fixture: shipped settings, both databases


@pytest.mark.parametrize("garbage", ["*", "A", "9", "1"])
def test_endless_keys_in_the_preferences_menu_file_the_ticket(
        services: IvrServices, garbage: str) -> None:
    keys = ["1", *[garbage] * 200]  # 1 confirms the read-back, then the menu
    d, line, path = scripted.converse(services, scripted.COMPLAINT, keys,
                                      frozenset({State.FILE}))
    assert path[-3:] == [State.CONFIRM, State.PREFERENCES, State.FILE]
    assert len(line.keys) == 200 - (MAX_PREFERENCE_KEYS + 1)
    assert d.intake.journal.confidential is (garbage == "1")


def test_choices_then_hash_file_at_once(services: IvrServices) -> None:
    d, line, path = scripted.converse(services, scripted.COMPLAINT, ["1", "2", "#", "9"],
                                      frozenset({State.FILE}))
    assert path[-2:] == [State.PREFERENCES, State.FILE] and line.keys == ["9"]
    assert d.intake.journal.no_contact
