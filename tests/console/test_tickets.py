"""Queue and ticket pages: the lifecycle through the forms, refusals, scoping, privacy,
the recording player's route and the transcript's low-confidence words."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from config import Settings
from hotline.console.present import event_label
from tests.console.seed import actor, call_ticket, make_ticket
from tests.support.city import City
from ticketing import service
from ticketing.context import Domain
from ticketing.models import Ticket
from ticketing.staff_phones import NOT_SURVEYED_EVENT
from ticketing.supervision import SUPERVISE_EVENT

Users = Callable[[str], TestClient]


def status_of(sessions, number: str) -> str:
    with sessions() as s:
        return s.scalars(select(Ticket.status).where(Ticket.number == number)).one()


def listed(html: str, number: str) -> bool:
    return f'href="/console/tickets/{number}"' in html


def post(c: TestClient, number: str, action: str, **form: str):
    return c.post(f"/console/tickets/{number}/{action}", data={"csrf": c.csrf, **form})


def test_walk_from_intake_to_closed(as_user: Users, sessions) -> None:
    op = as_user("operator")
    r = op.post("/console/intake", data={
        "csrf": op.csrf, "caller_phone": "13811112222", "caller_name": "李女士",
        "demand": "朝阳区望京西园三区5号楼停水了，一直没来水"})
    assert r.status_code == 303
    n = r.headers["location"].split("/")[3].split("?")[0]
    page = op.get(r.headers["location"]).text
    assert "已创建并受理" in page and "北京市自来水集团" in page and "已派单" in page
    h = as_user("water-handler")
    assert listed(h.get("/console/queue").text, n)
    page = h.get(f"/console/tickets/{n}").text
    assert f'action="/console/tickets/{n}/sign"' in page
    assert "/exclude" not in page  # a handler is not offered what only supervisors may do
    r = post(h, n, "sign")
    assert r.status_code == 303 and r.headers["location"] == f"/console/tickets/{n}?done=sign"
    assert "已签收。" in h.get(r.headers["location"]).text
    assert post(h, n, "reply", text="已抢修，恢复供水", outcome="resolved").status_code == 303
    assert "核实办结" not in h.get(f"/console/tickets/{n}").text  # never one's own
    assert post(op, n, "close", note="").status_code == 303
    assert status_of(sessions, n) == "closed"
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        events = service.events_of(session=s, ticket=t)
    # The same service functions as the API: the same audit trail.
    assert [e.action for e in events] == ["create", "accept", "dispatch", "sign", "reply", "close"]
    assert events[3].data == {"via": "web"}
    page = h.get(f"/console/tickets/{n}").text
    for label in ("创建工单", "受理", "派单", "签收", "反馈", "核实办结", "已抢修，恢复供水"):
        assert label in page


def test_refused_actions_say_why_in_chinese(as_user: Users, sessions, domain: Domain) -> None:
    n = make_ticket(sessions, domain)
    h, op = as_user("water-handler"), as_user("operator")
    r = post(op, n, "close")
    assert r.status_code == 409
    assert "当前状态（已派单）不能执行“核实办结”" in r.text
    r = post(h, n, "close")
    assert r.status_code == 403 and "您的角色（承办人）无权执行“核实办结”" in r.text
    post(h, n, "sign")
    r = post(op, n, "close")
    assert r.status_code == 409 and "当前状态（已签收）不能执行“核实办结”" in r.text
    assert status_of(sessions, n) == "signed"
    r = post(h, n, "exclude", reason="无理诉求")
    assert r.status_code == 403 and "您的角色（承办人）无权执行“剔除”" in r.text
    r = post(h, n, "return", reason="   ")
    assert r.status_code == 422 and "“退单”需要填写理由" in r.text
    r = post(h, n, "reply", text="")
    assert r.status_code == 422 and "请填写反馈内容" in r.text
    r = post(h, n, "archive")
    assert r.status_code == 404
    assert status_of(sessions, n) == "signed"


def test_return_redispatch_reject_reassign_exclude(as_user: Users, sessions,
                                                   domain: Domain, city: City) -> None:
    n = make_ticket(sessions, domain)
    h = as_user("water-handler")
    r = post(h, n, "return", reason="不属于本单位职责")
    # The ticket left the handler's unit: back to the queue, not to a 404.
    assert r.status_code == 303 and r.headers["location"].startswith("/console/queue?done=return")
    assert "已退单" in h.get(r.headers["location"]).text
    assert h.get(f"/console/tickets/{n}").status_code == 404
    op = as_user("operator")
    page = op.get(f"/console/tickets/{n}").text
    assert "已退单" in page and "/dispatch" in page and "不属于本单位职责" in page
    water = city.unit_id("bj-water")
    assert post(op, n, "dispatch", unit_id=str(water)).status_code == 303
    assert status_of(sessions, n) == "dispatched"
    for step, form in (("sign", {}), ("reply", {"text": "已修复", "outcome": "resolved"})):
        assert post(h, n, step, **form).status_code == 303
    assert post(op, n, "close").status_code == 303
    sup = as_user("supervisor")
    r = post(sup, n, "reject", reason="市民反映仍未来水")
    assert r.status_code == 303 and status_of(sessions, n) == "dispatched"
    r = post(op, n, "reassign", unit_id=str(city.unit_id("cy")),
             handler_id=str(city.user_id("water-handler")))
    assert r.status_code == 422 and "所选承办人不属于该承办单位" in r.text
    # What was chosen survives the refusal, so it need not be picked again.
    assert f'<option value="{city.unit_id("cy")}" selected>朝阳区人民政府</option>' in r.text
    r = post(op, n, "reassign", unit_id=str(city.unit_id("cy")), reason="属地管理")
    assert r.status_code == 303
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        assert t.unit.code == "cy" and t.redo_count == 1
    assert "朝阳区承办人张伟" in as_user("cy-handler").get(f"/console/tickets/{n}").text
    r = post(sup, n, "exclude", reason="重复恶意投诉")
    assert r.status_code == 303 and status_of(sessions, n) == "excluded"


def test_handler_sees_own_unit_only(as_user: Users, sessions, domain: Domain) -> None:
    n = make_ticket(sessions, domain, phone="13877776666")
    other = as_user("cy-handler")
    page = other.get(f"/console/tickets/{n}")
    assert page.status_code == 404 and "不在您的权限范围内" in page.text
    assert post(other, n, "sign").status_code == 404
    assert other.get(f"/console/tickets/{n}/recording").status_code == 404
    assert status_of(sessions, n) == "dispatched"
    for q in ("", n, "13877776666", "6666"):
        assert not listed(other.get(f"/console/queue?status=all&q={q}").text, n)
    assert listed(as_user("water-handler").get("/console/queue?q=6666").text, n)
    # Supervisors see their subtree: 朝阳 does not see the city's water company.
    assert as_user("cy-supervisor").get(f"/console/tickets/{n}").status_code == 404
    assert as_user("supervisor").get(f"/console/tickets/{n}").status_code == 200
    assert as_user("water-handler").get("/console/dashboard").status_code == 403
    assert as_user("water-handler").get("/console/intake").status_code == 403


def test_confidential_caller_and_masked_phones(as_user: Users, sessions, domain: Domain,
                                               settings: Settings) -> None:
    secret = call_ticket(sessions, domain, settings.recordings_dir, confidential=True,
                         phone="13912340000")
    plain = make_ticket(sessions, domain, phone="13811112222", caller_name="李女士",
                        demand="朝阳区望京西园一区停水了")
    h = as_user("water-handler")
    queue = h.get("/console/queue").text
    assert "13912340000" not in queue and "139****0000" not in queue and "保密" in queue
    assert "138****2222" in queue and "13811112222" not in queue  # lists are masked
    page = h.get(f"/console/tickets/{secret}").text
    assert "13912340000" not in page and "王先生" not in page and "<audio" not in page
    assert "139 1234 0000" not in page
    assert 'class="transcript"' not in page and "录音与转写不向承办人显示" in page
    assert h.get(f"/console/tickets/{secret}/recording").status_code == 404
    assert not listed(h.get("/console/queue?q=13912340000").text, secret)
    assert "李女士" in h.get(f"/console/tickets/{plain}").text
    op = as_user("operator")
    page = op.get(f"/console/tickets/{secret}").text
    # Written the Chinese way for whoever calls citizens back.
    assert "139 1234 0000" in page and "王先生" in page and "<audio" in page
    assert 'class="transcript"' in page
    assert listed(op.get("/console/queue?q=13912340000").text, secret)
    assert "139****0000" in as_user("supervisor").get(f"/console/tickets/{secret}").text


def test_queue_filters_and_overdue(as_user: Users, sessions, domain: Domain) -> None:
    late = make_ticket(sessions, domain, demand="朝阳区望京西园三区7号楼水管爆了",
                       phone="13700000007", received_at=domain.now() - timedelta(days=3))
    fresh = make_ticket(sessions, domain, demand="朝阳区安贞里小区物业不作为，楼道灯坏了",
                        phone="13700000008")
    sup = as_user("supervisor")
    page = sup.get("/console/queue").text
    assert page.index(late) < page.index(fresh)  # most pressing first
    row = page[page.rindex("<tr", 0, page.index(late)):page.index("</tr>", page.index(late))]
    assert "row-overdue" in row and "超时" in row
    assert "1 件已超时" in page
    only = sup.get("/console/queue?status=overdue").text
    assert listed(only, late) and not listed(only, fresh)
    water = sup.get("/console/queue?category=water").text
    assert listed(water, late) and not listed(water, fresh)
    by_number = sup.get(f"/console/queue?q={fresh}").text
    assert listed(by_number, fresh) and not listed(by_number, late)
    assert not listed(sup.get("/console/queue?status=closed").text, late)
    # htmx asks for the table only.
    part = sup.get("/console/queue?category=water", headers={"HX-Request": "true"}).text
    assert listed(part, late) and "<html" not in part


def test_recording_is_served_only_when_its_hash_matches(
    as_user: Users, sessions, domain: Domain, settings: Settings, tmp_path: Path
) -> None:
    n = call_ticket(sessions, domain, settings.recordings_dir)
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        wav = Path(t.recording_path or "")
    h = as_user("water-handler")
    page = h.get(f"/console/tickets/{n}").text
    assert f'<audio controls preload="none" src="/console/tickets/{n}/recording">' in page
    r = h.get(f"/console/tickets/{n}/recording")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav"
    assert r.content == wav.read_bytes() and r.content[:4] == b"RIFF"
    assert "no-store" in r.headers["cache-control"]
    part = h.get(f"/console/tickets/{n}/recording", headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == wav.read_bytes()[:100]
    assert part.headers["content-range"] == f"bytes 0-99/{wav.stat().st_size}"
    # One changed byte: refused, and the ticket page says why instead of offering a player.
    data = bytearray(wav.read_bytes())
    data[200] ^= 0xFF
    wav.write_bytes(bytes(data))
    r = h.get(f"/console/tickets/{n}/recording")
    assert r.status_code == 409 and "SHA-256" in r.text and "已拒绝播放" in r.text
    page = h.get(f"/console/tickets/{n}").text
    assert "<audio" not in page and "录音文件校验失败" in page
    wav.unlink()
    assert h.get(f"/console/tickets/{n}/recording").status_code == 404
    # A path outside the recordings directory is not followed, whatever its hash.
    outside = tmp_path / "elsewhere.wav"
    outside.write_bytes(b"RIFF")
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        t.recording_path = str(outside)
        t.recording_sha256 = hashlib.sha256(b"RIFF").hexdigest()
        s.commit()
    r = h.get(f"/console/tickets/{n}/recording")
    assert r.status_code == 409 and "不在录音目录内" in r.text


def test_transcript_marks_low_confidence_words(as_user: Users, sessions, domain: Domain,
                                               settings: Settings) -> None:
    n = call_ticket(sessions, domain, settings.recordings_dir)
    page = as_user("water-handler").get(f"/console/tickets/{n}").text
    assert '<mark class="lowconf" title="识别置信度 0.41">西园</mark>' in page
    assert '<mark class="lowconf" title="识别置信度 0.52">整天</mark>' in page
    assert "5号楼" in page  # the cleaned text, not Vosk's raw words
    # Meta that does not reproduce the stored text still marks the words, in order.
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        t.transcript = "望京西园三区五号楼停水了一整天"
        s.commit()
    page = as_user("water-handler").get(f"/console/tickets/{n}").text
    assert '<mark class="lowconf" title="识别置信度 0.41">西园</mark>' in page


def test_timeline_shows_every_event(as_user: Users, sessions, domain: Domain) -> None:
    n = make_ticket(sessions, domain)
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        system = actor(s, "operator")
        for action, note in (("outbound_sms", "派单短信（第1次）：delivered"),
                             ("urge", "催办电话：已接通"), ("some_future_step", None)):
            service.record_event(session=s, ticket=t, actor=system, action=action, note=note,
                                 data={"kind": "urge"} if action == "urge" else None)
        s.commit()
    page = as_user("water-handler").get(f"/console/tickets/{n}").text
    for text in ("外发短信", "派单短信（第1次）：delivered", "催办", "催办电话：已接通",
                 "some_future_step", "ev-escalation"):
        assert text in page


@pytest.mark.parametrize("path", ["/console/tickets/9999999999", "/console/tickets/1"])
def test_unknown_ticket_is_a_404_page(as_user: Users, path: str) -> None:
    r = as_user("operator").get(path)
    assert r.status_code == 404 and "<html" in r.text


def test_the_console_offers_whoever_the_service_lets_hold_a_ticket(
        as_user: Users, sessions, domain: Domain, city: City) -> None:
    """review56: the console listed active handlers only, the API took any of the unit's
    accounts: a supervisor the API would take (they sign and reply for their units) could
    not be chosen here. One rule now (ticketing.holders): listed, and the 改派 works."""
    n = make_ticket(sessions, domain)
    op = as_user("operator")
    page = op.get(f"/console/tickets/{n}").text
    boss = city.user_id("cy-supervisor")
    assert f'<option value="{boss}">朝阳区督办员（督办员）</option>' in page
    assert "话务员小李" not in page.split('name="handler_id"')[1].split("</select>")[0]
    r = post(op, n, "reassign", unit_id=str(city.unit_id("cy")), handler_id=str(boss))
    assert r.status_code == 303
    with sessions() as s:
        assert s.scalars(select(Ticket.handler_id).where(Ticket.number == n)).one() == boss


def test_the_console_offers_no_dispatch_to_the_centres_own_unit(
        as_user: Users, sessions, domain: Domain, city: City) -> None:
    """judge38's trial: the 改派 form listed the centre's own unit (北京市12345市民服务热线,
    ``settings.centre_units``), where nobody handles a ticket, and took it. The form lists
    only units a ticket may go to (ticketing.holders, the rule the service refuses by),
    nor the centre's accounts as handlers; a forged post is refused, the ticket unmoved."""
    n = make_ticket(sessions, domain)
    with sessions() as s:
        before = s.scalars(select(Ticket.unit_id).where(Ticket.number == n)).one()
    op = as_user("operator")
    page = op.get(f"/console/tickets/{n}").text
    units = page.split('name="unit_id"')[1].split("</select>")[0]
    assert "朝阳区人民政府" in units and "北京市12345市民服务热线" not in units
    handlers = page.split('name="handler_id"')[1].split("</select>")[0]
    assert "朝阳区督办员" in handlers and "督办科王科长" not in handlers
    r = post(op, n, "reassign", unit_id=str(city.unit_id("bj")), reason="改派至热线中心")
    assert r.status_code == 422 and "12345中心" in r.text
    with sessions() as s:
        t = s.scalars(select(Ticket).where(Ticket.number == n)).one()
        assert t.unit_id == before is not None
        assert not [e for e in t.events if e.action == "reassign"]


@pytest.mark.parametrize("code", [service.HANDOVER_ACTION, service.HANDOVER_DECLINED_ACTION,
                                  SUPERVISE_EVENT, NOT_SURVEYED_EVENT])
def test_the_trail_names_the_cores_own_events_in_mandarin(code: str) -> None:
    """ux44: a fire caller's ticket read "emergency_handover" on the console's 全程记录, a
    third complaint from one community "supervise", a staff caller's "survey_not_placed":
    the codes, where every other row has its Mandarin name."""
    label = event_label(code)
    assert label != code and not any("a" <= ch <= "z" for ch in label), label
