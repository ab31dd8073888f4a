"""The IVR's stop (SIGTERM) and the dialogues still saving, without sockets: the real
``IvrRuntime.stop`` over a front end that was never started (its handler threads are the
dialogues), the real call intake, spool and recovery. A stand-in dialogue past its
recording: once the stop begins it decodes its caller's words with the engine and files
them. The stop waits for it, up to ``sip.stop_drain_seconds``, and closes the engine after;
what is not done by then stays in the spool, filed once by the next start's recovery.
(The caller's side, a real SIPp caller: tests/ivr/test_stop_mid_complaint.py.)"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from ivr.call_flow import IvrServices
from ivr.callrecords import CallOutcome, CallRecord, let_call_go
from ivr.intake import CallIntake, Spool, recover_spool
from ivr.runtime import IvrRuntime
from telephony.sip.frontend import SipFrontEnd
from tests.intake.test_intake import _recording
from tests.support.city import City
from ticketing.context import Domain
from ticketing.models import Ticket, TicketEvent
from ticketing.phones import call_number

# Longer than the 2 s the stop gave each call's thread before (``SipFrontEnd.stop``'s join):
# what the last turn's decoding may take (``sip.transcript_wait_seconds``, 5 s shipped).
DECODING_SECONDS = 2.5


class Engine:
    """The speech engine as the stop sees it: decoding after ``close`` fails, as Vosk's
    freed model does."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.closed = False

    def decode(self) -> str:
        if self.closed:
            raise RuntimeError("engine closed")
        return "朝阳区望京西园三区5号楼停水了"

    def close(self) -> None:
        self.closed = True
        self.log.append("engine closed")


class Line:
    """What a front end's handler needs of a call."""

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id
        self.ended = False

    def hangup(self) -> None:
        self.ended = True


def _node(settings: Settings, sessions: sessionmaker[Session], domain: Domain, tmp_path: Path,
          *, drain: float | None = None,
          saving: threading.Event) -> tuple[IvrRuntime, dict[str, Any]]:
    """A node with one call past its recording; its dialogue files once the stop begins,
    the decoding taking DECODING_SECONDS and the filing waiting for ``saving``; the
    shipped ``sip.stop_drain_seconds`` unless ``drain`` is given."""
    if drain is not None:
        settings = settings.model_copy(update={
            "sip": settings.sip.model_copy(update={"stop_drain_seconds": drain})})
    log: list[str] = []
    engine = Engine(log)
    services = IvrServices(settings=settings, sessions=sessions, domain=domain,
                           prompts=None,  # type: ignore[arg-type]  (nothing is played)
                           spool=Spool(tmp_path / "spool"), engine=engine)  # type: ignore[arg-type]
    seen: dict[str, Any] = {"log": log}
    taken = threading.Event()

    def dialogue(line: Line) -> None:
        intake = CallIntake(sessions=sessions, domain=domain, spool=services.spool,
                            call_id=line.call_id, caller="13811112222")
        intake.hold()
        intake.answered()
        intake.recording(_recording(tmp_path / "said.wav", 6.0))
        seen["intake"] = intake
        taken.set()
        services.stopping.wait()
        intake.stopped()
        time.sleep(DECODING_SECONDS)  # the last turn's decoding
        try:
            intake.understood(engine.decode(), {})
        except RuntimeError as exc:
            log.append(f"decoding failed: {exc}")
            intake.understood(None, None, asr_error=str(exc))
        saving.wait()
        seen["settled"] = intake.end(CallOutcome.TICKET)
        log.append("filed")

    frontend = SipFrontEnd(settings, dialogue,  # type: ignore[arg-type]  (never started)
                           read_number=call_number)
    frontend._start_handler(Line("stop-drain-1"))  # type: ignore[arg-type]
    assert taken.wait(10)
    return IvrRuntime(services=services, frontend=frontend), seen


def _count(sessions: sessionmaker[Session], model: type) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_the_stop_lets_a_dialogue_decode_and_file_before_the_engine_closes(
        settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City,
        tmp_path: Path) -> None:
    """loose28's closing note: the stop gave each call's thread 2 s and closed the engine;
    a dialogue still decoding its caller's last words lost them (decoding failed), and
    what it had not filed by the process's end waited for the next start's recovery
    ("服务恢复后补录")."""
    saving = threading.Event()
    saving.set()
    runtime, seen = _node(settings, sessions, domain, tmp_path, saving=saving)  # shipped drain
    assert runtime.services.settings.sip.stop_drain_seconds == Settings().sip.stop_drain_seconds
    runtime.stop()
    assert seen["log"] == ["filed", "engine closed"]
    assert seen["settled"] is True
    with sessions() as s:
        (rec,) = s.scalars(select(CallRecord)).all()
        assert rec.ticket_id is not None and rec.outcome == CallOutcome.TICKET.value
        ticket = s.get_one(Ticket, rec.ticket_id)
        assert "停水" in (ticket.transcript or "")
        cut = s.scalars(select(TicketEvent).where(
            TicketEvent.ticket_id == rec.ticket_id,
            TicketEvent.action == "call_interrupted")).one()
        assert cut.data["stopped"] is True
    assert not list(runtime.services.spool.pending())


def test_a_dialogue_still_saving_at_the_bound_is_filed_once_by_the_next_start(
        settings: Settings, sessions: sessionmaker[Session], domain: Domain, city: City,
        tmp_path: Path) -> None:
    """Past ``sip.stop_drain_seconds`` the stop goes on without it (the engine closes, the
    process ends): the call stays in the spool, and the next start's recovery files it;
    the dialogue finishing after that (as it could only in this test) files nothing
    twice. Nothing lost, nothing filed twice."""
    saving = threading.Event()  # the filing hangs (a database locked, say)
    runtime, seen = _node(settings, sessions, domain, tmp_path, drain=0.5, saving=saving)
    runtime.stop()
    assert seen["log"] == ["engine closed"]
    assert _count(sessions, Ticket) == 0
    (left,) = runtime.services.spool.pending()
    assert left.ended_at is None  # in progress, as a killed process leaves it
    # The next start: the stopped process and what it held are gone.
    let_call_go(seen["intake"])
    spool = Spool(tmp_path / "spool")
    assert spool.take_over()
    assert recover_spool(sessions=sessions, domain=domain, spool=spool,
                         restarted=True) == ["stop-drain-1"]
    assert _count(sessions, Ticket) == 1
    saving.set()  # the old dialogue gets through at last
    for _ in range(100):
        if "filed" in seen["log"]:
            break
        time.sleep(0.1)
    assert "filed" in seen["log"]
    assert _count(sessions, Ticket) == 1
    with sessions() as s:
        (rec,) = s.scalars(select(CallRecord)).all()
        assert rec.ticket_id is not None and rec.recording_path


def test_the_spool_read_while_a_call_settles_skips_the_journal_gone(
        tmp_path: Path, monkeypatch: Any) -> None:
    """mend74 (review75): a journal removed between the listing and its read (a Twilio call
    settling while our stop's drain polls ``pending``) raised FileNotFoundError, and the
    drain stopped half-way."""
    from ivr.intake import CallJournal

    spool = Spool(tmp_path)
    for i in range(2):
        spool.write(CallJournal(call_id=f"CA{i}", caller="+8613800000000", carrier="twilio"))
    real = Path.read_text

    def settling(self: Path, *a: Any, **k: Any) -> str:
        if self.name == "CA0.json":
            spool.remove("CA0")  # settled meanwhile
        return real(self, *a, **k)

    monkeypatch.setattr(Path, "read_text", settling)
    assert [j.call_id for j in spool.pending()] == ["CA1"]
