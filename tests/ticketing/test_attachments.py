"""Photos and documents with the handler's reply (issue 13), through the real API on SQLite
and PostgreSQL with the SHIPPED settings: stored under the data dir with their SHA-256,
typed by their own bytes, limited in size, read only within the ticket's scope, refused
when the stored file no longer matches, and still there after a restart."""

from __future__ import annotations

import hashlib
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from config import Settings, get_settings
from hotline.app import create_app
from tests.support.api import auth
from tests.support.city import City
from ticketing import attachments, service
from ticketing.context import Domain
from ticketing.inputs import InvalidInput
from ticketing.models import ReplyAttachment, Ticket, TicketEvent

WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"


def png(width: int = 4, height: int = 3, rgb: tuple[int, int, int] = (40, 160, 90)) -> bytes:
    """A real (decodable) PNG: signature, IHDR, one IDAT, IEND."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def pdf(text: str = "water restored") -> bytes:
    """A one-page PDF with a valid cross-reference table."""
    stream = f"BT /F1 12 Tf 20 20 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 60] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref)
    return bytes(out)


GIF = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00"
       b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
HTML = b"<html><script>alert(document.cookie)</script></html>"


@pytest.fixture
def client(settings: Settings, city: City) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def signed_ticket(client: TestClient, city: City) -> str:
    r = client.post("/api/v1/tickets", headers=auth(city, "operator"), json={
        "caller_phone": "13811112222", "demand": WATER, "category": "water"})
    assert r.status_code == 201, r.text
    number = r.json()["number"]
    r = client.post(f"/api/v1/tickets/{number}/sign", headers=auth(city, "water-handler"))
    assert r.json()["status"] == "signed"
    return number


def upload(client: TestClient, city: City, number: str, data: bytes, name: str,
           content_type: str, user: str = "water-handler"):
    return client.post(f"/api/v1/tickets/{number}/attachments", headers=auth(city, user),
                       files={"file": (name, data, content_type)})


def stored_files(settings: Settings) -> list[Path]:
    root = attachments.store_dir(settings)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_upload_reply_and_download_by_verifier_and_supervisor(
    client: TestClient, city: City, settings: Settings, sessions
) -> None:
    number = signed_ticket(client, city)
    photo, report = png(), pdf()
    # The client's name and type are not believed: the path goes, the bytes say PNG.
    r = upload(client, city, number, photo, "../../etc/现场照片.jpeg", "application/pdf")
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["media_type"] == "image/png" and first["filename"] == "现场照片.png"
    assert first["sha256"] == hashlib.sha256(photo).hexdigest()
    assert first["size"] == len(photo) and first["reply_event_id"] is None
    assert first["uploaded_by"] == "自来水集团承办人孙强" and first["problem"] is None
    second = upload(client, city, number, report, "维修单.pdf", "application/pdf").json()
    assert second["media_type"] == "application/pdf"

    # The file is where the hash says, under the data dir, with exactly the bytes sent.
    path = attachments.store_dir(settings) / first["sha256"][:2] / first["sha256"]
    assert path.read_bytes() == photo and path.is_relative_to(settings.data_dir)

    r = client.post(f"/api/v1/tickets/{number}/reply", headers=auth(city, "water-handler"),
                    json={"text": "管道已修复，现场照片和维修单见附件", "outcome": "resolved"})
    assert r.status_code == 200 and r.json()["status"] == "replied"
    listed = client.get(f"/api/v1/tickets/{number}/attachments",
                        headers=auth(city, "operator")).json()
    assert [a["id"] for a in listed] == [first["id"], second["id"]]
    reply_event = listed[0]["reply_event_id"]
    assert reply_event is not None and listed[1]["reply_event_id"] == reply_event

    for user in ("operator", "supervisor", "water-handler"):  # 核实, oversight, the handler
        r = client.get(f"/api/v1/tickets/{number}/attachments/{first['id']}",
                       headers=auth(city, user))
        assert r.status_code == 200 and r.content == photo
        assert r.headers["content-type"] == "image/png"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "no-store" in r.headers["cache-control"]
    r = client.get(f"/api/v1/tickets/{number}/attachments/{second['id']}",
                   headers=auth(city, "operator"))
    assert r.content == report and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("attachment;")
    assert "filename*=UTF-8''%E7%BB%B4%E4%BF%AE%E5%8D%95.pdf" in r.headers["content-disposition"]

    # Each upload is audited on the ticket with its hash; the reply names its files.
    with sessions() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        events = service.events_of(session=s, ticket=ticket)
    uploads = [e for e in events if e.action == attachments.UPLOAD_EVENT]
    assert [e.data["sha256"] for e in uploads] == [first["sha256"], second["sha256"]]
    assert all(e.actor_name == "自来水集团承办人孙强" for e in uploads)
    reply = next(e for e in events if e.action == "reply")
    assert reply.id == reply_event and reply.data["attachments"] == [first["id"], second["id"]]


def test_same_bytes_twice_are_stored_once(client: TestClient, city: City,
                                          settings: Settings) -> None:
    number = signed_ticket(client, city)
    photo = png(rgb=(1, 2, 3))
    a = upload(client, city, number, photo, "a.png", "image/png").json()
    b = upload(client, city, number, photo, "b.png", "image/png").json()
    assert a["id"] != b["id"] and a["sha256"] == b["sha256"]
    assert len(stored_files(settings)) == 1


@pytest.mark.parametrize(("data", "name", "content_type"), [
    (GIF, "photo.jpg", "image/jpeg"),  # an allowed name and type, bytes of another kind
    (HTML, "scan.pdf", "application/pdf"),
    (b"PK\x03\x04" + b"\x00" * 40, "report.png", "image/png"),  # a zip posing as PNG
    (b"\xff\xd8", "cut.jpg", "image/jpeg"),  # too short to be a JPEG
])
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # refused by its bytes, unstored
def test_wrong_type_refused_by_its_bytes(client: TestClient, city: City, settings: Settings,
                                         data: bytes, name: str, content_type: str) -> None:
    number = signed_ticket(client, city)
    r = upload(client, city, number, data, name, content_type)
    assert r.status_code == 422 and r.json()["field"] == "file", r.text
    assert client.get(f"/api/v1/tickets/{number}/attachments",
                      headers=auth(city, "water-handler")).json() == []
    assert stored_files(settings) == []


def test_jpeg_accepted_by_its_signature(client: TestClient, city: City) -> None:
    number = signed_ticket(client, city)
    jfif = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00" + b"\x00" * 64
    r = upload(client, city, number, jfif, "IMG_0001", "application/octet-stream")
    assert r.status_code == 201 and r.json()["media_type"] == "image/jpeg"
    assert r.json()["filename"] == "IMG_0001.jpg"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # refused by its bytes, unstored
def test_empty_file_refused(client: TestClient, city: City, settings: Settings) -> None:
    number = signed_ticket(client, city)
    r = upload(client, city, number, b"", "empty.png", "image/png")
    assert r.status_code == 422 and r.json()["field"] == "file"
    assert stored_files(settings) == []


def test_too_big_refused_at_the_shipped_limit(client: TestClient, city: City,
                                              settings: Settings) -> None:
    limit = Settings().attachments.max_bytes
    assert settings.attachments.max_bytes == limit == 10 * 1024 * 1024  # shipped
    number = signed_ticket(client, city)
    # Exactly the limit is accepted ...
    exact = png() + b"\x00" * (limit - len(png()))
    r = upload(client, city, number, exact, "big.png", "image/png")
    assert r.status_code == 201 and r.json()["size"] == limit
    # ... one byte more is refused by the upload itself (the request fits the body limit),
    over = exact + b"\x00"
    r = upload(client, city, number, over, "bigger.png", "image/png")
    assert r.status_code == 413 and "over" in r.json()["detail"]
    # ... and a request far over it before it is read (the body limit of upload paths).
    huge = exact + b"\x00" * (settings.max_body_bytes + 1)
    r = upload(client, city, number, huge, "huge.png", "image/png")
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"
    assert len(stored_files(settings)) == 1
    # Other paths keep the ordinary body limit.
    r = client.post(f"/api/v1/tickets/{number}/reply", headers=auth(city, "water-handler"),
                    content=b"{" + b" " * settings.max_body_bytes + b"}",
                    )
    assert r.status_code == 413


def test_other_unit_and_other_roles(client: TestClient, city: City, settings: Settings) -> None:
    number = signed_ticket(client, city)
    att = upload(client, city, number, png(), "p.png", "image/png").json()
    base = f"/api/v1/tickets/{number}/attachments"
    other = auth(city, "power-handler")  # a handler of another unit: the ticket is absent
    assert client.get(base, headers=other).status_code == 404
    assert client.get(f"{base}/{att['id']}", headers=other).status_code == 404
    r = client.post(base, headers=other, files={"file": ("x.png", png(), "image/png")})
    assert r.status_code == 404
    # The verifier reads but does not add evidence to someone else's reply.
    r = upload(client, city, number, png(), "op.png", "image/png", user="operator")
    assert r.status_code == 403
    # No token, no file.
    assert client.get(f"{base}/{att['id']}").status_code == 401
    # An attachment id of another ticket is not found through this one.
    other_number = signed_ticket(client, city)
    assert client.get(f"/api/v1/tickets/{other_number}/attachments/{att['id']}",
                      headers=auth(city, "water-handler")).status_code == 404
    # Once replied, the reply is closed to new files (the transition table's rule).
    client.post(f"/api/v1/tickets/{number}/reply", headers=auth(city, "water-handler"),
                json={"text": "已修复", "outcome": "resolved"})
    r = upload(client, city, number, png(), "late.png", "image/png")
    assert r.status_code == 409 and r.json()["error"] == "invalid_transition"
    assert len(stored_files(settings)) == 1


def test_tampered_or_missing_file_reported_not_served(
    client: TestClient, city: City, settings: Settings, sessions
) -> None:
    number = signed_ticket(client, city)
    good = upload(client, city, number, png(), "ok.png", "image/png").json()
    bad = upload(client, city, number, pdf(), "bad.pdf", "application/pdf").json()
    gone = upload(client, city, number, png(rgb=(9, 9, 9)), "gone.png", "image/png").json()
    store = attachments.store_dir(settings)
    tampered = store / bad["sha256"][:2] / bad["sha256"]
    tampered.write_bytes(pdf("water NOT restored"))
    (store / gone["sha256"][:2] / gone["sha256"]).unlink()
    h = auth(city, "supervisor")
    r = client.get(f"/api/v1/tickets/{number}/attachments/{bad['id']}", headers=h)
    assert r.status_code == 409 and "SHA-256" in r.json()["detail"]
    assert b"NOT restored" not in r.content
    assert client.get(f"/api/v1/tickets/{number}/attachments/{gone['id']}",
                      headers=h).status_code == 404
    assert client.get(f"/api/v1/tickets/{number}/attachments/{good['id']}",
                      headers=h).status_code == 200
    listed = {a["id"]: a["problem"] for a in client.get(
        f"/api/v1/tickets/{number}/attachments", headers=h).json()}
    assert listed == {good["id"]: None, bad["id"]: "mismatch", gone["id"]: "missing"}
    with sessions() as s:
        checked, found = attachments.verify(session=s, settings=settings)
    assert checked == 3
    assert {(f.attachment_id, f.problem) for f in found} == {(bad["id"], "mismatch"),
                                                            (gone["id"], "missing")}


def test_file_and_row_survive_a_restart(settings: Settings, city: City) -> None:
    photo = png(rgb=(200, 10, 10))
    with TestClient(create_app(settings)) as first:
        number = signed_ticket(first, city)
        att = upload(first, city, number, photo, "现场.png", "image/png").json()
        first.post(f"/api/v1/tickets/{number}/reply", headers=auth(city, "water-handler"),
                   json={"text": "已修复", "outcome": "resolved"})
    # A new process: a new app, engine and session factory on the same database and dir.
    with TestClient(create_app(settings)) as second:
        listed = second.get(f"/api/v1/tickets/{number}/attachments",
                            headers=auth(city, "operator")).json()
        assert [(a["id"], a["sha256"], a["problem"]) for a in listed] == [
            (att["id"], hashlib.sha256(photo).hexdigest(), None)]
        assert listed[0]["reply_event_id"] is not None
        r = second.get(f"/api/v1/tickets/{number}/attachments/{att['id']}",
                       headers=auth(city, "operator"))
        assert r.status_code == 200 and r.content == photo


def test_required_categories_need_an_attachment_at_reply(
    settings: Settings, sessions, city: City
) -> None:
    assert Settings().attachments.required_categories == []  # shipped: never required
    domain = Domain.load(settings.model_copy(update={
        "attachments": settings.attachments.model_copy(
            update={"required_categories": ["water"]})}))
    op, handler = city.actor("operator"), city.actor("water-handler")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811112222", demand=WATER, category="water")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        with pytest.raises(InvalidInput) as refused:
            service.reply(session=s, domain=domain, ticket=t, actor=handler,
                          text="已修复", outcome="resolved")
        assert refused.value.field == "attachment" and t.status == "signed"
        att = attachments.add(session=s, domain=domain, ticket=t, actor=handler,
                              data=png(), filename="现场.png")
        service.reply(session=s, domain=domain, ticket=t, actor=handler,
                      text="已修复", outcome="resolved")
        s.commit()
        assert t.status == "replied"
        reply = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == t.id,
                                                    TicketEvent.action == "reply")).one()
        assert s.get(ReplyAttachment, att.id).event_id == reply.id
        # Sent back for evidence, the next reply needs a file of its own.
        service.send_back(session=s, domain=domain, ticket=t, actor=op, reason="照片不清楚")
        with pytest.raises(InvalidInput):
            service.reply(session=s, domain=domain, ticket=t, actor=handler,
                          text="已修复", outcome="resolved")


def test_shipped_settings_reply_without_attachment(
    domain: Domain, sessions, city: City
) -> None:
    op, handler = city.actor("operator"), city.actor("water-handler")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811112222", demand=WATER, category="water")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        service.reply(session=s, domain=domain, ticket=t, actor=handler, text="已修复",
                      outcome="resolved")
        assert t.status == "replied"
        reply = service.events_of(session=s, ticket=t)[-1]
        assert reply.action == "reply" and "attachments" not in reply.data


def test_cli_verify_reports_a_tampered_file(sqlite_url: str, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from hotline.cli import app as cli
    from tests.support.city import seed_city
    from ticketing.db import make_engine, make_session_factory

    config = Settings(database_url=sqlite_url, data_dir=tmp_path / "data")
    monkeypatch.setenv("HOTLINE_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(config.data_dir))
    engine = make_engine(sqlite_url)
    try:
        city = seed_city(make_session_factory(engine), Domain.load(config))
        with TestClient(create_app(config)) as client:
            number = signed_ticket(client, city)
            att = upload(client, city, number, png(), "p.png", "image/png").json()
    finally:
        engine.dispose()
    runner = CliRunner()
    get_settings.cache_clear()  # the command reads the environment set above
    try:
        r = runner.invoke(cli, ["attachments", "verify"])
        assert r.exit_code == 0 and "1 attachment(s) checked, 0 problem(s)" in r.output
        stored = attachments.store_dir(config) / att["sha256"][:2] / att["sha256"]
        stored.write_bytes(png(5, 5))
        r = runner.invoke(cli, ["attachments", "verify"])
        assert r.exit_code == 1 and f"mismatch attachment {att['id']}" in r.output
    finally:
        get_settings.cache_clear()


# --- no file without a committed row, and never a row without its file ------------------


def _blocked(settings: Settings, data: bytes) -> Path:
    """The file's place in the store taken by a directory: writing it fails, as a full or
    broken disk would fail it, at COMMIT."""
    sha = hashlib.sha256(data).hexdigest()
    place = attachments.store_dir(settings) / sha[:2] / sha
    place.mkdir(parents=True)
    return place


def test_api_upload_stores_its_file_only_with_its_row(
    settings: Settings, city: City, sessions
) -> None:
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        number = signed_ticket(c, city)
        shared = png(rgb=(7, 7, 7))
        assert upload(c, city, number, shared, "a.png", "image/png").status_code == 201
        fresh = pdf("a page that cannot be stored")
        place = _blocked(settings, fresh)
        r = upload(c, city, number, fresh, "b.pdf", "application/pdf")
        assert r.status_code == 500
        with sessions() as s:
            rows = s.scalars(select(ReplyAttachment)).all()
            assert [a.sha256 for a in rows] == [hashlib.sha256(shared).hexdigest()]
            assert [e.action for e in s.scalars(select(TicketEvent)).all()].count(
                attachments.UPLOAD_EVENT) == 1
        place.rmdir()
        assert stored_files(settings) == [attachments.store_dir(settings)
                                          / rows[0].sha256[:2] / rows[0].sha256]
        r = upload(c, city, number, fresh, "b.pdf", "application/pdf")
        assert r.status_code == 201 and r.json()["problem"] is None


def test_failed_commit_removes_the_files_it_wrote_but_not_a_shared_one(
    settings: Settings, city: City, sessions, domain: Domain
) -> None:
    op, handler = city.actor("operator"), city.actor("water-handler")
    shared, fresh, blocked = png(rgb=(3, 3, 3)), png(rgb=(4, 4, 4)), pdf("blocked")
    with sessions() as s:
        tickets = []
        for _ in range(2):
            t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                      caller_phone="13811112222", demand=WATER,
                                      category="water")
            service.accept(session=s, domain=domain, ticket=t, actor=op)
            service.sign(session=s, domain=domain, ticket=t, actor=handler)
            tickets.append(t)
        s.commit()
        first, second = tickets
        kept = attachments.add(session=s, domain=domain, ticket=first, actor=handler,
                               data=shared, filename="现场.png")
        s.commit()
        kept_id = kept.id
        place = _blocked(settings, blocked)
        for data in (shared, fresh, blocked):  # the fresh file is written before the failure
            attachments.add(session=s, domain=domain, ticket=second, actor=handler, data=data,
                            filename="x")
        service.reply(session=s, domain=domain, ticket=second, actor=handler, text="已修复",
                      outcome="resolved")
        with pytest.raises(OSError):
            s.commit()
        s.rollback()
        assert s.get_one(Ticket, second.id).status == "signed"
        assert [a.id for a in s.scalars(select(ReplyAttachment))] == [kept_id]
    place.rmdir()
    sha = hashlib.sha256(shared).hexdigest()
    assert stored_files(settings) == [attachments.store_dir(settings) / sha[:2] / sha]
    with sessions() as s:
        assert attachments.problem(settings, s.get_one(ReplyAttachment, kept_id)) is None


def test_discard_unreferenced_never_touches_a_referenced_file(
    client: TestClient, city: City, settings: Settings, sessions
) -> None:
    number = signed_ticket(client, city)
    photo = png(rgb=(5, 6, 7))
    sha = upload(client, city, number, photo, "a.png", "image/png").json()["sha256"]
    path = attachments.store_dir(settings) / sha[:2] / sha
    engine = sessions.kw["bind"]
    assert not attachments.discard_unreferenced(engine, path, sha)
    assert path.read_bytes() == photo
    stray = attachments.store_dir(settings) / "ab" / ("ab" + "0" * 62)
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"left by a crash")
    assert attachments.discard_unreferenced(engine, stray, stray.name)
    assert not stray.exists() and path.read_bytes() == photo


def test_a_file_rolled_back_to_a_savepoint_is_not_stored(
    settings: Settings, city: City, sessions, domain: Domain
) -> None:
    op, handler = city.actor("operator"), city.actor("water-handler")
    with sessions() as s:
        t = service.create_ticket(session=s, domain=domain, actor=op, channel="api",
                                  caller_phone="13811112222", demand=WATER, category="water")
        service.accept(session=s, domain=domain, ticket=t, actor=op)
        service.sign(session=s, domain=domain, ticket=t, actor=handler)
        savepoint = s.begin_nested()
        attachments.add(session=s, domain=domain, ticket=t, actor=handler,
                        data=png(rgb=(8, 8, 8)), filename="撤回.png")
        savepoint.rollback()
        kept = attachments.add(session=s, domain=domain, ticket=t, actor=handler,
                               data=pdf("kept"), filename="保留.pdf")
        s.commit()
        assert stored_files(settings) == [
            attachments.store_dir(settings) / kept.sha256[:2] / kept.sha256]
