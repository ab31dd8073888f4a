"""The knowledge editors' pages: list, create, edit, publish, retire, import/export TSV.

Every change goes through ``knowledge.service`` (the API's functions), so a version row
records who changed what, whichever door it came through.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm.exc import StaleDataError

from hotline.console import present
from hotline.console.views import MAX_TEXT
from hotline.console.web import page, render, work
from knowledge import service
from knowledge.models import STATUS_LABELS, EntryStatus, KbEntry
from knowledge.views import EDIT_ROLES
from ticketing.inputs import BadCharacters, InvalidInput, StateConflict

router = APIRouter()

# An import file this large is far more than a city's knowledge base.
MAX_IMPORT_BYTES = 5 * 1024 * 1024
KB_FIELD_MESSAGES = {
    "title": "请填写标题（不超过 200 字）。",
    "answer": "请填写答复内容（不超过 2000 字）。",
    "category": "请从列表中选择分类。",
    "unit": "所填承办单位编码不存在。",
    "id": "编号只能包含字母、数字、“-”和“_”，且不能与已有条目重复。",
    "valid_until": "有效期截止日期不能早于开始日期，格式如 2027-03-15。",
    "valid_from": "日期格式如 2027-03-15。",
}


def _message(exc: InvalidInput) -> str:
    if isinstance(exc, BadCharacters):
        return "内容含有不允许的控制字符，请删除后重新提交。"
    return KB_FIELD_MESSAGES.get(exc.field, str(exc))


def _context(**extra: object) -> dict[str, object]:
    return {"categories": present.categories(), "STATUS_LABELS": STATUS_LABELS, **extra}


def _form(entry: KbEntry | None) -> dict[str, str]:
    if entry is None:
        return {}
    return {"id": entry.id, "title": entry.title, "answer": entry.answer,
            "category": entry.category, "keywords": "，".join(entry.keywords or []),
            "synonyms": "，".join(entry.synonyms or []),
            "unit": entry.unit.code if entry.unit else "",
            "valid_from": entry.valid_from.isoformat() if entry.valid_from else "",
            "valid_until": entry.valid_until.isoformat() if entry.valid_until else ""}


@router.get("/kb")
@page
def kb_list(request: Request, status: str = "", q: str = "", done: str = "") -> Response:
    with work(request) as w:
        w.require(*EDIT_ROLES)
        entries = service.list_entries(
            session=w.session, status=status if status in STATUS_LABELS else None,
            q=q[:64] or None)
        return render(request, "kb_list.html", _context(
            entries=entries, status=status, q=q[:64], done=done,
            today=service.today(w.domain), is_current=service.is_current))


@router.get("/kb/export.tsv")
@page
def kb_export(request: Request) -> Response:
    with work(request) as w:
        w.require(*EDIT_ROLES)
        body = service.export_tsv(session=w.session)
    return Response(body.encode("utf-8"), media_type="text/tab-separated-values; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="kb.tsv"',
                             "Cache-Control": "private, no-store"})


@router.post("/kb/import")
@page
def kb_import(
    request: Request,
    file: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    with work(request, csrf=csrf, post=True) as w:
        w.require(*EDIT_ROLES)
        raw = file.file.read(MAX_IMPORT_BYTES + 1)
        try:
            if len(raw) > MAX_IMPORT_BYTES:
                raise InvalidInput("file", "文件过大（超过 5 MB）。")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise InvalidInput("file", "文件不是 UTF-8 编码的 TSV。") from None
            result = service.import_tsv(session=w.session, actor=w.actor, text=text)
            w.session.commit()
        except InvalidInput as exc:
            w.session.rollback()
            return render(request, "kb_list.html", _context(
                entries=service.list_entries(session=w.session), status="", q="", done="",
                today=service.today(w.domain), is_current=service.is_current,
                error=f"导入失败，未做任何修改：{exc}"), 422)
    done = (f"导入完成：新增 {len(result.created)} 条，更新 {len(result.updated)} 条，"
            f"未变 {len(result.unchanged)} 条")
    return RedirectResponse(f"/console/kb?done={done}", status_code=303)


@router.get("/kb/new")
@page
def kb_new(request: Request) -> Response:
    with work(request) as w:
        w.require(*EDIT_ROLES)
        return render(request, "kb_entry.html", _context(entry=None, form={}, history=[]))


@router.get("/kb/{entry_id}")
@page
def kb_entry(request: Request, entry_id: str, done: str = "") -> Response:
    with work(request) as w:
        w.require(*EDIT_ROLES)
        entry = service.get_entry(session=w.session, entry_id=entry_id)
        return render(request, "kb_entry.html", _context(
            entry=entry, form=_form(entry), done=done,
            history=service.history(session=w.session, entry=entry)))


def _fields(title: str, answer: str, category: str, keywords: str, synonyms: str, unit: str,
            valid_from: str, valid_until: str) -> service.EntryFields:
    return service.EntryFields(
        title=title, answer=answer, category=category or "other",
        keywords=service.split_list(keywords), synonyms=service.split_list(synonyms),
        unit=unit.strip() or None,
        valid_from=service.parse_date(valid_from, field="valid_from"),
        valid_until=service.parse_date(valid_until, field="valid_until"))


@router.post("/kb/save")
@page
def kb_save(
    request: Request,
    csrf: Annotated[str, Form(max_length=128)] = "",
    entry_id: Annotated[str, Form(max_length=32)] = "",
    new_id: Annotated[str, Form(max_length=32)] = "",
    title: Annotated[str, Form(max_length=service.MAX_TITLE * 2)] = "",
    answer: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    category: Annotated[str, Form(max_length=32)] = "",
    keywords: Annotated[str, Form(max_length=2000)] = "",
    synonyms: Annotated[str, Form(max_length=2000)] = "",
    unit: Annotated[str, Form(max_length=64)] = "",
    valid_from: Annotated[str, Form(max_length=16)] = "",
    valid_until: Annotated[str, Form(max_length=16)] = "",
) -> Response:
    """Create (no ``entry_id``) or edit an entry; a new one starts as a draft."""
    form = {"id": entry_id or new_id, "title": title, "answer": answer, "category": category,
            "keywords": keywords, "synonyms": synonyms, "unit": unit,
            "valid_from": valid_from, "valid_until": valid_until}
    with work(request, csrf=csrf, post=True) as w:
        w.require(*EDIT_ROLES)
        entry = service.get_entry(session=w.session, entry_id=entry_id) if entry_id else None
        try:
            fields = _fields(title, answer, category, keywords, synonyms, unit, valid_from,
                             valid_until)
            if entry is None:
                entry = service.create_entry(session=w.session, actor=w.actor, fields=fields,
                                             entry_id=new_id.strip() or None)
            else:
                service.update_entry(session=w.session, actor=w.actor, entry=entry,
                                     fields=fields)
            w.session.commit()
        except (InvalidInput, StaleDataError) as exc:
            w.session.rollback()
            history = service.history(session=w.session, entry=entry) if entry else []
            # The API's rule: 409 for what the state forbids (an id taken), 422 for input.
            message, status = ((_message(exc), 409 if isinstance(exc, StateConflict) else 422)
                               if isinstance(exc, InvalidInput) else
                               ("条目刚被其他人修改，请刷新页面后重试。", 409))
            return render(request, "kb_entry.html", _context(
                entry=entry, form=form, history=history, error=message), status)
        return RedirectResponse(f"/console/kb/{entry.id}?done=保存", status_code=303)


@router.post("/kb/{entry_id}/{action}")
@page
def kb_status(
    request: Request, entry_id: str, action: str,
    csrf: Annotated[str, Form(max_length=128)] = "",
) -> Response:
    target = {"publish": EntryStatus.PUBLISHED, "retire": EntryStatus.RETIRED,
              "unpublish": EntryStatus.DRAFT}.get(action)
    with work(request, csrf=csrf, post=True) as w:
        w.require(*EDIT_ROLES)
        entry = service.get_entry(session=w.session, entry_id=entry_id)
        if target is None:
            return render(request, "error.html", {"title": "未找到", "message": "没有这个操作。"},
                          404)
        try:
            service.set_status(session=w.session, actor=w.actor, entry=entry, status=target)
            w.session.commit()
        except StaleDataError:
            w.session.rollback()
            return render(request, "error.html", {
                "title": "请重试", "message": "条目刚被其他人修改，请刷新页面后重试。"}, 409)
    return RedirectResponse(f"/console/kb/{entry_id}?done={STATUS_LABELS[target]}",
                            status_code=303)
