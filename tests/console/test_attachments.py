"""Reply attachments in the console (issue 13): the handler's reply form takes files, the
verifier (核实) and the supervisor open them from the ticket page; the API's rules."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from config import Settings
from hotline.app import create_app
from tests.console.conftest import log_in
from tests.console.seed import make_ticket
from tests.support.city import City
from tests.ticketing.test_attachments import GIF, pdf, png
from ticketing import attachments
from ticketing.context import Domain
from ticketing.models import ReplyAttachment, Ticket

Users = Callable[[str], TestClient]


def reply(c: TestClient, number: str, files: list[tuple[str, bytes, str]], **form: str):
    return c.post(f"/console/tickets/{number}/reply",
                  data={"csrf": c.csrf, "text": "已修复", "outcome": "resolved", **form},
                  files=[("files", f) for f in files])


def status_of(sessions, number: str) -> str:
    with sessions() as s:
        return s.scalars(select(Ticket.status).where(Ticket.number == number)).one()


def test_reply_with_files_then_verifier_and_supervisor_open_them(
    as_user: Users, sessions, domain: Domain
) -> None:
    n = make_ticket(sessions, domain)
    h, op, sup = as_user("water-handler"), as_user("operator"), as_user("supervisor")
    assert h.post(f"/console/tickets/{n}/sign", data={"csrf": h.csrf}).status_code == 303
    page = h.get(f"/console/tickets/{n}").text
    assert 'enctype="multipart/form-data"' in page and 'type="file" name="files"' in page
    photo, report = png(), pdf()
    r = reply(h, n, [("现场.png", photo, "image/png"), ("维修单.pdf", report, "application/pdf")])
    assert r.status_code == 303, r.text
    assert status_of(sessions, n) == "replied"
    with sessions() as s:
        rows = s.scalars(select(ReplyAttachment).order_by(ReplyAttachment.id)).all()
        assert [(a.filename, a.sha256) for a in rows] == [
            ("现场.png", hashlib.sha256(photo).hexdigest()),
            ("维修单.pdf", hashlib.sha256(report).hexdigest())]
        assert rows[0].event_id is not None and rows[0].event_id == rows[1].event_id
        ids = [a.id for a in rows]
    for user in (op, sup):
        page = user.get(f"/console/tickets/{n}").text
        assert f'href="/console/tickets/{n}/attachments/{ids[0]}">现场.png</a>' in page
        assert f'href="/console/tickets/{n}/attachments/{ids[1]}">维修单.pdf</a>' in page
        r = user.get(f"/console/tickets/{n}/attachments/{ids[0]}")
        assert r.status_code == 200 and r.content == photo
        assert r.headers["content-type"] == "image/png"
    # The audit trail on the page names each upload.
    assert "上传附件：现场.png" in op.get(f"/console/tickets/{n}").text


def test_reply_without_file_works_and_blank_file_part_is_ignored(
    as_user: Users, sessions, domain: Domain
) -> None:
    n = make_ticket(sessions, domain)
    h = as_user("water-handler")
    h.post(f"/console/tickets/{n}/sign", data={"csrf": h.csrf})
    # What a browser sends when the file input is left empty: a part with filename="".
    fields = {"csrf": h.csrf, "text": "已修复", "outcome": "resolved"}
    body = b"".join(f'--B\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                    .encode() for k, v in fields.items())
    body += (b'--B\r\nContent-Disposition: form-data; name="files"; filename=""\r\n'
             b"Content-Type: application/octet-stream\r\n\r\n\r\n--B--\r\n")
    r = h.post(f"/console/tickets/{n}/reply", content=body,
               headers={"content-type": "multipart/form-data; boundary=B"})
    assert r.status_code == 303 and status_of(sessions, n) == "replied"
    with sessions() as s:
        assert s.scalars(select(ReplyAttachment)).all() == []


def test_bad_file_refuses_the_whole_reply(as_user: Users, sessions, domain: Domain,
                                          settings: Settings) -> None:
    n = make_ticket(sessions, domain)
    h = as_user("water-handler")
    h.post(f"/console/tickets/{n}/sign", data={"csrf": h.csrf})
    r = reply(h, n, [("ok.png", png(), "image/png"), ("photo.jpg", GIF, "image/jpeg")])
    assert r.status_code == 422 and "JPEG、PNG 图片或 PDF" in r.text
    r = reply(h, n, [("empty.png", b"", "image/png")])
    assert r.status_code == 422 and "不能为空" in r.text
    limit = settings.attachments.max_bytes
    r = reply(h, n, [("big.png", png() + b"\x00" * limit, "image/png")])
    assert r.status_code == 413 and "附件过大" in r.text
    assert status_of(sessions, n) == "signed"
    with sessions() as s:  # the good file of the refused reply was rolled back with it
        assert s.scalars(select(ReplyAttachment)).all() == []


def test_other_unit_gets_404_and_tampered_file_is_flagged(
    as_user: Users, sessions, domain: Domain, settings: Settings
) -> None:
    n = make_ticket(sessions, domain)
    h = as_user("water-handler")
    h.post(f"/console/tickets/{n}/sign", data={"csrf": h.csrf})
    report = pdf()
    assert reply(h, n, [("单据.pdf", report, "application/pdf")]).status_code == 303
    with sessions() as s:
        att = s.scalars(select(ReplyAttachment)).one()
        att_id, sha = att.id, att.sha256
    other = as_user("power-handler")
    assert other.get(f"/console/tickets/{n}/attachments/{att_id}").status_code == 404
    (attachments.store_dir(settings) / sha[:2] / sha).write_bytes(pdf("forged"))
    sup = as_user("supervisor")
    r = sup.get(f"/console/tickets/{n}/attachments/{att_id}")
    assert r.status_code == 409 and "校验失败" in r.text and b"forged" not in r.content
    page = sup.get(f"/console/tickets/{n}").text
    assert "校验失败，可能已被篡改" in page
    assert f"/console/tickets/{n}/attachments/{att_id}" not in page


def test_required_category_form_says_so(settings: Settings, city: City, sessions,
                                        domain: Domain) -> None:
    configured = settings.model_copy(update={"attachments": settings.attachments.model_copy(
        update={"required_categories": ["water"]})})
    n = make_ticket(sessions, domain)
    h = log_in(create_app(configured), city, "water-handler")
    h.post(f"/console/tickets/{n}/sign", data={"csrf": h.csrf})
    assert "本类别必须上传" in h.get(f"/console/tickets/{n}").text
    r = reply(h, n, [])
    assert r.status_code == 422 and "须附上现场照片" in r.text
    assert reply(h, n, [("现场.png", png(), "image/png")]).status_code == 303
    assert status_of(sessions, n) == "replied"


def stored(settings: Settings) -> list[str]:
    root = attachments.store_dir(settings)
    return sorted(p.name for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_refused_reply_stores_no_file(as_user: Users, sessions, domain: Domain,
                                      settings: Settings) -> None:
    n = make_ticket(sessions, domain)
    h = as_user("water-handler")
    h.post(f"/console/tickets/{n}/sign", data={"csrf": h.csrf})
    # Each file is good; the reply is refused after them (a partial answer needs a reason,
    # an unknown outcome is no answer), so nothing of it may stay behind.
    r = reply(h, n, [("现场.png", png(), "image/png")], outcome="partly")
    assert r.status_code == 422 and status_of(sessions, n) == "signed"
    r = reply(h, n, [("单据.pdf", pdf(), "application/pdf")], outcome="done")
    assert r.status_code == 422 and status_of(sessions, n) == "signed"
    r = reply(h, n, [("ok.png", png(rgb=(9, 9, 9)), "image/png"), ("x.jpg", GIF, "image/jpeg")])
    assert r.status_code == 422
    assert stored(settings) == []
    with sessions() as s:
        assert s.scalars(select(ReplyAttachment)).all() == []
    # The same reply made right is stored, once.
    r = reply(h, n, [("现场.png", png(), "image/png")], outcome="partly", reason="需更换管道")
    assert r.status_code == 303 and stored(settings) == [hashlib.sha256(png()).hexdigest()]


def test_refused_reply_leaves_a_file_another_ticket_shares(
    as_user: Users, sessions, domain: Domain, settings: Settings
) -> None:
    first, second = make_ticket(sessions, domain), make_ticket(sessions, domain)
    h = as_user("water-handler")
    for n in (first, second):
        h.post(f"/console/tickets/{n}/sign", data={"csrf": h.csrf})
    photo = png()
    assert reply(h, first, [("现场.png", photo, "image/png")]).status_code == 303
    sha = hashlib.sha256(photo).hexdigest()
    assert stored(settings) == [sha]
    # The second ticket's reply carries the same bytes (deduplicated to one file) and a
    # new one, and is refused: the shared file stays, the new one never lands.
    r = reply(h, second, [("同一张.png", photo, "image/png"), ("新.pdf", pdf(), "application/pdf")],
              outcome="unresolvable")
    assert r.status_code == 422 and status_of(sessions, second) == "signed"
    assert stored(settings) == [sha]
    with sessions() as s:
        (att,) = s.scalars(select(ReplyAttachment)).all()
        att_id = att.id
    got = as_user("supervisor").get(f"/console/tickets/{first}/attachments/{att_id}")
    assert got.status_code == 200 and got.content == photo


def test_several_photos_each_under_the_limit_go_with_one_reply(
    as_user: Users, sessions, domain: Domain, settings: Settings
) -> None:
    """The form takes several files, "每个不超过 10 MB": two photos of 6 MB were over the
    request limit as a whole (a bare JSON 413, the reply typed lost)."""
    n = make_ticket(sessions, domain)
    h = as_user("water-handler")
    assert h.post(f"/console/tickets/{n}/sign", data={"csrf": h.csrf}).status_code == 303
    each = settings.attachments.max_bytes * 6 // 10  # the shipped limit: 6 MB of 10
    photos = [(f"现场{i}.png", png(rgb=(i, 0, 0)) + b"\0" * each, "image/png") for i in (1, 2)]
    r = reply(h, n, photos)
    assert r.status_code == 303, r.text[:200]
    with sessions() as s:
        assert len(s.scalars(select(ReplyAttachment)).all()) == 2
    # More files than the form allows: its own message, the reply not sent.
    n2 = make_ticket(sessions, domain)
    assert h.post(f"/console/tickets/{n2}/sign", data={"csrf": h.csrf}).status_code == 303
    many = [(f"{i}.png", png(rgb=(i, 1, 1)), "image/png")
            for i in range(attachments.MAX_FILES + 1)]
    r = reply(h, n2, many)
    assert r.status_code == 422 and f"最多上传 {attachments.MAX_FILES} 个附件" in r.text
    assert status_of(sessions, n2) == "signed"
