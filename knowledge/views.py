"""REST API of the knowledge base under /api/v1/kb: search for operators, editing for the
knowledge editors (知识库编辑), and answering a caller from an entry (直接答复)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from knowledge import service
from knowledge.models import EntryStatus, KbEntry, KbVersion
from ticketing import service as ticketing_service
from ticketing.deps import DomainDep, Token, known_token, require, unit_of_work
from ticketing.schemas import TicketOut
from ticketing.states import FILING_ROLES, Role
from ticketing.views import filed_answer

router = APIRouter(prefix="/api/v1/kb", tags=["knowledge base"])

# Who may search and read entries: the people who answer callers, and the editors.
READ_ROLES = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.KB_EDITOR)
EDIT_ROLES = (Role.KB_EDITOR, Role.ADMIN)


class HitOut(BaseModel):
    id: str
    title: str
    category: str
    score: float
    confidence: float


class SearchOut(BaseModel):
    query: str
    question: bool = Field(description="the words read as a question (not a complaint)")
    answer: str | None = Field(description="id of the entry that answers, or null")
    confidence: float = Field(description="confidence of the best hit")
    threshold: float
    hits: list[HitOut]


class EntryIn(BaseModel):
    title: str = Field(max_length=service.MAX_TITLE)
    answer: str = Field(max_length=service.MAX_ANSWER)
    category: str = Field("other", max_length=32)
    keywords: list[Annotated[str, Field(max_length=64)]] = Field(default=[], max_length=100)
    synonyms: list[Annotated[str, Field(max_length=64)]] = Field(default=[], max_length=100)
    unit: str | None = Field(None, max_length=64, description="owning unit's code")
    valid_from: date | None = None
    valid_until: date | None = None

    def fields(self) -> service.EntryFields:
        return service.EntryFields(
            title=self.title, answer=self.answer, category=self.category,
            keywords=tuple(self.keywords), synonyms=tuple(self.synonyms), unit=self.unit,
            valid_from=self.valid_from, valid_until=self.valid_until)


class EntryCreate(EntryIn):
    id: str | None = Field(None, max_length=32, description="kept as given; generated if empty")


class VersionOut(BaseModel):
    version: int
    at: datetime
    actor: str
    action: str
    changed: list[str]
    snapshot: dict[str, object]

    @classmethod
    def of(cls, v: KbVersion) -> VersionOut:
        return cls(version=v.version, at=v.at, actor=v.actor_name, action=v.action,
                   changed=list(v.changed or []), snapshot=dict(v.snapshot))


class EntryOut(BaseModel):
    id: str
    title: str
    answer: str
    category: str
    keywords: list[str]
    synonyms: list[str]
    unit: str | None
    valid_from: date | None
    valid_until: date | None
    status: str
    version: int
    updated_at: datetime
    history: list[VersionOut] | None = None

    @classmethod
    def of(cls, e: KbEntry, history: list[KbVersion] | None = None) -> EntryOut:
        return cls(id=e.id, title=e.title, answer=e.answer, category=e.category,
                   keywords=list(e.keywords or []), synonyms=list(e.synonyms or []),
                   unit=e.unit.code if e.unit else None, valid_from=e.valid_from,
                   valid_until=e.valid_until, status=e.status, version=e.version,
                   updated_at=e.updated_at,
                   history=None if history is None else [VersionOut.of(v) for v in history])


class AnswerBody(BaseModel):
    entry_id: str = Field(max_length=32)
    caller_phone: str = Field(max_length=32)
    demand: str = Field(max_length=5000, description="the caller's question")
    caller_name: str | None = Field(None, max_length=64)
    channel: str = Field("api", pattern="^(phone|twilio|web|api)$")


@router.get("/search", response_model=SearchOut)
def search(
    request: Request, token: Token, domain: DomainDep,
    q: Annotated[str, Query(min_length=1, max_length=500)],
    category: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=20)] = 5,
):
    with unit_of_work(request, token) as (session, actor):
        require(actor, *READ_ROLES)
        r = service.search(session=session, text=q, today=service.today(domain),
                           category=category, limit=limit)
        return SearchOut(
            query=q, question=r.question, answer=r.answer.id if r.answer else None,
            confidence=r.hits[0].confidence if r.hits else 0.0, threshold=r.threshold,
            hits=[HitOut(id=h.id, title=h.title, category=h.category, score=h.score,
                         confidence=h.confidence) for h in r.hits])


@router.get("/entries", response_model=list[EntryOut])
def list_entries(
    request: Request, token: Token,
    status: EntryStatus | None = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
):
    with unit_of_work(request, token) as (session, actor):
        require(actor, *READ_ROLES)
        return [EntryOut.of(e) for e in service.list_entries(
            session=session, status=status.value if status else None, category=category, q=q)]


@router.post("/entries", status_code=201, response_model=EntryOut)
def create_entry(body: EntryCreate, request: Request, token: Token):
    with unit_of_work(request, token) as (session, actor):
        require(actor, *EDIT_ROLES)
        entry = service.create_entry(session=session, actor=actor, fields=body.fields(),
                                     entry_id=body.id or None)
        session.commit()
        return EntryOut.of(entry, service.history(session=session, entry=entry))


@router.get("/entries/{entry_id}", response_model=EntryOut)
def get_entry(entry_id: str, request: Request, token: Token):
    with unit_of_work(request, token) as (session, actor):
        require(actor, *READ_ROLES)
        entry = service.get_entry(session=session, entry_id=entry_id)
        return EntryOut.of(entry, service.history(session=session, entry=entry))


@router.put("/entries/{entry_id}", response_model=EntryOut)
def update_entry(entry_id: str, body: EntryIn, request: Request, token: Token):
    with unit_of_work(request, token) as (session, actor):
        require(actor, *EDIT_ROLES)
        entry = service.get_entry(session=session, entry_id=entry_id)
        service.update_entry(session=session, actor=actor, entry=entry, fields=body.fields())
        session.commit()
        return EntryOut.of(entry, service.history(session=session, entry=entry))


def _set_status(entry_id: str, request: Request, token: str, status: EntryStatus) -> EntryOut:
    with unit_of_work(request, token) as (session, actor):
        require(actor, *EDIT_ROLES)
        entry = service.get_entry(session=session, entry_id=entry_id)
        service.set_status(session=session, actor=actor, entry=entry, status=status)
        session.commit()
        return EntryOut.of(entry, service.history(session=session, entry=entry))


@router.post("/entries/{entry_id}/publish", response_model=EntryOut)
def publish(entry_id: str, request: Request, token: Token):
    return _set_status(entry_id, request, token, EntryStatus.PUBLISHED)


@router.post("/entries/{entry_id}/retire", response_model=EntryOut)
def retire(entry_id: str, request: Request, token: Token):
    return _set_status(entry_id, request, token, EntryStatus.RETIRED)


@router.post("/answers", status_code=201, response_model=TicketOut)
def answer(body: AnswerBody, request: Request, token: Token, domain: DomainDep):
    """直接答复: the caller's question answered from an entry, recorded as a ticket closed
    at intake (counted in the figures as answered_directly / 直办率)."""
    # Classified before the transaction, for a known token of a filing role, as POST
    # /tickets does (ticketing.views).
    known_token(request, token, *FILING_ROLES)
    understood = ticketing_service.understand_demand(domain=domain, demand=body.demand)
    with unit_of_work(request, token) as (session, actor):
        # Who may file a ticket (POST /tickets) may file one answered from an entry.
        require(actor, *FILING_ROLES)
        ticket = service.answer_from_entry(
            session=session, domain=domain, actor=actor, entry_id=body.entry_id,
            channel=body.channel, caller_phone=body.caller_phone, demand=body.demand,
            caller_name=body.caller_name, understood=understood)
        # As POST /tickets answers its filer: the ticket, or its receipt when the rules sent
        # it out of their scope (a supervisor's), never a 404 for what they just filed.
        shown = filed_answer(session, ticket, actor)
        session.commit()
        return shown
