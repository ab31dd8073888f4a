"""Dispatch-SMS bench: N tickets filed and dispatched at once; how soon each handler's SMS goes.

    .venv/bin/python bench/dispatch_sms.py [--tickets 400] [--sqlite] [--at 23:00]

The worker is the real OutboundWorker driven as ``hotline serve`` drives it (the
APScheduler job of hotline.wiring.schedule_jobs), on the shipped ``[outbound]`` settings and
the shipped ``log`` SMS provider (recorded here as it is called). Tickets are filed and
accepted (auto-dispatched) one after another as fast as this process can, while the worker
runs beside them in the same process, as the API and the worker share ``serve``'s.

``--at HH:MM`` runs it at that local time of day (the hotline's time zone) on the domain's
clock, which the filing, the planner and the worker all read (``Domain.now``): the clock
is the wall clock shifted by at most 12 hours, so by night (the citizens' quiet hours,
their 受理 SMS held until morning) and by day compare without waiting for either.

Prints dispatch -> SMS handed to the provider (p50, p95, max), SMS per second while they
were going out, SQL statements and commits per SMS on the worker's engine, and ``uptime``.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, func, select  # noqa: E402

from bench.outbound import on_database, pct  # noqa: E402
from config import Settings  # noqa: E402
from hotline import dbadmin  # noqa: E402
from hotline.roles import Part  # noqa: E402
from hotline.wiring import Background, schedule_jobs  # noqa: E402
from outbound.dialers import CallResult  # noqa: E402
from outbound.models import Kind, OutboundTask, Outcome, TaskStatus  # noqa: E402
from outbound.sms import SmsResult, SmsSender, make_sms  # noqa: E402
from outbound.worker import OutboundWorker  # noqa: E402
from tests.outbound.support import new_ticket  # noqa: E402
from tests.support.city import seed_city  # noqa: E402
from ticketing.context import Domain  # noqa: E402
from ticketing.db import make_engine, make_session_factory  # noqa: E402
from ticketing.models import Ticket  # noqa: E402

DISPATCH_TEXT = "【12345】新工单"  # outbound.reminders.DispatchSms


class Recorded:
    """The shipped provider, with the wall time of each send."""

    def __init__(self, inner: SmsSender, clock: Callable[[], datetime]) -> None:
        self.inner = inner
        self.clock = clock  # the domain's: dispatch times are on it
        self.name = inner.name
        self.sent: list[tuple[str, datetime]] = []
        self.handlers = 0  # dispatch SMS among them (the rest: the citizens' 受理 SMS)
        self.lock = threading.Lock()

    def send(self, *, to: str, text: str, ref: str) -> SmsResult:
        result = self.inner.send(to=to, text=text, ref=ref)
        with self.lock:
            self.sent.append((ref, self.clock()))
            self.handlers += text.startswith(DISPATCH_TEXT)
        return result


class NoCalls:
    """Reminder calls fall due minutes after dispatch: past this bench's end."""

    name = "none"

    def call(self, **_: object) -> CallResult:
        return CallResult(Outcome.NO_ANSWER)


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def shift_to(domain: Domain, at: str) -> None:
    """Move ``domain``'s clock to local time ``at`` (HH:MM) today, give or take a day: the
    nearest such moment to the wall clock, so it stays within 12 hours of it."""
    hours, minutes = (int(x) for x in at.split(":"))
    local = datetime.now(domain.tz)
    offset = local.replace(hour=hours, minute=minutes, second=0, microsecond=0) - local
    offset -= timedelta(days=round(offset / timedelta(days=1)))
    domain.now = lambda: datetime.now(UTC) + offset  # type: ignore[method-assign]


def run(db_url: str, n: int, workdir: Path, at: str | None = None) -> None:
    dbadmin.upgrade(db_url)
    settings = Settings(database_url=db_url, data_dir=workdir)
    domain = Domain.load(settings)
    if at is not None:
        shift_to(domain, at)
    filing = make_session_factory(make_engine(db_url))
    city = seed_city(filing, domain)
    engine = make_engine(db_url)
    counts = {"sql": 0, "commit": 0}
    event.listen(engine, "before_cursor_execute",
                 lambda *_: counts.__setitem__("sql", counts["sql"] + 1))
    event.listen(engine, "commit", lambda *_: counts.__setitem__("commit", counts["commit"] + 1))
    sessions = make_session_factory(engine)
    sms = Recorded(make_sms(settings), domain.now)
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=NoCalls(), sms=sms)
    scheduler = schedule_jobs(Background(settings=settings, sessions=sessions, domain=domain,
                                         engine=None, outbound=worker,
                                         parts=frozenset({Part.OUTBOUND})))
    scheduler.start()
    print(f"before: {uptime()}; local time on the domain's clock "
          f"{domain.now().astimezone(domain.tz):%H:%M}", flush=True)
    t0 = time.monotonic()
    numbers = [new_ticket(filing, domain, city, phone=f"138{random.randrange(10**8):08d}",
                          demand=f"朝阳区望京西园{i % 300 + 1}号楼{i // 300 + 1}单元停水了")
               for i in range(n)]
    filed = time.monotonic() - t0
    deadline = time.monotonic() + 600
    while sms.handlers < n and time.monotonic() < deadline:
        time.sleep(0.2)
    scheduler.shutdown(wait=True)
    worker.wait_idle(10)
    worker.shutdown()
    with filing() as s:
        dispatched = dict(s.execute(select(Ticket.id, Ticket.dispatched_at)
                                    .where(Ticket.number.in_(numbers))).all())
        ticket_of = dict(s.execute(select(OutboundTask.id, OutboundTask.ticket_id)
                                   .where(OutboundTask.kind == Kind.SMS_DISPATCH.value)).all())
        now = domain.now()
        citizens = select(func.count(OutboundTask.id)).where(
            OutboundTask.kind == Kind.CITIZEN_SMS.value,
            OutboundTask.status == TaskStatus.PENDING.value)
        held = s.scalar(citizens.where(OutboundTask.due_at > now))
        unclaimed = s.scalar(citizens.where(OutboundTask.due_at <= now))
    late: list[float] = []
    for ref, at in sms.sent:
        tid = ticket_of.get(int(ref.split("-")[1]))
        if tid in dispatched and dispatched[tid] is not None:
            d = dispatched[tid]
            late.append((at - (d if d.tzinfo else d.replace(tzinfo=UTC))).total_seconds())
    times = sorted(at for _, at in sms.sent)  # the citizens' SMS too: the worker's rate
    span = (times[-1] - times[0]).total_seconds() if len(times) > 1 else float("nan")
    print(f"after: {uptime()}")
    print(f"{n} tickets filed and dispatched in {filed:.1f} s; {len(late)} dispatch SMS sent "
          f"(shipped settings: poll {settings.outbound.poll_seconds:g} s, plan "
          f"{settings.outbound.plan_seconds:g} s, max_parallel {settings.outbound.max_parallel},"
          f" sms_parallel {settings.outbound.sms_parallel}, provider {sms.name})")
    print(f"  dispatch -> SMS: p50 {pct(late, 50):.2f} s, p95 {pct(late, 95):.2f} s, "
          f"max {pct(late, 100):.2f} s")
    print(f"  {len(times) / span:.1f} SMS/s ({len(times)} SMS, the citizens' 受理 SMS beside "
          f"the handlers') over {span:.1f} s; worker engine: "
          f"{counts['sql'] / max(1, len(times)):.1f} SQL statements and "
          f"{counts['commit'] / max(1, len(times)):.1f} commits per SMS")
    print(f"  citizens' 受理 SMS: {len(times) - sms.handlers} sent, "
          f"{held} held for later (the citizens' quiet hours), "
          f"{unclaimed} due and not yet claimed at the end")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tickets", type=int, default=400)
    ap.add_argument("--sqlite", action="store_true", help="SQLite instead of PostgreSQL")
    ap.add_argument("--at", metavar="HH:MM", help="local time of day to run at (default: now)")
    args = ap.parse_args()
    random.seed(12345)
    on_database(args.sqlite, "bench-dispatch-sms-",
                lambda url, workdir: run(url, args.tickets, workdir, args.at))

if __name__ == "__main__":
    main()
