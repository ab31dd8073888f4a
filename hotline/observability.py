"""Metrics (Prometheus) and logs (plain or JSON, phone numbers masked).

Ticket, call, backlog and survey figures are read from the database at scrape time rather
than counted in memory: every node then reports the same truth, and a restart loses
nothing. Process-local figures (calls live on this node) are registered by the parts
that own them.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from asr.jobs import JobStatus, TranscriptionJob
from ivr.callrecords import CallRecord
from ticketing.models import SurveyResult, Ticket, utcnow

PHONE_RE = re.compile(r"(?<!\d)(\+?86)?(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def mask_phones(text: str) -> str:
    """13812345678 → 138****5678 anywhere in a log line."""
    return PHONE_RE.sub(lambda m: f"{m.group(1) or ''}{m.group(2)}****{m.group(4)}", text)


class MaskingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phones(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; call id and ticket number travel as ``extra`` fields."""

    FIELDS = ("call_id", "ticket", "step")

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in self.FIELDS:
            if hasattr(record, key):
                out[key] = getattr(record, key)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(*, json_lines: bool, level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if json_lines
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    )
    handler.addFilter(MaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


class DatabaseCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        tickets = GaugeMetricFamily("hotline_tickets", "Tickets by state", labels=["status"])
        overdue = GaugeMetricFamily("hotline_tickets_overdue",
                                    "Open tickets past their deadline")
        calls = GaugeMetricFamily("hotline_calls", "Calls by outcome (all time)",
                                  labels=["outcome"])
        backlog = GaugeMetricFamily("hotline_asr_backlog",
                                    "Recordings waiting for transcription")
        surveys = GaugeMetricFamily("hotline_surveys", "Survey results by outcome",
                                    labels=["outcome"])
        with self.sessions() as s:
            for status, n in s.execute(select(Ticket.status, func.count()).group_by(Ticket.status)):
                tickets.add_metric([status], n)
            overdue.add_metric([], s.scalar(
                select(func.count()).select_from(Ticket).where(
                    Ticket.due_at < utcnow(), Ticket.closed_at.is_(None),
                    Ticket.status.not_in(["excluded", "archived"]),
                )) or 0)
            for outcome, n in s.execute(
                select(CallRecord.outcome, func.count()).group_by(CallRecord.outcome)
            ):
                calls.add_metric([outcome], n)
            backlog.add_metric([], s.scalar(
                select(func.count()).select_from(TranscriptionJob)
                .where(TranscriptionJob.status == JobStatus.PENDING.value)) or 0)
            for label, n in s.execute(
                select(SurveyResult.outcome, func.count()).group_by(SurveyResult.outcome)
            ):
                surveys.add_metric([label], n)
        yield from (tickets, overdue, calls, backlog, surveys)


class LiveGauge(Collector):
    """A figure this process knows (e.g. calls up on this node), read when scraped."""

    def __init__(self, name: str, doc: str, read: Callable[[], float]) -> None:
        self.name, self.doc, self.read = name, doc, read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        g = GaugeMetricFamily(self.name, self.doc)
        g.add_metric([], self.read())
        yield g


def make_registry(sessions: sessionmaker[Session]) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(sessions))
    return registry


router = APIRouter()


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    return Response(generate_latest(request.app.state.metrics), media_type=CONTENT_TYPE_LATEST)
