"""The console's buttons, role by state: exactly the console's actions the service would
take (``ticketing.states.transition_for`` and, for 剔除, ``Actor.decides_exclusions``),
no button that a post would have refused and no refusal missing its button. A table
over every role, every state and a centre's and a district's supervisor."""

from __future__ import annotations

import pytest

from hotline.console.present import available_actions
from hotline.console.views import CONSOLE_ACTIONS
from ticketing.actors import Actor
from ticketing.states import (
    Action,
    PermissionDenied,
    Role,
    Status,
    TransitionError,
    transition_for,
)

ACTORS = [Actor(id=1, name=f"{role}-{unit}", role=role, unit_code=unit)
          for role in Role for unit in ("bj", "cy-housing")]


def _service_takes(status: Status, action: Action, actor: Actor) -> bool:
    try:
        transition_for(status, action, actor.role, "原因")
    except (PermissionDenied, TransitionError):
        return False
    return action is not Action.EXCLUDE or actor.decides_exclusions


@pytest.mark.parametrize("actor", ACTORS, ids=lambda a: a.name)
def test_every_state_offers_exactly_what_the_service_takes(actor: Actor) -> None:
    for status in Status:
        offered = set(available_actions(status.value, actor))
        taken = {a for a in CONSOLE_ACTIONS.values() if _service_takes(status, a, actor)}
        assert offered == taken, (actor.name, status.value)


def test_the_table_offers_something() -> None:
    # Not a table of empty sets: the handler signs a dispatched ticket, the centre's
    # supervisor may 剔除 what a handler asked to, a district's may not.
    handler, centre, district = (Actor(id=1, name="h", role=Role.HANDLER),
                                 Actor(id=2, name="s", role=Role.SUPERVISOR, unit_code="bj"),
                                 Actor(id=3, name="d", role=Role.SUPERVISOR,
                                       unit_code="cy-housing"))
    assert Action.SIGN in available_actions(Status.DISPATCHED.value, handler)
    assert Action.EXCLUDE in available_actions(Status.EXCLUSION_REQUESTED.value, centre)
    excl = available_actions(Status.EXCLUSION_REQUESTED.value, district)
    assert Action.EXCLUDE not in excl and Action.DENY_EXCLUSION in excl
