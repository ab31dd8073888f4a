"""Request and response bodies of the REST API. Unknown fields are refused (422)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)

from ticketing import queries
from ticketing.actors import Actor
from ticketing.classify import sub_category_text
from ticketing.directory import ACCOUNT_ROLES, CODE_MAX_LENGTH, CODE_PATTERN, UNIT_KINDS
from ticketing.inputs import MAX_ID, check_category, clean_name, clean_text, has_text
from ticketing.models import Ticket, TicketEvent
from ticketing.phones import display
from ticketing.respondent import MAX_LENGTH as RESPONDENT_MAX

# A yes/no in a body: JSON's true or false, nothing pydantic's lax mode would make one of.
# Lax, "no", "0", "off" and 0 were false, "yes", "1" and 1 true: whatever a client wrote, it
# got one of the two and was told nothing (mend90). The one boolean of every body, as
# RowId is the one id; forms carry text and are read by their own views (docs/security.md).
Flag = Annotated[bool, Field(strict=True)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    # Free text where a line break belongs; every other text field is one line.
    MULTILINE: ClassVar[frozenset[str]] = frozenset({"demand", "text", "reason", "note"})

    @field_validator("*", mode="after")
    @classmethod
    def _clean_text(cls, v: Any, info: ValidationInfo) -> Any:
        # One rule (ticketing.inputs.clean_text) for every text field of every body.
        if isinstance(v, str) and info.field_name is not None:
            return clean_text(v, field=info.field_name,
                              multiline=info.field_name in cls.MULTILINE)
        return v


class TicketCreate(Strict):
    # No length floor here: a short non-number gets the service's one message
    # (service.validate_phone), not a second rule of ours.
    caller_phone: str | None = Field(
        default=None, max_length=32, examples=["13812345678"],
        description="the caller's number in any common spelling, stored in E.164; null or "
                    "absent: withheld (no callback or SMS, no survey, no 多诉 link by number, "
                    "no status lookup by number)")
    demand: str = Field(min_length=1, max_length=5000, description="诉求内容")
    channel: Literal["phone", "twilio", "web", "api"] = "api"
    caller_name: str | None = Field(default=None, max_length=64)
    confidential: Flag = False
    no_contact: Flag = False
    address: str | None = Field(default=None, max_length=256)
    district: str | None = Field(default=None, max_length=32)
    category: str | None = Field(default=None, max_length=32)
    sub_category: str | None = Field(
        default=None, max_length=32,
        description="细分类 code of the category (given or recognised); absent: recognised "
                    "from the demand when the rules are sure")
    urgency: Literal["urgent", "livelihood", "general"] | None = None
    subject: str | None = Field(default=None, max_length=128)
    respondent: str | None = Field(
        default=None, max_length=RESPONDENT_MAX,
        description="反映主体 (whom the complaint is about); absent: read from the demand "
                    "when it names one")
    accept: Flag = Field(default=True, description="受理 and auto-dispatch at once")

    @field_validator("demand")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not has_text(v):  # zero-width characters alone are no demand (inputs.has_text)
            raise ValueError("demand must not be empty")
        return v

    @field_validator("category")
    @classmethod
    def _known_category(cls, v: str | None) -> str | None:
        return None if v is None else check_category(v)


class Reason(Strict):
    reason: str = Field(min_length=1, max_length=2000)


TicketRef = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[0-9]+$")]


class MergeBody(Strict):
    """并单: the tickets (numbers or ids) to merge into the one in the path."""

    others: list[TicketRef] = Field(min_length=1, max_length=50)
    reason: str | None = Field(default=None, max_length=2000)


class GroupMemberOut(BaseModel):
    number: str
    status: str
    subject: str
    received_at: datetime
    merged_at: datetime | None


class GroupOut(BaseModel):
    """A 并单 group: its primary and the tickets merged into it (closed ones included)."""

    primary: str
    primary_status: str
    members: list[GroupMemberOut]


class OptionalNote(Strict):
    note: str | None = Field(default=None, max_length=2000)


class ReplyBody(Strict):
    text: str = Field(min_length=1, max_length=5000)
    # The structured answer (ticketing.service.REPLY_OUTCOMES); anything but "resolved"
    # says why in `reason`.
    outcome: Literal["resolved", "partly", "unresolvable"]
    reason: str | None = Field(default=None, max_length=2000)


class ExclusionRequest(Strict):
    # One of settings.verification.exclusion_reasons.
    reason: str = Field(min_length=1, max_length=32)
    text: str = Field(min_length=1, max_length=2000)


class PenaltyBody(Strict):
    kind: Literal["incomplete", "negative_opinion"]  # 资料不全 −0.5, 重大负面舆情 −3
    reason: str = Field(min_length=1, max_length=2000)


# A row's id in a body: a JSON integer, nothing pydantic's lax mode would make one of.
# Lax, `"unit_id": true` was unit 1 (the centre's own), and `1.0` or `"14"` were ids too:
# a client sending those meant no unit (judge38's trial).
RowId = Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]


class DispatchBody(Strict):
    unit_id: RowId
    handler_id: RowId | None = None


class ReassignBody(Strict):
    unit_id: RowId
    handler_id: RowId | None = None
    reason: str | None = Field(default=None, max_length=2000)


class ClassificationBody(Strict):
    """Confirm the classification (empty body) or correct some of its fields (待确认)."""

    category: str | None = Field(default=None, max_length=32)
    urgency: Literal["urgent", "livelihood", "general"] | None = None
    kind: Literal["complaint", "report", "inquiry", "suggestion", "help", "praise"] | None = None
    emergency: Literal["110", "119", "120", "none"] | None = None
    sub_category: str | None = Field(
        default=None, max_length=32,
        description="细分类 code of the (corrected) category; \"\" clears it; absent or null "
                    "leaves it (a category change clears one the new category lacks)")
    reason: str | None = Field(
        default=None, max_length=500,
        description="why; required to lower the urgency of a ticket ever dispatched (it "
                    "may lengthen the unit's deadline: never past one already missed, never "
                    "longer but by the centre); a raise needs none")

    @field_validator("category")
    @classmethod
    def _known_category(cls, v: str | None) -> str | None:
        return None if v is None else check_category(v)


class RespondentBody(Strict):
    """Set or correct the 反映主体; null or blank clears it (not known)."""

    respondent: str | None = Field(max_length=RESPONDENT_MAX, examples=["鑫源建筑工地"])


class SurveyBody(Strict):
    resolved: Flag
    satisfied: Flag
    keys: str | None = Field(default=None, max_length=16)


def _a_name(field: str) -> AfterValidator:
    """A name field: ``inputs.clean_name`` (zero-width characters removed, bidi refused),
    the rule the CLI, the console and the imports read too."""
    return AfterValidator(lambda v: clean_name(v, field=field))


class UnitCreate(Strict):
    code: str = Field(min_length=1, max_length=CODE_MAX_LENGTH, pattern=CODE_PATTERN)
    name: Annotated[str, Field(min_length=1, max_length=128), _a_name("name")]
    # The lists are ticketing.directory's, the rule the CLI creates by too.
    kind: Literal[UNIT_KINDS] = "agency"
    parent_code: str | None = None
    phone: str | None = Field(default=None, max_length=32)



class UserCreate(Strict):
    username: str = Field(min_length=1, max_length=CODE_MAX_LENGTH, pattern=CODE_PATTERN)
    display_name: Annotated[str, Field(min_length=1, max_length=64), _a_name("display_name")]
    role: Literal[ACCOUNT_ROLES]
    unit_code: str | None = None
    phone: str | None = Field(default=None, max_length=32)
    on_duty: Flag = True



class EventOut(BaseModel):
    at: datetime
    actor: str
    role: str
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    data: dict[str, Any] | None

    @classmethod
    def of(cls, e: TicketEvent) -> EventOut:
        return cls(**cls.read(e))

    @staticmethod
    def read(e: TicketEvent) -> dict[str, Any]:
        """``e`` as plain values (``TicketOut.read``)."""
        return dict(at=e.at, actor=e.actor_name, role=e.role, action=e.action,
                    from_status=e.from_status, to_status=e.to_status, note=e.note, data=e.data)


class TicketOut(BaseModel):
    id: int
    number: str
    channel: str
    status: str
    caller_phone: str | None = Field(description="E.164; masked in lists and for "
                                     "supervisors; null when hidden or withheld")
    caller_phone_display: str | None = Field(
        default=None, description="caller_phone as written in China: 139 1234 5678, 010-6512 3456")
    caller_phone_keyed: bool = Field(
        default=False, description="keyed in by the caller on the IVR (their own number was "
        "withheld): used to call back, unverified")
    caller_withheld: bool = Field(default=False, description="the caller's number is unknown")
    caller_name: str | None
    confidential: bool
    address: str | None
    district: str | None
    street: str | None = Field(default=None, description="街道/乡镇 (ticketing.places)")
    community: str | None = Field(default=None, description="社区/村 or the 小区 named")
    category: str
    sub_category: str | None = Field(default=None, description="细分类 code inside the "
                                     "category (config/categories.toml); null: none")
    sub_category_label: str | None = Field(default=None, description="细分类 as shown (zh-CN)")
    urgency: str
    kind: str = Field(description="诉求类型: complaint, report, inquiry, suggestion, help, praise")
    emergency: str = Field(description="hand-over service: 110, 119, 120 or none")
    needs_confirmation: bool = Field(description="待确认: an operator should confirm or "
                                     "correct the classification")
    held: bool = Field(default=False, description="held for the operator, not dispatched: "
                       "the words say too little to act on, or the transcript they came "
                       "from is not to be trusted (docs/classification.md); the "
                       "operator's confirmation or correction dispatches it")
    held_reason: str | None = Field(
        default=None, description="why it is held: too_little, low_confidence (the "
        "recogniser's) or not_chinese (the transcript's script); null when not held")
    confidence: dict[str, float] = Field(
        description="probability of each learned field; empty when the rules alone classified")
    subject: str
    respondent: str | None = Field(default=None, description="反映主体: whom the complaint "
                                   "is about, when known")
    demand: str
    transcript: str | None
    recording_path: str | None
    unit: str | None
    handler: str | None
    escalated: bool
    redo_count: int
    duplicate_of: int | None
    duplicate_count: int
    merged_into: int | None = Field(default=None, description="并单: the group's primary (id)")
    reply_text: str | None
    reply_outcome: str | None = None
    reply_reason: str | None = None
    exclusion_reason: str | None = None
    exclusion_text: str | None = None
    received_at: datetime
    dispatched_at: datetime | None
    sign_due_at: datetime | None
    signed_at: datetime | None
    closed_at: datetime | None
    due_at: datetime | None
    version: int
    events: list[EventOut] | None = None

    @classmethod
    def of(
        cls, t: Ticket, actor: Actor, *, events: list[TicketEvent] | None = None,
        masked: bool = False,
    ) -> TicketOut:
        return cls.build(cls.read(t, actor, events=events, masked=masked))

    @staticmethod
    def read(
        t: Ticket, actor: Actor, *, events: list[TicketEvent] | None = None,
        masked: bool = False,
    ) -> dict[str, Any]:
        """What ``actor`` is shown of ``t`` (and of ``events``) as plain values, read from
        the rows while their session may still load them (the linked original, for the
        link's visibility); ``build`` makes the answer of them without reading a row. So a
        filing's answer is built after its commit, outside SQLite's writers' turn
        (ticketing.views.write_filing; docs/scaling.md, twenty-seventh round)."""
        hide = not queries.may_see_caller(actor, t)
        link = queries.may_see_link(actor, t)
        return dict(
            id=t.id, number=t.number, channel=t.channel, status=t.status,
            caller_phone=queries.caller_phone_for(actor, t, masked=masked),
            caller_phone_keyed=not hide and t.caller_phone_keyed,
            caller_withheld=not hide and t.caller_phone is None,
            caller_name=None if hide else t.caller_name,
            confidential=t.confidential, address=t.address, district=t.district,
            street=t.street, community=t.community, category=t.category, urgency=t.urgency,
            sub_category=t.sub_category,
            subject=t.subject, respondent=t.respondent, demand=t.demand,
            kind=t.kind, emergency=t.emergency, needs_confirmation=t.needs_confirmation,
            held=queries.is_held(t),
            held_reason=queries.held_reason(t) if queries.is_held(t) else None,
            confidence=dict((t.classification or {}).get("confidence") or {}),
            # The verbatim words and the voice identify a confidential caller as surely as
            # the number does; the demand (what must be done) stays visible to the handler.
            transcript=None if hide else t.transcript,
            recording_path=None if hide else t.recording_path,
            unit=t.unit.code if t.unit else None,
            handler=t.handler.username if t.handler else None,
            escalated=t.escalated, redo_count=t.redo_count,
            duplicate_of=t.duplicate_of_id if link else None,
            duplicate_count=t.duplicate_count if link else 0, reply_text=t.reply_text,
            merged_into=t.merged_into_id,
            reply_outcome=t.reply_outcome, reply_reason=t.reply_reason,
            exclusion_reason=t.exclusion_reason, exclusion_text=t.exclusion_text,
            received_at=t.received_at, dispatched_at=t.dispatched_at,
            sign_due_at=t.sign_due_at, signed_at=t.signed_at, closed_at=t.closed_at,
            due_at=t.due_at, version=t.version,
            events=[EventOut.read(e) for e in events] if events is not None else None,
        )

    @classmethod
    def build(cls, values: dict[str, Any]) -> TicketOut:
        """The answer of ``read``'s values: no row read, no session needed."""
        phone, events = values["caller_phone"], values["events"]
        return cls(
            **{**values, "events": None if events is None
               else [EventOut(**e) for e in events]},
            caller_phone_display=display(phone) if phone else None,
            sub_category_label=sub_category_text(values["category"],
                                                 values["sub_category"]) or None,
        )

    @classmethod
    def receipt(cls, t: Ticket, actor: Actor) -> TicketOut:
        """``receipt_values``' answer."""
        return cls.build(cls.receipt_values(t, actor))

    @classmethod
    def receipt_values(cls, t: Ticket, actor: Actor) -> dict[str, Any]:
        """What the filer of a ticket out of their scope gets back (a supervisor's complaint
        the rules sent to another unit, or left in the manual queue): its number, status,
        category, unit and deadlines, and what they filed; nothing of its handling (the
        handler, the answer, links to other tickets, the trail), which a retry with the
        Idempotency-Key would otherwise show them for a day. As ``read``'s values."""
        return {**cls.read(t, actor), **_NOT_IN_A_RECEIPT}


# What a receipt (``TicketOut.receipt_values``) leaves out of the ticket's answer.
_NOT_IN_A_RECEIPT: dict[str, Any] = {
    "handler": None, "signed_at": None, "reply_text": None, "reply_outcome": None,
    "reply_reason": None, "exclusion_reason": None, "exclusion_text": None,
    "duplicate_of": None, "duplicate_count": 0, "merged_into": None, "events": None}


class TicketPage(BaseModel):
    items: list[TicketOut]
    total: int
    page: int
    page_size: int


class FieldErrorOut(BaseModel):
    field: str = Field(description="where, as body.<field>, query.<name> or path.<name>")
    msg: str


class ErrorOut(BaseModel):
    """The body of every 4xx answer of the API (hotline.app.install_error_handlers)."""

    error: str = Field(description="machine-readable code", examples=[
        "invalid_input", "unauthorized", "forbidden", "not_found", "invalid_transition",
        "conflict", "concurrent_update", "info_request_open", "body_too_large",
        "unsupported_media_type"])
    detail: str = Field(description="what went wrong, in English")
    field: str | None = Field(default=None, description="invalid_input: the first bad field; "
                                                         "conflict: what the state forbids")
    errors: list[FieldErrorOut] | None = Field(
        default=None, description="invalid_input from validation: every bad field")
    status: str | None = Field(default=None, description="invalid_transition: current state")
    action: str | None = Field(default=None, description="invalid_transition: refused action")
    pending: str | None = Field(
        default=None, description="info_request_open: the question the citizen has not answered")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "the body is not JSON text (e.g. not UTF-8)"},
    401: {"model": ErrorOut, "description": "missing or unknown bearer token"},
    403: {"model": ErrorOut, "description": "the role may not do this"},
    404: {"model": ErrorOut, "description": "not found, or out of the caller's scope"},
    # One rule (twenty-second round): 422 for a body that fails validation, 409 for a
    # request the current state forbids (``inputs.StateConflict``, a refused transition).
    409: {"model": ErrorOut, "description": "not allowed in the current state (a refused "
                                            "transition, `conflict`: e.g. a survey answered "
                                            "already, a 退单 window closed), or a concurrent "
                                            "change"},
    413: {"model": ErrorOut, "description": "request body over max_body_bytes"},
    415: {"model": ErrorOut, "description": "the body is coded (`Content-Encoding`, "
                                            "`unsupported_media_type`): send it uncompressed"},
    422: {"model": ErrorOut, "description": "the request fails validation (whatever the "
                                            "state); `field` names it"},
}


class AttachmentOut(BaseModel):
    """A photo or document of the handler's reply (ticketing.attachments)."""

    id: int
    filename: str
    media_type: str = Field(description="what the file's own bytes are: image/jpeg, "
                            "image/png or application/pdf")
    size: int
    sha256: str = Field(description="taken at upload; checked on every download")
    uploaded_by: str
    created_at: datetime
    reply_event_id: int | None = Field(description="the reply it went with; null while the "
                                       "reply is still being written")
    problem: Literal["missing", "mismatch"] | None = Field(
        description="the stored file is gone or no longer matches its SHA-256 (then it is "
        "not served)")
