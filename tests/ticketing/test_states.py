"""Every allowed and every forbidden transition of the lifecycle table."""

from __future__ import annotations

import pytest

from ticketing.states import (
    TRANSITIONS,
    Action,
    PermissionDenied,
    ReasonRequired,
    Role,
    Status,
    TransitionError,
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
}

ALLOWED_FROM = {
    Action.ACCEPT: {Status.DRAFT},
    Action.DISPATCH: {Status.ACCEPTED, Status.RETURNED},
    Action.SIGN: {Status.DISPATCHED},
    Action.REPLY: {Status.SIGNED},
    Action.CLOSE: {Status.REPLIED},
    Action.SURVEY: {Status.CLOSED},
    Action.ARCHIVE: {Status.SURVEYED, Status.EXCLUDED},
    Action.RETURN: {Status.DISPATCHED, Status.SIGNED},
    Action.EXCLUDE: {Status.ACCEPTED, Status.DISPATCHED, Status.SIGNED, Status.REPLIED,
                     Status.RETURNED},
    Action.REJECT: {Status.CLOSED, Status.SURVEYED},
    Action.REASSIGN: {Status.ACCEPTED, Status.DISPATCHED, Status.SIGNED, Status.RETURNED},
}

PAIRS = [(s, a) for a in Action for s in Status]


def _role_for(action: Action) -> Role:
    return Role.ADMIN if Role.ADMIN in TRANSITIONS[action].roles else Role.SYSTEM


@pytest.mark.parametrize(("status", "action"), PAIRS, ids=[f"{s}-{a}" for s, a in PAIRS])
def test_every_pair(status: Status, action: Action) -> None:
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


def test_table_matches_expectations() -> None:
    assert set(TRANSITIONS) == set(Action)
    for action, t in TRANSITIONS.items():
        assert set(t.sources) == ALLOWED_FROM[action]


@pytest.mark.parametrize("action", [Action.RETURN, Action.EXCLUDE, Action.REJECT])
def test_reason_required(action: Action) -> None:
    source = next(iter(ALLOWED_FROM[action]))
    for blank in (None, "", "   "):
        with pytest.raises(ReasonRequired):
            transition_for(source, action, Role.ADMIN, blank)


@pytest.mark.parametrize(
    ("action", "role"),
    [
        (Action.EXCLUDE, Role.HANDLER),
        (Action.EXCLUDE, Role.OPERATOR),
        (Action.REJECT, Role.HANDLER),
        (Action.SIGN, Role.OPERATOR),
        (Action.CLOSE, Role.OPERATOR),
        (Action.ACCEPT, Role.HANDLER),
        (Action.REASSIGN, Role.HANDLER),
    ],
)
def test_role_not_allowed(action: Action, role: Role) -> None:
    source = next(iter(ALLOWED_FROM[action]))
    with pytest.raises(PermissionDenied):
        transition_for(source, action, role, "原因")
