"""Every allowed and every forbidden transition of the lifecycle table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.sweep import assert_every
from ticketing.states import (
    ASSIGNED_STATUSES,
    AWAITING_DISPATCH_STATUSES,
    FINISHED_STATUSES,
    NOT_OPEN_STATUSES,
    OPEN_STATUSES,
    SET_ASIDE_STATUSES,
    TRANSITIONS,
    Action,
    PermissionDenied,
    ReasonRequired,
    Role,
    Status,
    TransitionError,
    public_label,
    set_aside,
    transition_for,
)

EXPECTED_TARGET = {
    Action.ACCEPT: Status.ACCEPTED,
    Action.DISPATCH: Status.DISPATCHED,
    Action.SIGN: Status.SIGNED,
    Action.REPLY: Status.REPLIED,
    Action.CLOSE: Status.CLOSED,
    Action.SURVEY: Status.SURVEYED,
    Action.ARCHIVE: Status.ARCHIVED,
    Action.RETURN: Status.RETURNED,
    Action.EXCLUDE: Status.EXCLUDED,
    Action.REJECT: Status.DISPATCHED,
    Action.REASSIGN: Status.DISPATCHED,
    Action.ANSWER: Status.CLOSED,
    Action.SEND_BACK: Status.SIGNED,
    Action.REQUEST_EXCLUSION: Status.EXCLUSION_REQUESTED,
    Action.DENY_EXCLUSION: Status.SIGNED,
    Action.MERGE: Status.MERGED,
    # Nominal: 拆单 goes back to the state the ticket was merged from (test_merging.py).
    Action.UNMERGE: Status.ACCEPTED,
    Action.CLOSE_MERGED: Status.CLOSED,
    Action.REOPEN_MERGED: Status.MERGED,
}

ALLOWED_FROM = {
    Action.ACCEPT: {Status.DRAFT},
    Action.DISPATCH: {Status.ACCEPTED, Status.RETURNED},
    Action.SIGN: {Status.DISPATCHED},
    Action.REPLY: {Status.SIGNED},
    Action.CLOSE: {Status.REPLIED},
    Action.SURVEY: {Status.CLOSED},
    Action.ARCHIVE: {Status.SURVEYED, Status.EXCLUDED, Status.CLOSED},
    Action.RETURN: {Status.DISPATCHED, Status.SIGNED},
    Action.EXCLUDE: {Status.ACCEPTED, Status.DISPATCHED, Status.SIGNED, Status.REPLIED,
                     Status.RETURNED, Status.EXCLUSION_REQUESTED},
    Action.REJECT: {Status.CLOSED, Status.SURVEYED},
    Action.REASSIGN: {Status.ACCEPTED, Status.DISPATCHED, Status.SIGNED, Status.RETURNED},
    Action.ANSWER: {Status.DRAFT},
    Action.SEND_BACK: {Status.REPLIED},
    Action.REQUEST_EXCLUSION: {Status.SIGNED},
    Action.DENY_EXCLUSION: {Status.EXCLUSION_REQUESTED},
    # 并单: only an open ticket joins a group; only a merged one leaves it or is closed
    # with its primary.
    Action.MERGE: {Status.DRAFT, Status.ACCEPTED, Status.DISPATCHED, Status.SIGNED,
                   Status.REPLIED, Status.RETURNED, Status.EXCLUSION_REQUESTED},
    Action.UNMERGE: {Status.MERGED},
    Action.CLOSE_MERGED: {Status.MERGED},
    Action.REOPEN_MERGED: {Status.CLOSED},
}

PAIRS = [(s, a) for a in Action for s in Status]


def _role_for(action: Action) -> Role:
    roles = TRANSITIONS[action].roles
    if Role.ADMIN in roles:
        return Role.ADMIN
    return Role.SYSTEM if Role.SYSTEM in roles else Role.HANDLER


def _pair_goes_as_the_table_says(pair: tuple[Status, Action]) -> None:
    status, action = pair
    role = _role_for(action)
    if status in ALLOWED_FROM[action]:
        t = transition_for(status, action, role, "原因")
        assert t.target == EXPECTED_TARGET[action]
    else:
        with pytest.raises(TransitionError) as info:
            transition_for(status, action, role, "原因")
        # The message names the state and the action, in English and Chinese.
        assert status.value in str(info.value)
        assert action.value in str(info.value)


def test_every_pair() -> None:
    # One sweep of every (status, action) pair, each failing pair named (tests/support/sweep.py).
    assert_every(PAIRS, _pair_goes_as_the_table_says)


def test_table_matches_expectations() -> None:
    assert set(TRANSITIONS) == set(Action)
    for action, t in TRANSITIONS.items():
        assert set(t.sources) == ALLOWED_FROM[action]


@pytest.mark.parametrize("action", [Action.RETURN, Action.EXCLUDE, Action.REJECT,
                                    Action.SEND_BACK, Action.REQUEST_EXCLUSION,
                                    Action.DENY_EXCLUSION, Action.UNMERGE])
def test_reason_required(action: Action) -> None:
    source = next(iter(ALLOWED_FROM[action]))
    for blank in (None, "", "   "):
        with pytest.raises(ReasonRequired):
            transition_for(source, action, _role_for(action), blank)


@pytest.mark.parametrize(
    ("action", "role"),
    [
        (Action.EXCLUDE, Role.HANDLER),
        (Action.EXCLUDE, Role.OPERATOR),
        (Action.REJECT, Role.HANDLER),
        (Action.SIGN, Role.OPERATOR),
        (Action.CLOSE, Role.HANDLER),  # 核实: never one's own ticket
        (Action.SEND_BACK, Role.HANDLER),
        (Action.DENY_EXCLUSION, Role.HANDLER),
        (Action.REQUEST_EXCLUSION, Role.OPERATOR),
        (Action.ACCEPT, Role.HANDLER),
        (Action.REASSIGN, Role.HANDLER),
        (Action.MERGE, Role.HANDLER),  # a handler could hide a late ticket in a group
        (Action.UNMERGE, Role.HANDLER),
        (Action.CLOSE_MERGED, Role.OPERATOR),  # only with the primary's closure
        (Action.REOPEN_MERGED, Role.SUPERVISOR),  # only with the primary's redo
    ],
)
def test_role_not_allowed(action: Action, role: Role) -> None:
    source = next(iter(ALLOWED_FROM[action]))
    with pytest.raises(PermissionDenied):
        transition_for(source, action, role, "原因")


def test_status_groups() -> None:
    assert set(Status) == OPEN_STATUSES | NOT_OPEN_STATUSES
    assert not OPEN_STATUSES & NOT_OPEN_STATUSES
    assert FINISHED_STATUSES < NOT_OPEN_STATUSES
    assert ASSIGNED_STATUSES < OPEN_STATUSES and AWAITING_DISPATCH_STATUSES < OPEN_STATUSES
    # A ticket waiting for dispatch is exactly one a dispatch may start from.
    assert TRANSITIONS[Action.DISPATCH].sources == AWAITING_DISPATCH_STATUSES



def test_a_ticket_set_aside_is_told_as_its_own_state() -> None:
    """mend85: 剔除 (and archived after it) was told the citizen as 已办结. Every state has
    a public label; set aside is excluded, or archived without a closure -- ARCHIVE takes a
    ticket from a closure or from 剔除 alone, and 剔除 is left only for ARCHIVE (key 1
    dates a set-aside ticket by its one 剔除 event)."""
    told = {(s, closed): public_label(s, closed=closed) for s in Status
            for closed in (False, True)}
    assert set(told.values()) == {"已受理", "办理中", "已办结", "不予办理"}
    assert {s for s in Status if told[s, False] == "不予办理"} == SET_ASIDE_STATUSES
    assert {s for s in Status if set_aside(s, closed=False)} == SET_ASIDE_STATUSES
    assert not any(set_aside(s, closed=True) for s in Status)
    assert told[Status.ARCHIVED, True] == "已办结"
    assert TRANSITIONS[Action.ARCHIVE].sources == (
        FINISHED_STATUSES - {Status.ARCHIVED}) | {Status.EXCLUDED}
    assert TRANSITIONS[Action.ARCHIVE].target in SET_ASIDE_STATUSES
    assert {a for a, t in TRANSITIONS.items() if Status.EXCLUDED in t.sources} == {
        Action.ARCHIVE}


REPO = Path(__file__).resolve().parents[2]
_NAMES = "|".join(s.value for s in Status)
# Two statuses side by side in a tuple, list or set: a status group written out again.
_GROUP = re.compile(rf"Status\.[A-Z]+(?:\.value)?\s*,\s*Status\.[A-Z]+"
                    rf"|[\"'](?:{_NAMES})[\"']\s*,\s*[\"'](?:{_NAMES})[\"']")


def test_status_groups_are_defined_only_in_states() -> None:
    """"Open", "assigned", "finished" mean one thing: ticketing/states.py says which."""
    found = []
    for path in sorted(REPO.rglob("*.py")):
        rel = path.relative_to(REPO)
        if rel.parts[0] in {".venv", "tests"} or rel == Path("ticketing/states.py"):
            continue
        text = path.read_text(encoding="utf-8")
        found += [f"{rel}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}"
                  for m in _GROUP.finditer(text)]
    assert found == []
