"""Metrics (Prometheus) and logs (plain or JSON, phone numbers masked).

Ticket, call, backlog and survey figures are read from the database at scrape time rather
than counted in memory: every node then reports the same truth, and a restart loses
nothing. The figures over weeks of tickets (``SlowFigures``) are reused for
``metrics_figures_ttl_seconds`` rather than recomputed at every scrape. Process-local
figures (calls live on this node, answer time, ASR speed, reminder lateness) live in
prometheus_client's process registry, defined by the parts that own them
(``*/telemetry.py``), and are served beside the database ones.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote_plus

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, sessionmaker

# Imported for their registrations in the process registry: a node that never used a part
# still reports that part's metrics (at zero) rather than leaving a gap in the dashboard.
import asr.telemetry  # noqa: F401
import outbound.telemetry  # noqa: F401
import telephony.sip.metrics  # noqa: F401
from asr.jobs import JobStatus, TranscriptionJob
from config.settings import AnalyticsSettings
from ivr.callrecords import CallRecord, calls_up
from outbound.models import Kind, OutboundTask, TaskStatus
from ticketing import analytics, queries
from ticketing.actors import Actor
from ticketing.models import SupervisionCase, SurveyResult, Ticket, utcnow
from ticketing.phones import ascii_digits, mask, normalise
from ticketing.reports import figures, utility_dispatch

RATE_FIGURES = ("response_rate", "on_time_closure_rate", "feedback_rate", "resolution_rate",
                "satisfaction_rate", "match_rate", "utility_dispatch_rate")

# Where a log line holds a phone number; each one found is masked by the one rule,
# ``ticketing.phones.mask``, so a number reads the same in the log as in the console
# (review51: "+8613812345678" was "+86138****5678" here and "138****5678" there).
# A mobile number as it appears in SIP and in our own text: bare, +86 / 86 / 0086, the
# trunk prefix 0 an outbound URI may carry (sip:013812345678@…, phones.dial_forms), and
# grouped by a space or hyphen (138 1234 5678). The prefix is what lets a number that
# follows another digit be found at all (0086…, 0138…).
PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[ -]?|0086[ -]?|0)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")
# A landline, always written with what makes it one: the trunk prefix 0 or the country code
# before the area code (010, 021, 0755, "(010)"; +86 10...), so a ticket number or a count
# is never taken for one. And a foreign number: + or 00, a country code other than 86, and
# 7 to 12 more digits, grouped by single spaces or hyphens as people write them
# (+44 20 7946 0958, +1 202-555-0123, +886-912-345-678; review51: logged whole before).
# Both were logged whole: the call's summary line names the caller as the From user gave
# it ("from 01065123456", "from +85291234567"), the outbound worker the number it could
# not dial (judge25's trial); landlines are a good share of a 12345 line's callers. Not
# after or before a letter, a dot or an underscore, nor after a hyphen (a hex id, a
# hash, a file name, a decimal fraction, a UUID's groups have digit runs too).
_EDGE = r"(?<![0-9A-Za-z._-])"
_END = r"(?![0-9A-Za-z_]|\.\d)"
LANDLINE_RE = re.compile(_EDGE + r"(?:\+?86[ -]?|0086[ -]?|0|\(0)(?:10|2\d|[3-9]\d\d)\)?"
                         r"[ -]?\d{3,4}[ -]?\d{4}" + _END)
FOREIGN_RE = re.compile(_EDGE + r"(?:\+|00)(?!86)[1-9](?:[ -]?\d){8,13}" + _END)
# A call's number as the SIP front end hands it on, in its RFC 3966 context
# (``65123456;phone-context=+86-21``, ``ticketing.phones.in_context``): the context names
# its area, so the whole is a number (review77: logged whole). Bounded: unbounded runs
# rescanned a long digit run from each digit (review132: seconds for a 60 KB line).
CONTEXT_RE = re.compile(_EDGE + r"\+?\d[\d ()-]{0,40};phone-context=\+[\d()-]{0,20}\d",
                        re.IGNORECASE)


def mask_phones(text: str) -> str:
    """Every phone number in a log line masked as ``ticketing.phones.mask`` masks it:
    13812345678 → 138****5678, 010-6512 3456 → 010****3456, +852 9123 4567 →
    +852****4567."""
    if not text.isascii():
        # Full-width digits (an input method's １３９…) are a number to the search and to
        # ``normalise``: read as ASCII ones, or the line showed them whole (review132).
        text = ascii_digits(text)
    text = CONTEXT_RE.sub(lambda found: mask(found.group(0)) or "", text)
    for found in (PHONE_RE, LANDLINE_RE, FOREIGN_RE):
        text = found.sub(_masked, text)
    return text


def _masked(found: re.Match[str]) -> str:
    """The number found, masked; digits grouped after it that make it no number (a count
    after a foreign number: "+44 20 7946 0958 12 calls") are left as they are."""
    whole = found.group(0)
    number, rest = whole, ""
    while normalise(number) is None:
        cut = max(number.rfind(" "), number.rfind("-"))
        if cut <= 0:
            return mask(whole) or ""  # no reading of it is a number: masked whole
        number, rest = number[:cut], number[cut:] + rest
    return (mask(number) or "") + rest


# A citizen's status page opens by its token alone (``ticketing.citizen``): whoever reads
# the link reads the page, so a log line names the page, never its key.
STATUS_LINK_RE = re.compile(r"(?<=/s/)[A-Za-z0-9_-]+")

# uvicorn's access lines: (client, method, target, HTTP version, status). The target is the
# request's path and query as sent, percent-encoded: a phone search (?q=139%201111%202222)
# or a status link (/s/<token>) the masks must read decoded (priv44).
ACCESS_LOGGER = "uvicorn.access"
# What stays unencoded when the decoded target is written again (the mask's asterisks too).
_TARGET_SAFE = "/?&=:;,+*@!$'()~"
# How much of a target an access line keeps. The client sends up to the head's 64 KiB and
# the masks run on the event loop before the answer goes: a 60 KB ``?q=1+1+1…`` cost 20 s
# of masking, 5,000 numbers 8 s (review132). A console or API target is far shorter.
ACCESS_TARGET_CHARS = 256
# What a cut may have split: the digits and separators of a number, not shown in part.
_CUT_NUMBER_RE = re.compile(r"[\d +()-]+$")


def mask_personal(text: str) -> str:
    """``mask_phones``, and a status page's token cut from its link."""
    return STATUS_LINK_RE.sub("***", mask_phones(text))


def _decoded_target(record: logging.LogRecord) -> None:
    """The access line's target decoded, masked and encoded again (so a %0A in it stays
    one, and no line can be forged into the log)."""
    if record.name != ACCESS_LOGGER or not isinstance(record.args, tuple) \
            or len(record.args) != 5:
        return
    client, method, target, version, status = record.args
    record.args = (client, method, shown_target(unquote_plus(str(target))), version, status)


def shown_target(decoded: str) -> str:
    """A request's decoded path (and query) as a log line may show it: cut, masked, and
    encoded again, so a %0A sent in it cannot start a line of the sender's making (the
    access log; ``hotline.refusals``, whose ASGI path arrives decoded: review145)."""
    if len(decoded) > ACCESS_TARGET_CHARS:
        decoded = _CUT_NUMBER_RE.sub("", decoded[:ACCESS_TARGET_CHARS]) + "..."
    return quote(mask_personal(decoded), safe=_TARGET_SAFE)


class MaskingFilter(logging.Filter):
    """Masks numbers (and status links) in the message and in a logged exception's text: a
    SIP error's traceback quotes headers (From: <sip:138…>) that the message never shows."""

    _plain = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        _decoded_target(record)
        message = record.getMessage()
        masked = mask_personal(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            # Formatters use exc_text when it is set (JsonFormatter too), so the masked
            # text is the only one any handler prints.
            record.exc_text = self._plain.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_personal(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_personal(record.stack_info)
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
        if record.exc_info or record.exc_text:
            out["exc"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class _SkippedTickFilter(logging.Filter):
    """Every scheduled job here runs one at a time (max_instances=1, coalesce): a tick due
    while the last still runs is skipped by design, not a fault worth a WARNING (the first
    1 s outbound tick outlasts its interval at every start, beside the warm-up)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)


_SKIPPED_TICKS = _SkippedTickFilter()


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
    # uvicorn's own logging set-up (any earlier ``uvicorn.Config`` with its default
    # ``log_config`` in this process) gives these loggers handlers of their own and stops
    # them propagating: their lines then bypass the masking filter (priv44's access log).
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        own = logging.getLogger(name)
        own.handlers.clear()
        own.propagate = True
    # APScheduler logs every run of every job at INFO (several lines a second here): that
    # drowns the one-line-per-call-step log operators read. Its warnings still show.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))
    logging.getLogger("apscheduler.scheduler").addFilter(_SKIPPED_TICKS)


@dataclass(frozen=True)
class SlowFigures:
    """The figures that read weeks of tickets (the 30-day rates, hot spots, 一诉多办) or
    every utility ticket ever: seconds of database work on a big install, and they move
    slowly, so a scrape every 15 s reuses them for ``metrics_figures_ttl_seconds``."""

    rates: dict[str, float]
    handling_hours: float | None
    districts: list[tuple[str, int]]
    community_warnings: int
    utility_in_window: int
    utility_counted: int


class DatabaseCollector(Collector):
    def __init__(self, sessions: sessionmaker[Session], *, utility_window: timedelta,
                 confirm_window: timedelta,
                 analytics: AnalyticsSettings | None = None, figures_ttl: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.sessions = sessions
        self.utility_window = utility_window
        self.confirm_window = confirm_window
        self.analytics = analytics or AnalyticsSettings()
        self.figures_ttl = figures_ttl
        self.clock = clock
        self._figures: tuple[float, SlowFigures] | None = None  # (clock when computed, ...)
        self._figures_lock = threading.Lock()

    def slow_figures(self, now: datetime) -> SlowFigures:
        """The cached figures, recomputed once they are ``figures_ttl`` seconds old.

        Computed in a session of their own, before the scrape opens its own: a second
        scrape waiting here then holds no connection (on SQLite, no write lock) that the
        computing one would need."""
        with self._figures_lock:
            if self._figures is not None and self.clock() - self._figures[0] < self.figures_ttl:
                return self._figures[1]
            taken = self.clock()
            system = Actor.system("metrics")
            with self.sessions() as s:
                warnings = len(analytics.community_warnings(
                    session=s, actor=system, now=now,
                    days=self.analytics.related_window_days,
                    threshold=self.analytics.community_warn_tickets, limit=10_000))
                districts = [(place.district or "", place.tickets)
                             for place in analytics.place_hot_spots(
                                 session=s, actor=system, level="district",
                                 since=now - timedelta(days=30), by_category=False,
                                 min_tickets=1, limit=100)]
                month = figures(session=s, actor=system, now=now,
                                since=now - timedelta(days=30),
                                utility_window=self.utility_window)
                in_window, counted = utility_dispatch(session=s, conds=[], now=now,
                                                      window=self.utility_window)
            rates = {name: getattr(month, name) for name in RATE_FIGURES
                     if getattr(month, name) is not None}
            found = SlowFigures(rates, month.average_handling_hours, districts, warnings,
                                in_window, counted)
            self._figures = (taken, found)
            return found

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
        waiting = GaugeMetricFamily(
            "hotline_outbound_due", "Outbound work items due and not yet taken", labels=["kind"])
        oldest = GaugeMetricFamily(
            "hotline_outbound_oldest_due_seconds",
            "How long the oldest due outbound item has waited (0: none waiting); grows when "
            "no worker runs", labels=["kind"])
        live = GaugeMetricFamily("hotline_calls_in_progress",
                                 "Calls not yet ended, by the node that took them",
                                 labels=["node"])
        utilities = GaugeMetricFamily(
            "hotline_utility_dispatch_tickets",
            "Utility (水电气暖) tickets dispatched, or undispatched past their window, by "
            "whether the first dispatch came within the window (all time)",
            labels=["in_window"])
        utility_rate = GaugeMetricFamily(
            "hotline_utility_dispatch_in_window_ratio",
            "Share of utility tickets dispatched within the window (10 minutes), all time")
        rates = GaugeMetricFamily(
            "hotline_rate_30d",
            "三率两度 and the other rates of /api/v1/stats (docs/metrics.md) over the tickets "
            "received in the last 30 days; absent while a rate has nothing to count",
            labels=["figure"])
        handling = GaugeMetricFamily(
            "hotline_average_handling_hours_30d",
            "平均办理时长: call to 办结, tickets received in the last 30 days")
        cases = GaugeMetricFamily("hotline_supervision_cases",
                                  "多诉督办 records by status (all time)", labels=["status"])
        warnings = GaugeMetricFamily(
            "hotline_community_warnings",
            "一诉多办: communities with analytics.community_warn_tickets tickets of one "
            "category within analytics.related_window_days")
        districts = GaugeMetricFamily(
            "hotline_tickets_30d_by_district",
            "Tickets received in the last 30 days per district (hot spots; excluded ones left "
            "out; district \"\" when the caller named none)", labels=["district"])
        held = GaugeMetricFamily(
            "hotline_tickets_held",
            "Tickets held for the operator, not dispatched, because their words say too little "
            "(docs/classification.md), by whether the confirmation window "
            "(deadlines.confirm_held_seconds) has passed since the call", labels=["overdue"])
        now = utcnow()
        slow = self.slow_figures(now)
        warnings.add_metric([], slow.community_warnings)
        for district, n in slow.districts:
            districts.add_metric([district], n)
        for name, value in slow.rates.items():
            rates.add_metric([name], value)
        if slow.handling_hours is not None:
            handling.add_metric([], slow.handling_hours)
        utilities.add_metric(["true"], slow.utility_in_window)
        utilities.add_metric(["false"], slow.utility_counted - slow.utility_in_window)
        if slow.utility_counted:
            utility_rate.add_metric([], slow.utility_in_window / slow.utility_counted)
        with self.sessions() as s:
            counts = dict(s.execute(select(SupervisionCase.status, func.count())
                                    .group_by(SupervisionCase.status)).all())
            for status in ("open", "closed"):
                cases.add_metric([status], counts.get(status, 0))
            for status, n in s.execute(select(Ticket.status, func.count()).group_by(Ticket.status)):
                tickets.add_metric([status], n)
            overdue.add_metric([], s.scalar(
                select(func.count()).select_from(Ticket).where(queries.overdue(now))) or 0)
            late = queries.held_overdue(now, self.confirm_window)
            for is_late, n in ((True, late), (False, and_(queries.held(), ~late))):
                held.add_metric([str(is_late).lower()], s.scalar(
                    select(func.count()).select_from(Ticket).where(n)) or 0)
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
            # Every kind, zero included: an alert on "oldest > N" needs a series to watch.
            due = {k.value: (0, 0.0) for k in Kind}
            for kind, n, first in s.execute(
                select(OutboundTask.kind, func.count(), func.min(OutboundTask.due_at))
                .where(OutboundTask.status == TaskStatus.PENDING.value,
                       OutboundTask.due_at <= now)
                .group_by(OutboundTask.kind)
            ):
                due[kind] = (n, max(0.0, (now - _aware(first)).total_seconds()))
            for kind, (n, age) in sorted(due.items()):
                waiting.add_metric([kind], n)
                oldest.add_metric([kind], age)
            for node, n in s.execute(
                select(CallRecord.node, func.count())
                .where(*calls_up(now)).group_by(CallRecord.node)
            ):
                live.add_metric([node or ""], n)
        yield from (tickets, overdue, held, calls, backlog, surveys, waiting, oldest, live,
                    utilities, utility_rate, rates, handling, cases, warnings, districts)


def _aware(value: datetime) -> datetime:
    # min() over a column comes back without the column type's conversion on SQLite.
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class ProcessCollector(Collector):
    """What this process counts itself (calls up, answer time, ASR speed, reminder lateness,
    flood drops): the metrics ivr/, asr/ and outbound/ keep in prometheus_client's process
    registry, plus its process and garbage-collector figures."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def make_registry(sessions: sessionmaker[Session], *, utility_window: timedelta,
                  confirm_window: timedelta,
                  analytics: AnalyticsSettings | None = None, figures_ttl: float = 60.0,
                  clock: Callable[[], float] = time.monotonic) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(DatabaseCollector(sessions, utility_window=utility_window,
                                        confirm_window=confirm_window,
                                        analytics=analytics, figures_ttl=figures_ttl,
                                        clock=clock))
    registry.register(ProcessCollector())
    return registry


METRICS_FORBIDDEN = ("forbidden: set metrics_token and send it as a bearer token, or scrape "
                     "from this host\n")


# Headers a proxy adds: a request carrying one was relayed, so its loopback peer address
# says nothing about who sent it.
_RELAYED = ("forwarded", "x-forwarded-for", "x-real-ip")


def peer_allowed(host: str, headers: Mapping[str, str], token: str) -> bool:
    """Who may read /metrics and the details of /healthz (here, and on the status listener
    of a node without the API, ``hotline.status``). With ``metrics_token`` set: that bearer
    token, compared in constant time. Without: loopback clients only, and not through a
    proxy (the figures name nodes, units and outcomes; not for the internet). ``headers``
    looked up case-insensitively."""
    if token:
        scheme, _, given = (headers.get("authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            given.strip().encode(), token.encode())
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
    return loopback and not any(h in headers for h in _RELAYED)
