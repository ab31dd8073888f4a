"""A surge from one address at the shipped settings: a carrier's SBC in a district blackout.

    .venv/bin/python bench/surge.py                    # 40 calls at 5/s, SBC not trusted
    .venv/bin/python bench/surge.py --count 100 --rate 10 --trusted
    .venv/bin/python bench/surge.py --delayed-offer    # INVITEs without SDP (CUCM, SIP-I)
    .venv/bin/python bench/surge.py --alaw             # offers of PCMA alone, A-law RTP

SIPp sends ``count`` complete calls (INVITE, ACK, RTP for ``--hold`` s, BYE; a 486/503 is
ACKed) from 127.0.0.75 to a SipFrontEnd built from config/hotline.toml + defaults (only
the ports moved to free loopback ones; ``--trusted`` lists the SBC in trusted_sources).
The handler answers and waits for the caller's BYE, like the IVR without its prompts.

Prints: calls answered, busy (486/503, ACKed by the caller), dropped unanswered (no final
response: SIPp's failed calls), whether the address is banned, and how soon after the last
call of the burst a new call from the same address is answered (a raw INVITE every 0.5 s;
gives up after ``--probe-seconds``). Loopback only; SIPp bounded by -m, -timeout,
-recv_timeout.

Against a running ``hotline serve`` (``bash scripts/run.sh``: SQLite and files under var/):

    .venv/bin/python bench/surge.py --service 127.0.0.1:5080 --var var --pid PID \
        --bursts 3 --count 40 --rate 8
    ... --bursts 1 --count 20 --kill-after 6 --restart 'cd /srv/hotline && bash scripts/run.sh'
    .venv/bin/python bench/surge.py --service 127.0.0.1:5080 --var var --check-only

Each burst is ``--count`` calls from four addresses at once, a quarter each (127.0.0.81-84),
each call its own number, Mandarin speech of espeak-ng (``cmn``): talkers speaking over the
greeting and hanging up mid-recording (PCMU); key pressers offering PCMA alone (speech, #,
1 at the read-back, # at the menu, hang-up); re-INVITErs (speech, hold with ``sendonly``,
back in PCMA, more speech, a session refresh with the same offer, hang-up); silent callers
(2.5 s of silence). What SIPp saw (its message log) is held against what the service wrote
(the database and the spool under ``--var``): answered (200), refused (its final response,
with or without Retry-After), filed (a ticket, or no ticket and the recording kept on disk),
lost (answered and neither), duplicated (a call with two records or tickets), anything of a
refused call in the database or the spool, hang-up -> ticket p50/p95 (the BYE SIPp sent ->
the ticket's created_at), the re-INVITErs' recordings (one file each, its length against
the call's) and, with ``--pid``, the service's threads, open files and RSS before the burst
and after it settled. ``--kill-after S`` sends SIGKILL to ``--pid`` S seconds into the last
burst and, with ``--restart``, starts the service again (its own session) and waits for
its SIP port: the calls answered before the kill must be filed once by the new process.
``--check-only``: no calls, the whole database's totals (a restart must add nothing).
Every wait bounded (``--settle`` s); no model needed (a call's words wait in the backlog).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config.settings import Settings
from telephony.call import CallHandle
from telephony.sip.frontend import SipFrontEnd
from tests.support import harness
from tests.support.callers import CallerScript, espeak_pcm16
from tests.support.rawsip import RawPeer, status
from ticketing.phones import call_number

SBC = "127.0.0.75"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--rate", type=float, default=5.0, help="calls per second")
    ap.add_argument("--hold", type=float, default=2.0, help="seconds each answered call lasts")
    ap.add_argument("--trusted", action="store_true", help="list the SBC in trusted_sources")
    ap.add_argument("--probe-seconds", type=float, default=75.0)
    ap.add_argument("--delayed-offer", action="store_true",
                    help="INVITEs without SDP, the answer in the ACK (CUCM trunks, SIP-I)")
    ap.add_argument("--alaw", action="store_true",
                    help="offers of PCMA alone (and telephone-event), the callers' RTP A-law")
    ap.add_argument("--service", default="",
                    help="host:port of a running `hotline serve` to call (its shipped SIP)")
    ap.add_argument("--var", type=Path, default=None,
                    help="that service's data_dir (var/ of its checkout): database and spool")
    ap.add_argument("--db", default="", help="its database URL (default: VAR/hotline.db)")
    ap.add_argument("--pid", type=int, default=0, help="its process: threads, files, RSS")
    ap.add_argument("--bursts", type=int, default=3)
    ap.add_argument("--pause", type=float, default=5.0, help="seconds between bursts")
    ap.add_argument("--settle", type=float, default=120.0,
                    help="seconds a burst's calls may take to be filed")
    ap.add_argument("--kill-after", type=float, default=0.0,
                    help="signal --pid this many seconds into the last burst")
    ap.add_argument("--signal", choices=("KILL", "TERM"), default="KILL",
                    help="KILL (a crash) or TERM (a stop: its drain refuses 503)")
    ap.add_argument("--restart", default="", help="shell command starting the service again")
    ap.add_argument("--verbose", action="store_true", help="every re-INVITEr's recording")
    ap.add_argument("--one-address", action="store_true",
                    help="every caller from 127.0.0.81 (an SBC), not one address a kind")
    ap.add_argument("--check-only", action="store_true",
                    help="no calls: the database's totals (duplicates, calls not settled)")
    args = ap.parse_args()
    if args.service or args.check_only:
        service_main(args)
        return
    codec = "PCMA" if args.alaw else "PCMU"

    tmp = Path(tempfile.mkdtemp(prefix="bench-surge-"))
    rtp = harness.free_port_block(2 * 40 + 20)
    sip = Settings().sip.model_copy(update={
        "bind_ip": harness.LOOPBACK, "port": harness.free_port(),
        "rtp_port_low": rtp, "rtp_port_high": rtp + 99,
        "trusted_sources": [SBC] if args.trusted else []})
    answered: list[CallHandle] = []
    lock = threading.Lock()

    def on_call(call: CallHandle) -> None:
        if call.answer():
            with lock:
                answered.append(call)
            call.wait_ended(60)

    fe = SipFrontEnd(sip, on_call, read_number=call_number, rtp_timeout=sip.rtp_timeout)
    fe.start()
    print(f"shipped settings: {sip.mode} mode, {sip.max_calls} lines, flood guard "
          f"{sip.flood_rate_per_second:g}/s burst {sip.flood_burst} ban "
          f"{sip.flood_ban_seconds:g} s, trusted {sip.trusted_sources or 'none'}")
    print(f"surge: {args.count} calls at {args.rate:g}/s from {SBC}, {args.hold:g} s each"
          + (", delayed offer (no SDP in the INVITE)" if args.delayed_offer else "")
          + f", {codec}")
    try:
        script = CallerScript(tmp / "caller", hold_seconds=args.hold + 3,
                              codec=codec).wait(args.hold)
        t0 = time.monotonic()
        surge = harness.sipp_surge(tmp / "surge", target=f"127.0.0.1:{fe.local_port}",
                                   source_ip=SBC, count=args.count, rate=args.rate,
                                   media=script.render(), delayed_offer=args.delayed_offer,
                                   codecs="8" if args.alaw else "0")
        ended = time.monotonic()
        busy = fe.rejected.get(486, 0) + fe.rejected.get(503, 0)
        refused = sum(n for code, n in fe.rejected.items() if code not in (486, 503))
        print(f"answered {len(answered)}  busy(486/503) {busy}  refused otherwise {refused}  "
              f"dropped unanswered {surge.failed}  (SIPp: {surge.successful} completed, "
              f"{surge.failed} failed; burst took {ended - t0:.1f} s)")
        print(f"banned: {fe.flood.banned(SBC)}  flood guard drops: {fe.flood.dropped}")
        print("answered in: " + ", ".join(f"{c} {n}" for c, n in sorted(
            Counter(call.codec for call in answered).items())))
        after = probe(fe.local_port, args.probe_seconds)
        print("next call answered " + (f"{after:.1f} s after the burst" if after is not None
                                       else f"not within {args.probe_seconds:g} s"))
    finally:
        fe.stop()


def probe(port: int, limit: float) -> float | None:
    """Seconds until an INVITE from the SBC's address gets a 200 (then hung up)."""
    peer = RawPeer(SBC, port)
    start = time.monotonic()
    try:
        n = 0
        while time.monotonic() - start < limit:
            n += 1
            peer.send(peer.invite(f"probe{n}"))
            finals = peer.finals(1, wait=0.5)
            answer = finals.get(f"probe{n}")
            if answer is not None:
                peer.send(peer.ack(answer))
                if status(answer) == 200:
                    peer.send(peer.ack(answer, method="BYE", cseq=2))
                    return time.monotonic() - start
            time.sleep(0.5)
        return None
    finally:
        peer.close()


# ---------------------------------------------------------------------------------------
# --service: bursts of real calls against a running `hotline serve`
# ---------------------------------------------------------------------------------------

# Four callers a burst, one address each (untrusted, as a judge's phones: each may hold
# sip.source_call_share of the lines). Mandarin, as the service's callers speak.
KINDS = ("talk", "keys", "reinvite", "silent")
SOURCES = {kind: f"127.0.0.{81 + i}" for i, kind in enumerate(KINDS)}
MANDARIN = ["我家楼下的路灯坏了好几天了，晚上很黑，请尽快派人来修。",
            "小区里的垃圾好几天没人清运了，味道很大。",
            "朝阳区望京西园三区五号楼停水一天了。",
            "附近工地晚上一直施工，噪音太大睡不着觉。"]
SPOKE = {"talk", "keys", "reinvite"}  # kinds whose callers said a complaint


@dataclass
class Leg:
    """One call as SIPp's message log shows it."""

    call_id: str
    kind: str
    final: int | None = None  # the INVITE's final response
    retry_after: bool = False
    answered_at: float | None = None  # epoch seconds
    hung_up_at: float | None = None  # our BYE sent, or theirs received
    reinvites: list[int] = field(default_factory=list)  # final responses to re-INVITEs
    reinvited_at: list[float] = field(default_factory=list)  # when each final came


_BLOCK = re.compile(r"^-{10,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\n(UDP message (sent|received)"
                    r"[^\n]*\n)", re.M)


def read_legs(log: Path, kind: str) -> dict[str, Leg]:
    """Every call of one SIPp process, from its -trace_msg log."""
    legs: dict[str, Leg] = {}
    if not log.exists():
        return legs
    text = log.read_text(errors="replace")
    marks = list(_BLOCK.finditer(text))
    for n, m in enumerate(marks):
        body = text[m.end():marks[n + 1].start() if n + 1 < len(marks) else len(text)].strip()
        at = datetime.fromisoformat(m[1]).timestamp()  # SIPp writes local time
        sent = m[3] == "sent"
        call_id = _header(body, "Call-ID")
        cseq = _header(body, "CSeq").split()
        if not call_id or len(cseq) != 2:
            continue
        leg = legs.setdefault(call_id, Leg(call_id, kind))
        first = body.split("\n", 1)[0]
        if first.startswith("SIP/2.0 ") and not sent:
            code = int(first.split()[1])
            if code < 200 or cseq[1] != "INVITE":
                continue
            if cseq[0] == "1":
                if leg.final is None:
                    leg.final = code
                    leg.retry_after = bool(_header(body, "Retry-After"))
                    if code == 200:
                        leg.answered_at = at
            elif len(leg.reinvites) < int(cseq[0]) - 1:
                leg.reinvites.append(code)
                leg.reinvited_at.append(at)
        elif first.startswith("BYE ") and leg.hung_up_at is None:
            leg.hung_up_at = at
    return legs


def _header(message: str, name: str) -> str:
    found = re.search(rf"^{name}:\s*(.*?)\s*$", message, re.M | re.I)
    return found[1] if found else ""


def scripts(tmp: Path) -> dict[str, tuple[str, CallerScript]]:
    """Each kind's offer and what its caller does once answered."""
    speech = [espeak_pcm16(text, tmp / f"speech{n}", voice="cmn")
              for n, text in enumerate(MANDARIN)]
    talk = CallerScript(tmp / "talk").wait(0.5).say(speech[0], then_wait=1.0)
    keys = (CallerScript(tmp / "keys", codec="PCMA").wait(0.5).say(speech[2], then_wait=0.3)
            .key("#", then_wait=6.0, timestamp=80_000).key("1", then_wait=4.0, timestamp=160_000)
            .key("#", then_wait=1.5, timestamp=240_000))
    reinvite = (CallerScript(tmp / "reinvite").wait(0.5).say(speech[1], then_wait=0.5)
                .reinvite("PCMU", cseq=2, direction="sendonly").wait(3.0)
                .reinvite("PCMA", cseq=3).say(speech[3], then_wait=0.5)
                .reinvite("PCMA", cseq=4).wait(1.5))
    silent = CallerScript(tmp / "silent").wait(2.5)
    return {"talk": ("0", talk), "keys": ("8", keys), "reinvite": ("0", reinvite),
            "silent": ("0", silent)}


def proc_state(pid: int) -> tuple[int, int, float] | None:
    """(threads, open files, RSS MB) of a process, or None when it is gone."""
    try:
        threads, rss = 0, 0.0
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                threads = int(line.split()[1])
            elif line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
        return threads, len(os.listdir(f"/proc/{pid}/fd")), rss
    except OSError:
        return None


def _state(pid: int) -> str:
    return _fmt(proc_state(pid) if pid else None)


def service_main(args: argparse.Namespace) -> None:
    from sqlalchemy import func, select

    from asr.jobs import TranscriptionJob
    from ivr.callrecords import CallRecord
    from ticketing.db import make_engine, make_session_factory
    from ticketing.models import Ticket

    var = (args.var or Settings().data_dir).resolve()
    db = make_engine(args.db or f"sqlite:///{var / 'hotline.db'}")
    sessions = make_session_factory(db)
    spool = var / "spool" / "calls"

    def totals() -> str:
        with sessions() as s:
            records = s.scalar(select(func.count(CallRecord.id)))
            open_ = s.scalar(select(func.count(CallRecord.id))
                             .where(CallRecord.outcome == "in_progress"))
            tickets = s.scalar(select(func.count(Ticket.id)).where(Ticket.call_id.is_not(None)))
            twice = s.scalar(select(func.count()).select_from(
                select(Ticket.call_id).where(Ticket.call_id.is_not(None))
                .group_by(Ticket.call_id).having(func.count() > 1).subquery()))
            shared = s.scalar(select(func.count()).select_from(
                select(CallRecord.ticket_id).where(CallRecord.ticket_id.is_not(None))
                .group_by(CallRecord.ticket_id).having(func.count() > 1).subquery()))
            pending = s.scalar(select(func.count(TranscriptionJob.id))
                               .where(TranscriptionJob.status == "pending"))
        journals = len(list(spool.glob("*.json"))) if spool.exists() else 0
        return (f"database: {records} call records ({open_} in progress), {tickets} tickets "
                f"from calls, call ids with 2+ tickets {twice}, tickets on 2+ records "
                f"{shared}; backlog {pending} pending; spool {journals} journals")

    if args.check_only:
        print(totals())
        return
    tmp = Path(tempfile.mkdtemp(prefix="bench-surge-service-"))
    kinds = scripts(tmp)
    sources = (f"all from {SOURCES[KINDS[0]]}" if args.one_address
               else ", ".join(f"{k} from {SOURCES[k]}" for k in KINDS))
    print(f"target {args.service}; {args.bursts} bursts of {args.count} calls at "
          f"{args.rate:g}/s ({', '.join(KINDS)}; {sources}); "
          f"service {_state(args.pid)}")
    print(totals())
    pid = args.pid
    for burst in range(1, args.bursts + 1):
        if burst > 1:
            time.sleep(args.pause)
        kill = args.kill_after if burst == args.bursts else 0.0
        pid = run_burst(args, burst, kinds, tmp / f"burst{burst}", sessions, var, pid, kill)
    print(totals())


def run_burst(args: argparse.Namespace, burst: int, kinds: dict[str, tuple[str, CallerScript]],
              workdir: Path, sessions, var: Path, pid: int,  # type: ignore[no-untyped-def]
              kill_after: float) -> int:
    from sqlalchemy import select

    from asr.jobs import TranscriptionJob
    from ivr.call_flow import sip_recording_path
    from ivr.callrecords import CallRecord
    from ticketing.models import Ticket

    before = proc_state(pid) if pid else None
    started = time.time()
    counts = {k: args.count // len(KINDS) + (i < args.count % len(KINDS))
              for i, k in enumerate(KINDS)}
    logs = {k: workdir / f"{k}-messages.log" for k in KINDS}
    threads = []
    for i, kind in enumerate(KINDS):
        if not counts[kind]:
            continue
        codecs, script = kinds[kind]
        numbers = [f"139{burst % 100:02d}{i}{n:05d}" for n in range(counts[kind])]
        threads.append(threading.Thread(target=harness.sipp_surge, kwargs=dict(
            workdir=workdir / kind, target=args.service,
            source_ip=SOURCES[KINDS[0] if args.one_address else kind],
            count=counts[kind], rate=max(args.rate / len(KINDS), 0.1), media=script.render(),
            codecs=codecs, callers=numbers, messages=logs[kind], recv_timeout_s=10)))
    for t in threads:
        t.start()
    if kill_after:
        time.sleep(kill_after)
        os.kill(pid, getattr(signal, f"SIG{args.signal}"))
        print(f"burst {burst}: SIG{args.signal} to {pid} {time.time() - started:.1f} s in")
        gone = time.monotonic() + 60  # a stop drains its calls first (docs/ivr.md)
        while proc_state(pid) is not None and time.monotonic() < gone:
            time.sleep(0.2)
        print(f"burst {burst}: {pid} " + (f"gone {time.time() - started:.1f} s in"
                                         if proc_state(pid) is None else "still there"))
        if args.restart:
            pid = subprocess.Popen(  # the service's own session: it outlives the bench
                ["bash", "-c", args.restart], start_new_session=True,
                stdout=(workdir / "restart.log").open("wb"), stderr=subprocess.STDOUT).pid
            port = int(args.service.rsplit(":", 1)[1])
            deadline = time.monotonic() + 300
            while harness.sip_options(port) is None and time.monotonic() < deadline:
                time.sleep(0.5)
            print(f"burst {burst}: restarted as {pid}, SIP answering "
                  f"{time.time() - started:.1f} s in (log {workdir / 'restart.log'})")
    for t in threads:
        t.join()
    sipp_done = time.time()
    legs: dict[str, Leg] = {}
    for kind in KINDS:
        legs.update(read_legs(logs[kind], kind))
    answered = {c: leg for c, leg in legs.items() if leg.final == 200}
    refused = {c: leg for c, leg in legs.items() if leg.final is not None and leg.final != 200}

    def records() -> dict[str, list[CallRecord]]:
        with sessions() as s:
            rows = s.scalars(select(CallRecord).where(
                CallRecord.arrived_at >= datetime.fromtimestamp(started - 5, UTC))).all()
        out: dict[str, list[CallRecord]] = {}
        for r in rows:
            out.setdefault(r.call_id.split("~")[0], []).append(r)
        return out

    deadline = time.monotonic() + args.settle
    while True:
        recs = records()
        settled = all(c in recs and all(r.ended_at is not None and r.outcome != "in_progress"
                                        for r in recs[c]) for c in answered)
        if settled or time.monotonic() > deadline:
            break
        time.sleep(1.0)
    settled_at = time.time()
    with sessions() as s:
        tickets: dict[str, list[Ticket]] = {}
        for t in s.scalars(select(Ticket).where(Ticket.call_id.in_(list(legs)))).all():
            tickets.setdefault(t.call_id.split("~")[0], []).append(t)
        jobs = {j.call_id for j in s.scalars(select(TranscriptionJob).where(
            TranscriptionJob.call_id.in_(list(legs)))).all()}
    spooled = {p.stem for p in (var / "spool" / "calls").glob("*.json")}

    filed, lost, twice, unheard, outcomes = 0, [], [], [], Counter()
    latency: list[float] = []
    before_bye = 0  # tickets filed while the caller was still on (the read-back confirmed)
    for call_id, leg in answered.items():
        rs, ts = recs.get(call_id, []), tickets.get(call_id, [])
        if len(rs) > 1 or len(ts) > 1:
            twice.append(call_id)
        r = rs[0] if rs else None
        outcome = r.outcome if r else "no record"
        outcomes[(leg.kind, outcome)] += 1
        kept = bool(r and r.recording_path and Path(r.recording_path).exists())
        if ts or (r and r.outcome not in ("in_progress", "ticket") and kept):
            filed += 1
        else:
            lost.append(f"{call_id} ({leg.kind}: {outcome})")
        if leg.kind in SPOKE and not ts:
            unheard.append(f"{call_id} ({leg.kind}: {outcome}, no ticket)")
        if ts and leg.hung_up_at and not kill_after:
            gap = ts[0].created_at.timestamp() - leg.hung_up_at
            if gap < 0:
                before_bye += 1
            else:
                latency.append(gap)
    half = [c for c in refused if c in recs or c in tickets or c in jobs or c in spooled]
    codes = Counter(leg.final for leg in refused.values())
    no_retry = [c for c, leg in refused.items() if leg.final in (486, 503) and not leg.retry_after]
    unanswered = [c for c, leg in legs.items() if leg.final is None]
    print(f"\nburst {burst}: {len(legs)} calls sent, answered {len(answered)}, refused "
          f"{len(refused)} ({', '.join(f'{c}: {n}' for c, n in sorted(codes.items())) or '-'}; "
          f"without Retry-After {len(no_retry)}), no final answer {len(unanswered)}")
    print(f"  filed {filed}, lost {len(lost)}, duplicated {len(twice)}; callers who spoke "
          f"without a ticket {len(unheard)}"
          + (" (a signal can cut them before they speak)" if kill_after else "")
          + f"; refused calls with anything in the database or spool {len(half)}; settled "
          f"{settled_at - sipp_done:.1f} s after the last caller ended")
    for c in lost[:8] + twice[:8] + unheard[:8] + half[:8]:
        print(f"    {c}")
    print("  outcomes: " + ", ".join(f"{k}/{o} {n}" for (k, o), n in sorted(outcomes.items())))
    if latency:
        from bench.ivr import p95

        print(f"  hang-up -> ticket: p50 {statistics.median(latency) * 1000:.0f} ms, p95 "
              f"{p95(latency) * 1000:.0f} ms, max {max(latency) * 1000:.0f} ms "
              f"({len(latency)} tickets; {before_bye} more filed before the hang-up)")
    # The re-INVITErs: every re-INVITE answered 200, one recording each, as long as the call
    # less its hold (what a holding caller sends is not recorded: docs/sip.md), with speech
    # before the hold and after it (A-law then).
    continuous = 0
    reinviters = [(c, leg) for c, leg in answered.items()
                  if leg.kind == "reinvite" and recs.get(c) and not kill_after]
    for call_id, leg in reinviters:
        r = recs[call_id][0]
        wavs = [] if not r.recording_path else list(
            Path(r.recording_path).parent.glob("*-" + sip_recording_path(
                Settings(), call_id).name.split("-", 1)[1]))
        up = (leg.hung_up_at or 0) - (leg.answered_at or 0)
        held = (leg.reinvited_at[1] - leg.reinvited_at[0]
                if len(leg.reinvited_at) >= 2 else 0.0)
        halves = speech_halves(wavs[0]) if len(wavs) == 1 else (False, False)
        ok = (leg.reinvites == [200, 200, 200] and len(wavs) == 1 and all(halves)
              and abs((r.recording_seconds or 0) - (up - held)) < 1.5)
        continuous += ok
        if not ok or args.verbose:
            print(f"    re-INVITEs {leg.reinvites}, recordings {len(wavs)}, recorded "
                  f"{r.recording_seconds or 0:.1f} s of a {up:.1f} s call held {held:.1f} s, "
                  f"speech before/after the hold {halves}: "
                  f"{'ok' if ok else 'NOT CONTINUOUS'} ({call_id})")
    if reinviters:
        print(f"  re-INVITErs (hold, back in PCMA, refresh): {continuous} of "
              f"{len(reinviters)} one continuous recording")
    after = None
    if pid:
        limit = time.monotonic() + 20  # the calls' threads and sockets close as they end
        while time.monotonic() < limit:
            after = proc_state(pid)
            if before is None or after is None or after[:2] <= before[:2]:
                break
            time.sleep(1.0)
        print(f"  service before {_fmt(before)}; after {_fmt(after)}"
              + (" (restarted)" if kill_after else ""))
    return pid


def speech_halves(wav: Path) -> tuple[bool, bool]:
    """Whether each half of a recording holds the caller speaking (the live gate's rule,
    ``ivr.audio.holds_speech``)."""
    from ivr.audio import holds_speech
    from telephony.media.wav import read_wav

    pcm = read_wav(wav).pcm16
    half = len(pcm) // 4 * 2
    return holds_speech(pcm[:half]), holds_speech(pcm[half:])


def _fmt(st: tuple[int, int, float] | None) -> str:
    return "-" if st is None else f"{st[0]} threads, {st[1]} fds, {st[2]:.0f} MB RSS"


if __name__ == "__main__":
    main()
