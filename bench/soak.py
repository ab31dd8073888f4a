"""A soak of a running ``hotline serve``: what many calls leave behind.

    bash scripts/run.sh &                     # the shipped settings: SIP on 127.0.0.1:5080
    .venv/bin/python bench/soak.py --pid PID --rounds 10 --per-round 30
    .venv/bin/python bench/soak.py --pid PID --snapshot-only

The front end answers day and night for months: one thread, socket, RTP port, file, ledger
entry or timer left per call ends in a dead front end on a busy night. This bench takes the
service's figures (below), sends ``--rounds`` rounds of ``--per-round`` calls of every kind
from real peers on loopback, waits for what the calls started to settle, and takes the
figures again; each figure that grew with the calls and did not come back is printed
``GREW``.

Kinds of caller, each from its own address (127.0.0.91-98: each untrusted address may hold
its share of the lines, docs/sip.md "Abuse"), Mandarin speech of espeak-ng (``cmn``):

- ``complete``: PCMU, a complaint, ``#`` to end it, ``1`` to confirm the read-back, ``#``
  (RFC 2833 keys), hang-up (SIPp);
- ``alaw``: the same offering PCMA alone, A-law RTP (SIPp);
- ``midprompt``: hangs up 1 s into the greeting (SIPp);
- ``midrec``: speaks over the greeting and hangs up while being recorded (SIPp);
- ``reinvite``: speaks, holds (``sendonly``), resumes in PCMA, speaks again, refreshes,
  hangs up (SIPp);
- ``cancel``: INVITE and CANCEL at once (a raw UDP peer: SIPp waits for a 180 first, by
  which time the IVR has answered); answered anyway, it ACKs and hangs up;
- ``noack``: never ACKs our 200 (raw peer); answers our BYE;
- ``nortp``: ACKs and never sends RTP (raw peer); answers our BYE.

Figures (``snapshot``): the process's threads (by name), open fds by kind (UDP, TCP, Unix
sockets, files, pipes, other), UDP sockets on the IVR's RTP range, RSS; files under the
recordings, spool, SIP dialog ledger and prompt directories, stray temporary files under the
data directory; the database's call records (and those still in progress), tickets from
calls, transcription jobs pending; ``hotline_calls_active`` of /metrics. After the load it
checks the promises: every complaint confirmed (``complete``, ``alaw``, ``reinvite``)
exactly one ticket, every call hung up while recorded (``midrec``) a ticket or a kept
recording, no call two tickets. Every SIPp run is bounded by -m, -timeout, -recv_timeout;
every raw peer's read by a timeout; every wait by ``--settle``.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.surge import MANDARIN, Leg, read_legs
from config.settings import Settings
from tests.support import harness
from tests.support.callers import CallerScript, espeak_pcm16
from tests.support.rawsip import RawPeer, header, status

SIPP_KINDS = ("complete", "alaw", "midprompt", "midrec", "reinvite")
RAW_KINDS = ("cancel", "noack", "nortp")
KINDS = SIPP_KINDS + RAW_KINDS
SOURCES = {kind: f"127.0.0.{91 + i}" for i, kind in enumerate(KINDS)}
# Of a round of 30: what a busy evening's mix might be.
SHARE = {"complete": 6, "alaw": 4, "midprompt": 4, "midrec": 4, "reinvite": 3,
         "cancel": 3, "noack": 3, "nortp": 3}
CONFIRMED = {"complete", "alaw", "reinvite"}  # callers who confirmed a complaint


# ---------------------------------------------------------------------------------------
# The figures
# ---------------------------------------------------------------------------------------

def _socket_inodes() -> dict[str, str]:
    """Socket inode -> "udp" | "tcp" | "unix" (and the local port of an inet one)."""
    kinds: dict[str, str] = {}
    for name in ("udp", "udp6", "tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{name}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            port = int(cols[1].rsplit(":", 1)[1], 16)
            kinds[cols[9]] = f"{name.rstrip('6')}:{port}"
    try:
        for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
            cols = line.split()
            if len(cols) >= 7:
                kinds[cols[6]] = "unix"
    except OSError:
        pass
    return kinds


def process_figures(pid: int, rtp: range) -> dict[str, float]:
    out: dict[str, float] = Counter()
    status_text = Path(f"/proc/{pid}/status").read_text()
    out["threads"] = int(re.search(r"^Threads:\s+(\d+)", status_text, re.M)[1])
    out["rss_mb"] = round(int(re.search(r"^VmRSS:\s+(\d+)", status_text, re.M)[1]) / 1024, 1)
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
        except OSError:
            continue
        # By name where the thread set one (Python's own names are not the kernel's).
        kind = re.sub(r"[-_ ]?[0-9a-f]{6,}.*$|-\d+.*$", "", name) or name
        out[f"thread {kind}"] += 1
    inodes = _socket_inodes()
    fds = Path(f"/proc/{pid}/fd")
    for fd in fds.iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            kind = inodes.get(target[8:-1], "socket?")
            proto, _, port = kind.partition(":")
            out[f"fd {proto}"] += 1
            if proto == "udp" and port and int(port) in rtp:
                out["rtp ports held"] += 1
        elif target.startswith("pipe:"):
            out["fd pipe"] += 1
        elif target.startswith("anon_inode:"):
            out["fd anon_inode"] += 1
        elif target.startswith("/"):
            out["fd file" + (" .wav" if target.endswith(".wav") else "")] += 1
        else:
            out["fd other"] += 1
    return out


def dir_figures(settings: Settings) -> dict[str, float]:
    var = Path(settings.data_dir).resolve()
    out: dict[str, float] = Counter()
    for label, path in (("recordings files", Path(settings.recordings_dir)),
                        ("spool journals", var / "spool" / "calls"),
                        ("sip ledger entries", var / "sip-dialogs"),
                        ("prompt files", var / "prompts")):
        out[label] = sum(1 for p in path.rglob("*") if p.is_file()) if path.exists() else 0
    # Anything half-written or temporary left under the data directory (.part, tmp dirs).
    out["temp files under data_dir"] = sum(
        1 for p in var.rglob("*")
        if p.is_file() and (p.name.startswith(".") or p.suffix in (".part", ".partial", ".tmp")
                            or "tmp" in p.parent.name))
    return out


def db_figures(sessions) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from sqlalchemy import func, select

    from asr.jobs import TranscriptionJob
    from ivr.callrecords import CallRecord
    from ticketing.models import Ticket

    with sessions() as s:
        return {
            "db call records": s.scalar(select(func.count(CallRecord.id))),
            "db calls in progress": s.scalar(select(func.count(CallRecord.id)).where(
                CallRecord.outcome == "in_progress")),
            "db tickets from calls": s.scalar(select(func.count(Ticket.id)).where(
                Ticket.call_id.is_not(None))),
            "db transcription jobs pending": s.scalar(select(func.count(
                TranscriptionJob.id)).where(TranscriptionJob.status == "pending")),
        }


def metric_figures(api: str) -> dict[str, float]:
    try:
        text = urllib.request.urlopen(f"http://{api}/metrics", timeout=5).read().decode()
    except OSError:
        return {}
    out: dict[str, float] = {}
    for name in ("hotline_calls_active", "process_open_fds", "hotline_asr_backlog"):
        for m in re.finditer(rf"^{name}(\{{[^}}]*\}})? (\S+)$", text, re.M):
            out[f"metric {name}{m[1] or ''}"] = float(m[2])
    return out


def snapshot(pid: int, settings: Settings, sessions, api: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    rtp = range(settings.sip.rtp_port_low, settings.sip.rtp_port_high + 1)
    out: dict[str, float] = {}
    if pid:
        out.update(process_figures(pid, rtp))
    out.update(dir_figures(settings))
    out.update(db_figures(sessions))
    out.update(metric_figures(api))
    return out


# Figures that grow by design with the calls: a call's record, ticket, recording, its
# words waiting for a model. The rest must come back.
GROW_BY_DESIGN = {"db call records", "db tickets from calls", "recordings files",
                  "db transcription jobs pending", "metric hotline_asr_backlog"}


def compare(before: dict[str, float], after: dict[str, float]) -> list[str]:
    grew = []
    print(f"{'figure':44} {'before':>9} {'after':>9}")
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key, 0), after.get(key, 0)
        mark = ""
        if a > b and key not in GROW_BY_DESIGN and key != "rss_mb":
            mark = "  GREW"
            grew.append(key)
        print(f"{key:44} {b:>9g} {a:>9g}{mark}")
    return grew


# ---------------------------------------------------------------------------------------
# The callers
# ---------------------------------------------------------------------------------------

def sipp_scripts(tmp: Path) -> dict[str, tuple[str, CallerScript]]:
    speech = [espeak_pcm16(text, tmp / f"speech{n}", voice="cmn")
              for n, text in enumerate(MANDARIN)]

    def confirmed(codec: str, said: bytes) -> CallerScript:
        return (CallerScript(tmp / f"confirmed-{codec}", codec=codec).wait(0.5)
                .say(said, then_wait=0.3).key("#", then_wait=6.0, timestamp=80_000)
                .key("1", then_wait=4.0, timestamp=160_000)
                .key("#", then_wait=1.5, timestamp=240_000))

    reinvite = (CallerScript(tmp / "reinvite").wait(0.5).say(speech[1], then_wait=0.5)
                .reinvite("PCMU", cseq=2, direction="sendonly").wait(3.0)
                .reinvite("PCMA", cseq=3).say(speech[3], then_wait=0.5)
                .reinvite("PCMA", cseq=4).wait(1.5))
    return {"complete": ("0", confirmed("PCMU", speech[0])),
            "alaw": ("8", confirmed("PCMA", speech[2])),
            "midprompt": ("0", CallerScript(tmp / "midprompt").wait(1.0)),
            "midrec": ("0", CallerScript(tmp / "midrec").wait(0.3).say(speech[3],
                                                                        then_wait=0.5)),
            "reinvite": ("0", reinvite)}


@dataclass
class RawCall:
    kind: str
    call_id: str
    final: int | None = None
    our_bye: bool = False


def raw_call(kind: str, call_id: str, port: int, out: list[RawCall]) -> None:
    """One caller SIPp cannot be: CANCEL at once, no ACK, no RTP. Bounded: 40 s at most."""
    peer = RawPeer(SOURCES[kind], port)
    call = RawCall(kind, call_id)
    out.append(call)
    try:
        invite = peer.invite(call_id)
        peer.send(invite)
        if kind == "cancel":
            head = invite.split(b"\r\n\r\n", 1)[0].decode()
            cancel = re.sub(r"^INVITE ", "CANCEL ", head)
            cancel = re.sub(r"CSeq: 1 INVITE", "CSeq: 1 CANCEL", cancel)
            cancel = re.sub(r"Content-Type: [^\r]*\r\n", "", cancel)
            cancel = re.sub(r"Content-Length: \d+", "Content-Length: 0", cancel)
            peer.send((cancel + "\r\n\r\n").encode())
        deadline = time.monotonic() + 40
        peer.sock.settimeout(0.5)
        acked = False
        while time.monotonic() < deadline:
            try:
                data = peer.sock.recv(65535)
            except TimeoutError:
                if call.final is not None and (kind == "cancel" or call.our_bye):
                    break
                continue
            if data.startswith(b"SIP/2.0 "):
                code = status(data)
                if "INVITE" in header(data, "CSeq") and code >= 200:
                    if call.final is None:
                        call.final = code
                    if code == 200:
                        if kind == "cancel" and not acked:
                            # Answered before the CANCEL: a real caller hangs up.
                            peer.send(peer.ack(data))
                            peer.send(peer.ack(data, method="BYE", cseq=2))
                            acked = True
                        elif kind == "nortp" and not acked:
                            peer.send(peer.ack(data))
                            acked = True
                    elif not acked:  # a refusal (487, 486...) is ACKed
                        peer.send(peer.ack(data))
                        acked = True
                        if kind != "cancel":
                            break
            elif data.startswith(b"BYE "):
                call.our_bye = True
                reply = _ok_to(data)
                peer.send(reply)
    finally:
        peer.close()


def _ok_to(request: bytes) -> bytes:
    head = request.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
    keep = [h for h in head[1:] if h.split(":", 1)[0].lower() in ("via", "from", "to",
                                                                 "call-id", "cseq")]
    return ("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode()


def run_round(n: int, args: argparse.Namespace, scripts: dict[str, tuple[str, CallerScript]],
              workdir: Path, port: int, raw: list[RawCall]) -> dict[str, Leg]:
    scale = args.per_round / sum(SHARE.values())
    counts = {k: max(1, round(v * scale)) for k, v in SHARE.items()}
    logs = {k: workdir / f"{k}-messages.log" for k in SIPP_KINDS}
    threads = []
    for i, kind in enumerate(SIPP_KINDS):
        codecs, script = scripts[kind]
        numbers = [f"137{n % 100:02d}{i}{m:05d}" for m in range(counts[kind])]
        threads.append(threading.Thread(target=harness.sipp_surge, kwargs=dict(
            workdir=workdir / kind, target=args.service, source_ip=SOURCES[kind],
            count=counts[kind], rate=args.rate, media=script.render(), codecs=codecs,
            callers=numbers, messages=logs[kind], recv_timeout_s=10)))
    for kind in RAW_KINDS:
        for m in range(counts[kind]):
            threads.append(threading.Thread(target=raw_call, args=(
                kind, f"soak{n}{kind}{m}-{os.getpid()}-{time.time_ns() % 10**9}", port, raw)))
    for t in threads:
        t.start()
        time.sleep(0.05)
    for t in threads:
        t.join(timeout=300)
    legs: dict[str, Leg] = {}
    for kind in SIPP_KINDS:
        legs.update(read_legs(logs[kind], kind))
    return legs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--service", default="127.0.0.1:5080", help="host:port of its SIP")
    ap.add_argument("--api", default="127.0.0.1:8000", help="host:port of its API (/metrics)")
    ap.add_argument("--pid", type=int, default=0, help="the `hotline serve` process")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--per-round", type=int, default=30)
    ap.add_argument("--rate", type=float, default=1.0, help="SIPp calls/s per kind")
    ap.add_argument("--pause", type=float, default=3.0, help="seconds between rounds")
    ap.add_argument("--settle", type=float, default=90.0,
                    help="seconds the service may take to come back to rest")
    ap.add_argument("--snapshot-only", action="store_true")
    args = ap.parse_args()
    from ticketing.db import make_engine, make_session_factory

    settings = Settings()
    sessions = make_session_factory(make_engine(settings.database_url))
    port = int(args.service.rsplit(":", 1)[1])
    before = snapshot(args.pid, settings, sessions, args.api)
    if args.snapshot_only:
        compare(before, before)
        return
    print(f"{time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.2f}; {args.rounds} rounds "
          f"of {args.per_round} calls at {args.service}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    scripts = sipp_scripts(tmp)
    started = time.time()
    legs: dict[str, Leg] = {}
    raw: list[RawCall] = []
    for n in range(1, args.rounds + 1):
        t0 = time.monotonic()
        got = run_round(n, args, scripts, tmp / f"round{n}", port, raw)
        legs.update(got)
        finals = Counter(leg.final for leg in got.values())
        print(f"round {n}: {len(got)} SIPp calls ({dict(finals)}), "
              f"{time.monotonic() - t0:.0f} s, load {os.getloadavg()[0]:.2f}"
              + (f", threads {process_figures(args.pid, range(0))['threads']:g}"
                 if args.pid else ""))
        time.sleep(args.pause)
    print(f"load done {time.time() - started:.0f} s; raw calls "
          + ", ".join(f"{k} {dict(Counter(c.final for c in raw if c.kind == k))}"
                      for k in RAW_KINDS))
    # Settle: no call up, nothing in progress, the threads back where they were.
    deadline = time.monotonic() + args.settle
    while time.monotonic() < deadline:
        now = snapshot(args.pid, settings, sessions, args.api)
        if (now.get("db calls in progress", 0) <= before.get("db calls in progress", 0)
                and now.get("threads", 0) <= before.get("threads", 0)
                and now.get("rtp ports held", 0) <= before.get("rtp ports held", 0)):
            break
        time.sleep(2)
    time.sleep(10)  # the front end's linger (8 s) past the last call
    after = snapshot(args.pid, settings, sessions, args.api)
    print(f"\nafter {time.time() - started:.0f} s, load {os.getloadavg()[0]:.2f}")
    grew = compare(before, after)
    check_promises(legs, raw, sessions, started)
    print("grew and did not come back: " + (", ".join(grew) or "nothing"))


def check_promises(legs: dict[str, Leg], raw: list[RawCall], sessions,  # type: ignore[no-untyped-def]
                   started: float) -> None:
    from sqlalchemy import select

    from ivr.callrecords import CallRecord
    from ticketing.models import Ticket

    ids = list(legs) + [c.call_id for c in raw]
    with sessions() as s:
        recs: dict[str, list[CallRecord]] = {}
        for r in s.scalars(select(CallRecord).where(
                CallRecord.arrived_at >= datetime.fromtimestamp(started - 5, UTC))).all():
            recs.setdefault(r.call_id.split("~")[0], []).append(r)
        tickets: Counter[str] = Counter(
            t.call_id.split("~")[0] for t in s.scalars(
                select(Ticket).where(Ticket.call_id.is_not(None))).all()
            if t.call_id.split("~")[0] in set(ids))
    kind_of = {c: leg.kind for c, leg in legs.items()} | {c.call_id: c.kind for c in raw}
    answered = {c for c, leg in legs.items() if leg.final == 200} | {
        c.call_id for c in raw if c.final == 200}
    table: Counter[tuple[str, str]] = Counter()
    broken: list[str] = []
    for c in ids:
        kind = kind_of[c]
        rs = recs.get(c, [])
        outcome = "refused" if c not in answered else (rs[0].outcome if rs else "no record")
        table[(kind, outcome)] += 1
        if tickets[c] > 1 or len(rs) > 1:
            broken.append(f"{c} ({kind}): {tickets[c]} tickets, {len(rs)} records")
        if c in answered and kind in CONFIRMED and tickets[c] != 1:
            broken.append(f"{c} ({kind}): confirmed, {tickets[c]} tickets ({outcome})")
        if c in answered and kind == "midrec" and not tickets[c] and not (
                rs and rs[0].recording_path and Path(rs[0].recording_path).exists()):
            broken.append(f"{c} ({kind}): hung up recorded, no ticket nor recording")
        if rs and rs[0].outcome == "in_progress":
            broken.append(f"{c} ({kind}): still in progress")
    print("\ncalls by kind and outcome: " + ", ".join(
        f"{k}/{o} {n}" for (k, o), n in sorted(table.items())))
    print(f"promises broken: {len(broken)}")
    for line in broken[:20]:
        print(f"  {line}")


if __name__ == "__main__":
    main()
