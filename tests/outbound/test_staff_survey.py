"""No satisfaction survey (回访) is placed to a staff member's number (ticketing.staff_phones):
a unit that files easy tickets from its handlers' phones cannot answer "resolved,
satisfied" for itself. The ticket is marked 不参与回访 with the reason, once per closure.
On SQLite and PostgreSQL with the demo city (water-handler's phone is 13900000030)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, sessionmaker

from outbound import planner
from outbound.models import Kind
from outbound.planner import plan
from tests.outbound.support import close_ticket, events, new_ticket, tasks
from tests.support.city import City
from ticketing import merging, service, staff_phones
from ticketing.context import Domain
from ticketing.db import transaction
from ticketing.directory import add_user, disable_user, enable_user
from ticketing.models import Ticket, User
from ticketing.staff_phones import NOT_SURVEYED_EVENT, NOT_SURVEYED_NOTE, mark_not_surveyed
from ticketing.states import Role, Status


def _loaded(s: Session, number: str) -> Ticket:
    # (by number in the session itself: SQLite's one writer holds the lock from BEGIN)
    return s.scalars(select(Ticket).where(Ticket.number == number)).one()


def _planned(sessions: sessionmaker[Session], domain: Domain) -> None:
    with transaction(sessions) as s:
        plan(session=s, domain=domain, now=domain.now())


def test_no_survey_is_placed_to_a_handlers_own_phone(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """The water company's handler files from their own phone (spelt "+86 139 0000 0030")
    about their own unit; closed. Before: a survey call was planned to that phone and its
    answer counted in bj-water's 满意率. Now none is planned, the ticket says why, once
    however often the planner runs; a citizen's ticket closed beside it is surveyed."""
    own = new_ticket(ob_sessions, ob_domain, ob_city, phone="+86 139 0000 0030")
    citizen = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811112222")
    for number in (own, citizen):
        close_ticket(ob_sessions, ob_domain, ob_city, number)
    _planned(ob_sessions, ob_domain)
    _planned(ob_sessions, ob_domain)
    assert tasks(ob_sessions, own, Kind.SURVEY_CALL.value) == []
    assert len(tasks(ob_sessions, citizen, Kind.SURVEY_CALL.value)) == 1
    marks = [e for e in events(ob_sessions, own) if e.action == NOT_SURVEYED_EVENT]
    assert [(m.note, m.data, m.actor_name) for m in marks] == [
        (NOT_SURVEYED_NOTE, {"round": 0}, "survey")]
    assert not [e for e in events(ob_sessions, citizen) if e.action == NOT_SURVEYED_EVENT]


def test_a_number_entered_as_staff_after_the_closure_is_not_surveyed(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """Closed and its survey planned; then its number is entered in the directory (a new
    handler's, written 0086…): the planned call finds nobody to ask when it comes due
    (outbound.survey reads merging.survey_phone at the claim), and the ticket is marked."""
    number = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811117777")
    close_ticket(ob_sessions, ob_domain, ob_city, number)
    _planned(ob_sessions, ob_domain)
    assert len(tasks(ob_sessions, number, Kind.SURVEY_CALL.value)) == 1
    with transaction(ob_sessions) as s:
        add_user(session=s, username="new-handler", display_name="新承办人",
                 role=Role.HANDLER, unit_code="bj-water", phone="0086 138 1111 7777")
    _planned(ob_sessions, ob_domain)
    with ob_sessions() as s:
        assert merging.survey_phone(session=s,
                                    ticket=_loaded(s, number)) is None
    assert [e.action for e in events(ob_sessions, number)].count(NOT_SURVEYED_EVENT) == 1


def test_a_redo_is_marked_again_and_a_citizen_in_the_group_is_surveyed(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """A staff ticket redone (驳回重办) and closed again is marked for its new closure too.
    A citizen's ticket merged into a staff-filed primary is not silenced by it: the
    group's survey goes to the citizen (a unit cannot bury a complaint in its own
    ticket's group)."""
    own = new_ticket(ob_sessions, ob_domain, ob_city, phone="13900000030")
    close_ticket(ob_sessions, ob_domain, ob_city, own)
    _planned(ob_sessions, ob_domain)
    supervisor = ob_city.actor("supervisor")
    with transaction(ob_sessions) as s:
        service.reject_redo(session=s, domain=ob_domain,
                            ticket=_loaded(s, own), actor=supervisor,
                            reason="再核一下")
    citizen = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811118888")
    operator = ob_city.actor("operator")
    with transaction(ob_sessions) as s:
        merging.merge(session=s, domain=ob_domain, primary=_loaded(s, own),
                      others=[_loaded(s, citizen)], actor=operator)
    close_ticket(ob_sessions, ob_domain, ob_city, own)
    _planned(ob_sessions, ob_domain)
    assert [e.action for e in events(ob_sessions, own)].count(NOT_SURVEYED_EVENT) == 1
    assert [t.round for t in tasks(ob_sessions, own, Kind.SURVEY_CALL.value)] == [1]
    with ob_sessions() as s:
        assert merging.survey_phone(session=s, ticket=_loaded(s, own)) == \
            "+8613811118888"


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_planners_at_once_mark_a_staff_ticket_once(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """PostgreSQL: two nodes' planners plan at once; both read the staff ticket unmarked.
    Before: both marked it (不参与回访 twice on the ticket). Now the second leaves it to
    the first; a later tick of either, after the first committed, marks nothing more.
    (SQLite's writers take turns from BEGIN: the second would read the first's mark.)"""
    own = new_ticket(ob_sessions, ob_domain, ob_city, phone="13900000030")
    close_ticket(ob_sessions, ob_domain, ob_city, own)
    # The planner's marking step of each (its whole plan would wait at the first task
    # the other inserted, in this one thread).
    candidates = and_(Ticket.status == Status.CLOSED.value, merging.kept_from_survey_as_staff())
    with ob_sessions() as first, ob_sessions() as second:
        assert mark_not_surveyed(session=first, candidates=candidates, now=ob_domain.now()) == 1
        first.flush()
        assert mark_not_surveyed(session=second, candidates=candidates, now=ob_domain.now()) == 0
        second.commit()
        first.commit()
    _planned(ob_sessions, ob_domain)
    assert [e.action for e in events(ob_sessions, own)].count(NOT_SURVEYED_EVENT) == 1


def _unchecked(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        version = staff_phones.directory_version(s)
        return len(s.scalars(select(Ticket.id).where(
            Ticket.status == Status.CLOSED.value, staff_phones.unchecked(version))).all())


def test_the_planner_decides_each_closure_once_until_the_directory_moves(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """loose27: each tick asked every closed, unanswered ticket of all history whether its
    number is a staff one. Now a closure is decided once, in batches, and remembered with
    the directory's version; entering a number (here a new handler's, after the closures
    were decided and their surveys planned) bumps it, so every closure is looked at again
    once and the one filed from that number is marked 不参与回访."""
    monkeypatch.setattr(planner, "SURVEY_CHECKS_PER_TICK", 2)
    numbers = [new_ticket(ob_sessions, ob_domain, ob_city, phone=f"1381111{n:04d}")
               for n in range(4)] + [new_ticket(ob_sessions, ob_domain, ob_city,
                                                phone="13811110009", no_contact=True)]
    for number in numbers:
        close_ticket(ob_sessions, ob_domain, ob_city, number)
    assert _unchecked(ob_sessions) == 5
    for left in (3, 1, 0, 0):  # two a tick
        _planned(ob_sessions, ob_domain)
        assert _unchecked(ob_sessions) == left
    assert all(len(tasks(ob_sessions, n, Kind.SURVEY_CALL.value)) == 1 for n in numbers[:4])
    with transaction(ob_sessions) as s:
        add_user(session=s, username="late-handler", display_name="后登记承办人",
                 role=Role.HANDLER, unit_code="bj-water", phone="13811110002")
    assert _unchecked(ob_sessions) == 5  # a number entered: every closure again, once
    for _ in range(3):
        _planned(ob_sessions, ob_domain)
    assert _unchecked(ob_sessions) == 0
    marked = [n for n in numbers if NOT_SURVEYED_EVENT in
              [e.action for e in events(ob_sessions, n)]]
    assert marked == [numbers[2]]


def test_new_closures_are_decided_before_the_history_a_bump_reopens(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """review55: after a version bump every closed, unanswered ticket of history was
    decided again oldest first, a batch a tick, ahead of the day's new closures (whose
    surveys waited behind it). A closure never decided goes first."""
    monkeypatch.setattr(planner, "SURVEY_CHECKS_PER_TICK", 1)
    old = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811110010")
    close_ticket(ob_sessions, ob_domain, ob_city, old)
    _planned(ob_sessions, ob_domain)
    with transaction(ob_sessions) as s:
        add_user(session=s, username="late-handler", display_name="后登记承办人",
                 role=Role.HANDLER, unit_code="bj-water", phone="13811110019")
    new = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811110011")
    close_ticket(ob_sessions, ob_domain, ob_city, new)
    _planned(ob_sessions, ob_domain)
    assert len(tasks(ob_sessions, new, Kind.SURVEY_CALL.value)) == 1
    assert _unchecked(ob_sessions) == 1  # the history's turn comes next
    _planned(ob_sessions, ob_domain)
    assert _unchecked(ob_sessions) == 0


def test_disabling_and_enabling_an_account_reopen_no_closure(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """review55: disabling or enabling an account bumped the directory's version, so every
    closure of history was decided again, although neither changes a filed ticket's
    standing (a re-disable keeps the cut-off, enabling keeps the citizen span)."""
    number = new_ticket(ob_sessions, ob_domain, ob_city, phone="13811110012")
    close_ticket(ob_sessions, ob_domain, ob_city, number)
    _planned(ob_sessions, ob_domain)
    assert _unchecked(ob_sessions) == 0
    _account(ob_sessions, ob_city, "disable", days=0)
    assert _unchecked(ob_sessions) == 0
    _account(ob_sessions, ob_city, "enable")
    assert _unchecked(ob_sessions) == 0


def test_a_disabled_accounts_number_is_staff_for_the_tickets_filed_until_its_staff_until(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """loose27: a disabled account's number stayed a staff number for good: a handler who
    left the hotline could never be surveyed as a citizen. Now it is staff for the tickets
    filed while the account was active and ``verification.staff_number_days`` after it was
    disabled (here 0: at once); an answer given while it was staff stays out of the
    figures; a ticket filed after is a citizen's, surveyed."""
    before = new_ticket(ob_sessions, ob_domain, ob_city, phone="13900000030")
    close_ticket(ob_sessions, ob_domain, ob_city, before)
    admin = ob_city.actor("admin")  # before our session: SQLite has one writer
    with transaction(ob_sessions) as s:
        handler = s.scalars(select(User).where(User.username == "water-handler")).one()
        disable_user(session=s, user=handler, actor=admin,
                     staff_number_days=0)
    after = new_ticket(ob_sessions, ob_domain, ob_city, phone="13900000030")
    close_ticket(ob_sessions, ob_domain, ob_city, after)
    _planned(ob_sessions, ob_domain)
    assert tasks(ob_sessions, before, Kind.SURVEY_CALL.value) == []
    assert NOT_SURVEYED_EVENT in [e.action for e in events(ob_sessions, before)]
    assert len(tasks(ob_sessions, after, Kind.SURVEY_CALL.value)) == 1
    with ob_sessions() as s:
        counted = set(s.scalars(select(Ticket.number).where(merging.answer_counted())))
        assert after in counted and before not in counted


def _account(sessions: sessionmaker[Session], city: City, change: str,
             days: float = 0) -> None:
    admin = city.actor("admin")  # before our session: SQLite has one writer
    with transaction(sessions) as s:
        handler = s.scalars(select(User).where(User.username == "water-handler")).one()
        if change == "disable":
            disable_user(session=s, user=handler, actor=admin, staff_number_days=days)
        else:
            enable_user(session=s, user=handler, actor=admin)


def _citizens(sessions: sessionmaker[Session], domain: Domain, *numbers: str) -> None:
    """Each ticket is surveyed as a citizen's and its answer would count."""
    _planned(sessions, domain)
    for number in numbers:
        assert len(tasks(sessions, number, Kind.SURVEY_CALL.value)) == 1
        assert NOT_SURVEYED_EVENT not in [e.action for e in events(sessions, number)]
    with sessions() as s:
        counted = set(s.scalars(select(Ticket.number).where(merging.answer_counted())))
        assert set(numbers) <= counted


def test_disabling_a_disabled_account_again_keeps_its_first_cut_off(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """review55: disabling an already disabled account set ``staff_until`` again (now +
    the setting), so a citizen's ticket filed after the first cut-off became a staff
    ticket and its answer left the figures. The first cut-off stands."""
    _account(ob_sessions, ob_city, "disable", days=0)
    after = new_ticket(ob_sessions, ob_domain, ob_city, phone="13900000030")
    close_ticket(ob_sessions, ob_domain, ob_city, after)
    _account(ob_sessions, ob_city, "disable", days=365)
    _citizens(ob_sessions, ob_domain, after)


def test_enabling_an_account_does_not_reach_back_over_tickets_filed_while_disabled(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """review55: enabling cleared ``staff_until``, so the number became staff for the
    tickets filed after the cut-off, citizens' until then. Those stay citizens' (a
    ``StaffGap``), across a second disabling too; a ticket filed after the enabling is a
    staff ticket."""
    _account(ob_sessions, ob_city, "disable", days=0)
    between = new_ticket(ob_sessions, ob_domain, ob_city, phone="13900000030")
    close_ticket(ob_sessions, ob_domain, ob_city, between)
    _account(ob_sessions, ob_city, "enable")
    _citizens(ob_sessions, ob_domain, between)
    staff = new_ticket(ob_sessions, ob_domain, ob_city, phone="13900000030")
    close_ticket(ob_sessions, ob_domain, ob_city, staff)
    _account(ob_sessions, ob_city, "disable", days=365)
    _citizens(ob_sessions, ob_domain, between)
    assert tasks(ob_sessions, staff, Kind.SURVEY_CALL.value) == []


def test_an_account_disabled_with_the_shipped_setting_stays_staff_for_a_year(
        ob_sessions: sessionmaker[Session], ob_domain: Domain, ob_city: City) -> None:
    """As shipped (365 days), and for an account disabled before the twenty-fifth round
    (no ``staff_until``: staff for good), a ticket filed after the disabling is still
    kept from the survey."""
    assert ob_domain.settings.verification.staff_number_days == 365
    admin = ob_city.actor("admin")  # before our session: SQLite has one writer
    with transaction(ob_sessions) as s:
        handler = s.scalars(select(User).where(User.username == "water-handler")).one()
        disable_user(session=s, user=handler, actor=admin,
                     staff_number_days=ob_domain.settings.verification.staff_number_days)
        assert handler.staff_until is not None
        assert handler.staff_until > ob_domain.now() + timedelta(days=364)
    after = new_ticket(ob_sessions, ob_domain, ob_city, phone="13900000030")
    close_ticket(ob_sessions, ob_domain, ob_city, after)
    with transaction(ob_sessions) as s:
        s.execute(update(User).where(User.username == "water-handler")
                  .values(staff_until=None))  # disabled before staff_until was kept
    _planned(ob_sessions, ob_domain)
    assert tasks(ob_sessions, after, Kind.SURVEY_CALL.value) == []
