"""How tickets, events and figures are shown: zh-CN labels, countdowns, privacy rules.

What a user may see of a ticket's caller is decided by ``ticketing.schemas.TicketOut.of``,
the same function the API uses, so the console can never show more than the API would.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from asr.cleanup import clean_words
from ticketing import queries
from ticketing.actors import Actor
from ticketing.classify import CATEGORIES_FILE, sub_categories
from ticketing.deadlines import passed
from ticketing.models import Ticket, TicketEvent
from ticketing.schemas import TicketOut
from ticketing.service import HANDOVER_ACTION, HANDOVER_DECLINED_ACTION, HANDOVER_RESULT_ACTION
from ticketing.staff_phones import NOT_SURVEYED_EVENT
from ticketing.states import (
    ACTION_LABELS,
    FINISHED_STATUSES,
    STATUS_LABELS,
    Action,
    Status,
    permits,
)
from ticketing.supervision import SUPERVISE_EVENT

ROLE_LABELS = {
    "system": "系统",
    "operator": "话务员",
    "handler": "承办人",
    "supervisor": "督办员",
    "admin": "管理员",
    "kb_editor": "知识库编辑",
}

URGENCY_LABELS = {"urgent": "紧急", "livelihood": "民生急事", "general": "一般"}
EMERGENCY_LABELS = {"none": "无", "110": "110 报警", "119": "119 消防救援", "120": "120 急救"}
FIELD_LABELS = {"category": "分类", "urgency": "紧急程度", "kind": "诉求类型",
                "emergency": "紧急联动"}

# The words a form's user typed, shown again when the request could not be saved (an
# outage page, the login after a session ended); any other field goes back hidden.
TYPED_LABELS = {"text": "回复内容", "reason": "理由", "note": "备注", "demand": "诉求内容",
                "address": "地址", "caller_name": "来电人姓名", "caller_phone": "来电号码",
                "respondent": "被反映对象", "title": "标题", "answer": "答复内容",
                "keywords": "关键词", "synonyms": "同义词", "typed": "工单编号"}

CHANNEL_LABELS = {"phone": "电话", "twilio": "电话（Twilio）", "web": "人工录入", "api": "接口"}

# Events that are not lifecycle transitions. Other packages (outbound, ivr) add their own
# actions over time; an unknown one is shown by its code rather than hidden.
EVENT_LABELS: dict[str, str] = {
    **{a.value: label for a, label in ACTION_LABELS.items()},
    "create": "创建工单",
    "link_duplicate": "关联重复诉求",
    "manual_queue": "转人工派单",
    HANDOVER_ACTION: "三号联动",
    HANDOVER_DECLINED_ACTION: "来电人拒绝转接",
    HANDOVER_RESULT_ACTION: "三号联动结果",
    SUPERVISE_EVENT: "多诉督办",
    NOT_SURVEYED_EVENT: "不参与回访",
    "call_interrupted": "通话中断（服务中断或停止，请回拨核实）",
    "recording_incomplete": "录音不完整（存储写入失败）",
    "held_for_confirmation": "内容过少，暂不派单",
    "transcribed": "录音转写",
    "escalate": "提级督办",
    "urge": "催办",
    "urge_postponed": "催办顺延",
    "urge_held": "催办暂缓（待中心核实）",
    "dispatch_sms_postponed": "派单短信顺延",
    "staff_contact_postponed": "夜间免打扰顺延",
    "citizen_sms_capped": "短信超出每日上限未发送",
    "sms": "短信",
    "call": "电话",
    "outbound_call": "外呼电话",
    "outbound_wait": "外呼等待（对方正在通话）",
    "outbound_covered": "合并签收提醒",
    "outbound_sms": "外发短信",
    "survey_unreachable": "回访未接通",
    "survey_review": "回访复核",
    "recording_deleted": "录音到期删除",
    "recording_said_again": "重新录音（来电人挂机前所录，替换原录音）",
    "attachment_uploaded": "上传附件",
    "classification_confirmed": "确认分类",
    "classification_corrected": "更正分类",
    "respondent_set": "修改反映主体",
    "merge_group": "并入工单",
    "unmerge_group": "拆出工单",
    "merged_unit": "随主单转派",
    "unmerge_sign_window": "拆单后提醒签收",
}

# Events that count as "reminders escalated" on the dashboard: the escalation itself, and
# urging (催办) whether recorded as its own action or as an outbound call of that kind.
ESCALATION_ACTIONS = frozenset({"escalate", "urge"})
ESCALATION_KINDS = frozenset({"urge", "escalate_call", "utility_call"})


@lru_cache(maxsize=1)
def categories() -> dict[str, str]:
    with CATEGORIES_FILE.open("rb") as fh:
        return dict(tomllib.load(fh)["categories"])


def category_label(code: str | None) -> str:
    return categories().get(code or "", code or "—")


# A console form names a sub-category as "<category>:<code>": codes are only unique within
# their category, and one select lists the sub-categories of every category.
SUB_SEPARATOR = ":"


def sub_category_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """(category label, [(form value, sub-category label)]) for the categories that have
    sub-categories, in file order: the optgroups of the console's 细分类 selects."""
    return [(label, [(f"{code}{SUB_SEPARATOR}{sub}", sub_label)
                     for sub, sub_label in sub_categories(code).items()])
            for code, label in categories().items() if sub_categories(code)]


def sub_category_value(category: str | None, code: str | None) -> str:
    """The form value of a ticket's sub-category ("" for none)."""
    return f"{category}{SUB_SEPARATOR}{code}" if category and code else ""


def split_sub_category(value: str) -> tuple[str, str]:
    """(category, code) of a form value; ("", "") for none or anything else."""
    category, sep, code = value.partition(SUB_SEPARATOR)
    return (category, code) if sep and category and code else ("", "")


def status_label(code: str | None) -> str:
    try:
        return STATUS_LABELS[Status(code)]
    except ValueError:
        return code or "—"


def event_label(code: str) -> str:
    return EVENT_LABELS.get(code, code)


def pct(rate: float | None) -> str:
    """Rates are None when nothing was counted; show a dash, not a misleading 0 %."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


def duration_zh(seconds: float) -> str:
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{minutes}分"
    return f"{minutes}分" if minutes else "不足1分"


def countdown(due: datetime | None, now: datetime) -> tuple[str, bool]:
    """("剩余 3小时12分", False) or ("超时 5分", True)."""
    if due is None:
        return "—", False
    left = (due - now).total_seconds()
    if passed(due, now):
        return f"超时 {duration_zh(left)}", True
    return f"剩余 {duration_zh(left)}", False


def event_is_escalation(e: TicketEvent) -> bool:
    kind = (e.data or {}).get("kind") if isinstance(e.data, dict) else None
    return e.action in ESCALATION_ACTIONS or kind in ESCALATION_KINDS


@dataclass(frozen=True)
class TicketView:
    """One ticket as the current user may see it."""

    t: TicketOut  # caller fields already hidden / masked by the API's rules
    unit_name: str | None
    handler_name: str | None
    open: bool
    finished: bool
    deadline_text: str
    overdue: bool
    sign_text: str | None  # a dispatched, unsigned ticket's sign-by countdown
    sign_overdue: bool
    closed_late: bool
    # Held for the operator (says too little), and past the confirmation window.
    held_overdue: bool = False

    @property
    def status_label(self) -> str:
        return status_label(self.t.status)


def ticket_view(ticket: Ticket, actor: Actor, now: datetime, *, masked: bool,
                confirm_window: timedelta) -> TicketView:
    out = TicketOut.of(ticket, actor, masked=masked)
    status = Status(ticket.status)
    finished = status in FINISHED_STATUSES
    is_open = queries.is_open(ticket.status)
    text, _ = countdown(ticket.due_at, now) if is_open else ("—", False)
    overdue = queries.is_overdue(ticket, now)
    sign_text, sign_overdue = None, False
    if status == Status.DISPATCHED and ticket.sign_due_at is not None:
        left, sign_overdue = countdown(ticket.sign_due_at, now)
        sign_text = f"签收{left}"
    closed_late = bool(ticket.done_at and ticket.due_at and ticket.done_at > ticket.due_at)
    return TicketView(
        t=out,
        unit_name=ticket.unit.name if ticket.unit else None,
        handler_name=ticket.handler.display_name if ticket.handler else None,
        open=is_open,
        finished=finished,
        deadline_text=text,
        overdue=overdue,
        sign_text=sign_text,
        sign_overdue=sign_overdue,
        closed_late=closed_late,
        held_overdue=queries.is_held_overdue(ticket, now, confirm_window),
    )


def available_actions(status: str, actor: Actor, *, own_answer: bool = False) -> list[Action]:
    """The buttons to show: what the lifecycle table allows this role from this state, less
    核实办结 of an answer the user gave (``own_answer``, ``service.gave_the_answer``: a
    supervisor who answered for their unit was offered it and refused, trial55).

    Only a hint for the page; the service checks again when the form is posted.
    """
    st = Status(status)
    order = (Action.ACCEPT, Action.DISPATCH, Action.SIGN, Action.REPLY, Action.CLOSE,
             Action.SEND_BACK, Action.RETURN, Action.REQUEST_EXCLUSION, Action.REASSIGN,
             Action.REJECT, Action.EXCLUDE, Action.DENY_EXCLUSION, Action.UNMERGE)
    return [a for a in order
            if permits(st, a, actor.role)
            and (a is not Action.EXCLUDE or actor.decides_exclusions)
            and (a is not Action.CLOSE or not own_answer)]


# --- transcript -------------------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    text: str
    conf: float | None  # set on low-confidence stretches


class _W:
    """A transcript_meta word in the shape asr.cleanup.clean_words reads."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.text = str(raw.get("w", ""))
        self.conf = float(raw.get("c", 1.0))


def transcript_segments(
    text: str | None, meta: dict[str, Any] | None, threshold: float
) -> list[Segment]:
    """The transcript split into plain and low-confidence stretches.

    The stored text is the cleaned transcript (spaces dropped, numbers as digits), while
    transcript_meta keeps Vosk's raw words. Re-running the same clean-up on the words maps
    each unsure word onto the stored text exactly; when that does not reproduce the text
    (a different clean-up, an edited transcript) the unsure words are found in order.
    """
    if not text:
        return []
    if not isinstance(meta, dict):
        return [Segment(text, None)]
    words = [w for w in meta.get("words") or [] if isinstance(w, dict)]
    if words:
        cleaned = clean_words([_W(w) for w in words], threshold)
        if cleaned.text == text:
            out: list[Segment] = []
            pos = 0
            for span in cleaned.low_confidence:
                if span.start > pos:
                    out.append(Segment(text[pos:span.start], None))
                out.append(Segment(text[span.start:span.end], span.conf))
                pos = span.end
            if pos < len(text):
                out.append(Segment(text[pos:], None))
            return out
    low = [str(w).replace(" ", "") for w in meta.get("low_confidence") or [] if str(w).strip()]
    confs = {_W(w).text: _W(w).conf for w in words}
    out, pos = [], 0
    for word in low:
        at = text.find(word, pos)
        if at < 0:
            continue
        if at > pos:
            out.append(Segment(text[pos:at], None))
        out.append(Segment(word, confs.get(word, 0.0)))
        pos = at + len(word)
    if pos < len(text):
        out.append(Segment(text[pos:], None))
    return out
