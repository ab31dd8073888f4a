"""Rows the console shows, written the way the other packages write them.

Tickets go through ``ticketing.service`` like the API/IVR; call records, transcription
jobs and outbound events are inserted as ``ivr``, ``asr`` and ``outbound`` leave them in
their tables, so the console is tested against the data it will really read.
"""

from __future__ import annotations

import hashlib
import math
import struct
import wave
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from asr.cleanup import clean_words
from asr.jobs import enqueue
from ivr.callrecords import CallRecord
from ticketing import service
from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.models import Ticket, User

WATER = "朝阳区望京西园三区5号楼从今天早上开始停水，到现在还没来水。"


def actor(session: Session, username: str) -> Actor:
    return Actor.of(session.scalars(select(User).where(User.username == username)).one())


def write_wav(path: Path, seconds: float = 1.0) -> str:
    """A short 8 kHz 16-bit tone like the IVR's recordings; returns its SHA-256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = 8000
    frames = b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate)))
        for i in range(int(rate * seconds))
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(frames)
    return hashlib.sha256(path.read_bytes()).hexdigest()


class _Word:
    def __init__(self, text: str, conf: float) -> None:
        self.text, self.conf = text, conf


# Vosk's raw words for a call, with two the recogniser was unsure of.
CALL_WORDS = [("朝阳区", 0.98), ("望京", 0.95), ("西园", 0.41), ("三区", 0.93), ("五", 0.97),
              ("号楼", 0.96), ("停水", 0.99), ("了", 0.9), ("一", 0.97), ("整天", 0.52),
              ("家里", 0.94), ("有", 0.97), ("老人", 0.96)]


def call_transcript() -> tuple[str, dict[str, Any]]:
    """The cleaned text and the transcript_meta the IVR stores (asr.backlog.transcript_meta)."""
    text = clean_words([_Word(w, c) for w, c in CALL_WORDS]).text
    meta = {"low_confidence": [w for w, c in CALL_WORDS if c < 0.6],
            "words": [{"w": w, "c": c} for w, c in CALL_WORDS]}
    return text, meta


def make_ticket(
    sessions: sessionmaker[Session], domain: Domain, *, demand: str = WATER,
    phone: str = "13811112222", by: str = "operator", **kw: Any,
) -> str:
    """Create and accept (auto-dispatch) a ticket; returns its number."""
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=actor(s, by),
                                  channel=kw.pop("channel", "api"), caller_phone=phone,
                                  demand=demand, **kw)
        service.accept(session=s, domain=domain, ticket=t, actor=actor(s, by))
        s.commit()
        return t.number


def call_ticket(sessions: sessionmaker[Session], domain: Domain, recordings: Path,
                *, confidential: bool = False, phone: str = "13655556666") -> str:
    """A ticket as the IVR leaves it: transcript with confidences, recording, call record."""
    text, meta = call_transcript()
    call_id = f"call-{phone}-{int(confidential)}"
    wav = recordings / "2026" / f"{call_id}.wav"
    sha = write_wav(wav)
    number = make_ticket(sessions, domain, demand=text, phone=phone, channel="phone",
                         transcript=text, transcript_meta=meta, recording_path=str(wav),
                         recording_sha256=sha, call_id=call_id, confidential=confidential,
                         caller_name="王先生" if confidential else None)
    with sessions() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        now = domain.now()
        s.add(CallRecord(call_id=call_id, carrier="sip", caller=phone, callee="12345",
                         arrived_at=now - timedelta(minutes=3), answered_at=now,
                         ended_at=now, outcome="ticket", recording_path=str(wav),
                         recording_sha256=sha, recording_seconds=1.0, ticket_id=ticket.id))
        s.commit()
    return number


@dataclass
class Busy:
    """What `busy_day` made, for assertions."""

    call_ticket: str
    overdue: str
    escalated: str
    surveyed: str


def busy_day(sessions: sessionmaker[Session], domain: Domain, recordings: Path) -> Busy:
    """A week of tickets across units and categories, a survey, reminders, an escalation,
    a call still in progress and a transcription waiting for a model."""
    now = domain.now()
    past = [
        ("13700000001", "海淀区中关村大街的人行道上有个井盖丢了，晚上很危险。", 3),
        ("13700000002", "朝阳区安贞里小区物业不作为，楼道灯坏了一个月也不修。", 2),
        ("13700000003", "朝阳区安贞里小区物业不管楼道垃圾，臭气熏天。", 1),
        ("13700000004", "海淀区中关村南大街有商家卖过期食品。", 4),
        ("13700000005", "丰台区看丹路夜间施工噪音扰民，影响休息。", 5),
        ("13700000006", "朝阳区望京街道花家地北里停电了。", 6),
    ]
    for phone, text, days in past:
        # The two 安贞里 complaints name the same place: a 多诉 hot spot.
        place = {"address": "朝阳区安贞里小区"} if "安贞里" in text else {}
        make_ticket(sessions, domain, demand=text, phone=phone,
                    received_at=now - timedelta(days=days, hours=1), **place)
    overdue = make_ticket(sessions, domain, demand="朝阳区望京西园三区7号楼水管爆了，一直在漏水。",
                          phone="13700000007", received_at=now - timedelta(days=2))
    escalated = make_ticket(sessions, domain, demand="朝阳区望京西园四区停水两天了。",
                            phone="13700000008")
    surveyed = make_ticket(sessions, domain, demand="朝阳区望京西园二区自来水发黄。",
                           phone="13700000009", received_at=now - timedelta(hours=5))
    with sessions() as s:
        system = Actor.system("outbound")
        t = s.scalars(select(Ticket).where(Ticket.number == surveyed)).one()
        h = actor(s, "water-handler")
        service.sign(session=s, domain=domain, ticket=t, actor=h)
        service.reply(session=s, domain=domain, ticket=t, actor=h, text="已冲洗管网，水质恢复。",
                      outcome="resolved")
        service.close(session=s, domain=domain, ticket=t, actor=actor(s, "operator"))
        service.record_survey(session=s, domain=domain, ticket=t, actor=system,
                              resolved=True, satisfied=True, keys="11")
        e = s.scalars(select(Ticket).where(Ticket.number == escalated)).one()
        e.escalated = True
        service.record_event(session=s, ticket=e, actor=system, action="outbound_sms",
                             note="派单短信（第1次）：delivered",
                             data={"kind": "sms_dispatch", "to": "139****0030"})
        service.record_event(session=s, ticket=e, actor=system, action="outbound_call",
                             note="签收提醒电话（第1次）：no_answer",
                             data={"kind": "sign_call", "outcome": "no_answer"})
        service.record_event(session=s, ticket=e, actor=system, action="escalate",
                             note="派单后未签收（两次提醒未接），已提级至单位督办")
        s.add(CallRecord(call_id="live-1", carrier="sip", caller="+8613912345678",
                         callee="12345", arrived_at=now - timedelta(seconds=40),
                         outcome="in_progress", node="recording"))
        s.add(CallRecord(call_id="live-2", carrier="sip", caller=None, caller_raw="anonymous",
                         callee="12345", arrived_at=now - timedelta(seconds=20),
                         outcome="in_progress", node="recording"))
        s.commit()
    number = call_ticket(sessions, domain, recordings)
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        enqueue(session=s, ticket_id=t.id, recording_path=t.recording_path or "",
                recording_sha256=t.recording_sha256, call_id=t.call_id,
                reason="no speech model installed")
        s.commit()
    return Busy(call_ticket=number, overdue=overdue, escalated=escalated, surveyed=surveyed)
