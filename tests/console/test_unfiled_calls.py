"""The calls that filed nothing (``no_speech``: a fax machine's tones, no speech) and kept
their recording: listed in the console (time, masked caller, length, why, a player) for
whoever may hear them, under the one rule of every recording route
(``hotline.console.recordings.may_hear``). Before (loose28) only an administrator on the
server could find them, by the path on the call record."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config import Settings
from hotline.console import recordings as recording_rules
from ivr.callrecords import CallOutcome, CallRecord
from tests.console.seed import call_ticket, write_wav
from ticketing.context import Domain
from ticketing.models import Ticket

Users = Callable[[str], TestClient]
FAX_CALLER = "13722223333"


def fax_call(sessions: sessionmaker[Session], domain: Domain,
             recordings: Path) -> tuple[int, bytes]:
    """A call the IVR ended ``no_speech``, its recording kept; its id and the file."""
    wav = recordings / "2026" / "fax-1.wav"
    sha = write_wav(wav, seconds=2.0)
    now = domain.now()
    with sessions() as s:
        rec = CallRecord(call_id="fax-1", carrier="sip", caller=FAX_CALLER, callee="12345",
                         arrived_at=now - timedelta(minutes=2), answered_at=now,
                         ended_at=now, outcome=CallOutcome.NO_SPEECH.value,
                         recording_path=str(wav), recording_sha256=sha,
                         recording_seconds=2.0)
        s.add(rec)
        s.commit()
        return rec.id, wav.read_bytes()


def call_of(sessions: sessionmaker[Session], number: str) -> int:
    with sessions() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        return s.scalars(select(CallRecord.id).where(CallRecord.ticket_id == ticket.id)).one()


def test_operators_and_administrators_find_and_hear_the_calls_that_filed_nothing(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain,
        settings: Settings) -> None:
    rid, audio = fax_call(sessions, domain, settings.recordings_dir)
    number = call_ticket(sessions, domain, settings.recordings_dir)  # a call that filed one
    filed = call_of(sessions, number)
    for user in ("operator", "admin"):
        h = as_user(user)
        page = h.get("/console/calls/unfiled")
        assert page.status_code == 200, page.text
        assert "137****3333" in page.text and FAX_CALLER not in page.text  # masked
        assert "传真" in page.text and "2.0 秒" in page.text
        assert f'src="/console/calls/{rid}/recording"' in page.text
        assert f"/console/calls/{filed}/recording" not in page.text  # only calls with no ticket
        r = h.get(f"/console/calls/{rid}/recording")
        assert r.status_code == 200 and r.content == audio
        assert r.headers["content-type"] == "audio/wav"
        assert r.headers["cache-control"] == "private, no-store"
        part = h.get(f"/console/calls/{rid}/recording", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == audio[:100]
    assert "/console/calls/unfiled" in as_user("operator").get("/console/queue").text


def test_units_neither_list_nor_hear_a_call_that_belongs_to_no_unit(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain,
        settings: Settings) -> None:
    """No unit's handler or supervisor has anything to hear in a fax call (it belongs to
    no unit: the scope's rule for drafts and the manual queue); the route answers 404, as
    for a ticket out of scope, so ids cannot be probed."""
    rid, _ = fax_call(sessions, domain, settings.recordings_dir)
    for user in ("supervisor", "cy-supervisor", "cy-handler", "water-handler"):
        h = as_user(user)
        assert h.get("/console/calls/unfiled").status_code == 403, user
        assert h.get(f"/console/calls/{rid}/recording").status_code == 404, user
        assert "/console/calls/unfiled" not in h.get("/console/queue").text, user
    assert as_user("operator").get("/console/calls/999999/recording").status_code == 404


def test_a_call_record_id_reaches_no_recording_the_ticket_route_would_refuse(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain,
        settings: Settings) -> None:
    """One rule for both routes: a call that filed a ticket is heard by call id exactly
    as by the ticket's number -- its unit's handler yes, another unit's no, nor a handler
    for a 保密 caller."""
    number = call_ticket(sessions, domain, settings.recordings_dir)
    secret = call_ticket(sessions, domain, settings.recordings_dir, confidential=True,
                         phone="13912340000")
    plain, hidden = call_of(sessions, number), call_of(sessions, secret)
    water, cy = as_user("water-handler"), as_user("cy-handler")
    assert water.get(f"/console/tickets/{number}/recording").status_code == 200
    r = water.get(f"/console/calls/{plain}/recording")
    assert r.status_code == 200
    assert hashlib.sha256(r.content).hexdigest() == hashlib.sha256(
        water.get(f"/console/tickets/{number}/recording").content).hexdigest()
    assert cy.get(f"/console/tickets/{number}/recording").status_code == 404
    assert cy.get(f"/console/calls/{plain}/recording").status_code == 404
    assert water.get(f"/console/tickets/{secret}/recording").status_code == 404
    assert water.get(f"/console/calls/{hidden}/recording").status_code == 404
    assert as_user("operator").get(f"/console/calls/{hidden}/recording").status_code == 200


def test_the_ticket_player_and_the_menu_ask_the_one_recording_rule(
        as_user: Users, sessions: sessionmaker[Session], domain: Domain,
        settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ticket page's player and the menu's 无语音来电 link ask ``recordings.may_hear``,
    the rule the recording routes answer by. Before, the page asked ``may_see_caller`` and
    the menu named the roles itself (review64): a change to the rule left either showing a
    player or a link the route refused. Forced by a rule that refuses everybody."""
    number = call_ticket(sessions, domain, settings.recordings_dir)
    h = as_user("operator")
    assert f"/console/tickets/{number}/recording" in h.get(f"/console/tickets/{number}").text
    assert "/console/calls/unfiled" in h.get("/console/queue").text
    monkeypatch.setattr(recording_rules, "may_hear", lambda actor, ticket: False)
    assert f"/console/tickets/{number}/recording" not in h.get(
        f"/console/tickets/{number}").text
    assert "/console/calls/unfiled" not in h.get("/console/queue").text
