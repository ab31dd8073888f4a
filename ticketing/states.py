"""The ticket lifecycle as one explicit table of states and allowed transitions.

The API, the CLI, the IVR and the schedulers all go through :func:`transition_for`;
no code anywhere else decides whether an action is allowed from a state.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from ticketing.inputs import has_text


class Status(StrEnum):
    DRAFT = "draft"
    ACCEPTED = "accepted"  # 受理
    DISPATCHED = "dispatched"  # 派单
    SIGNED = "signed"  # 签收
    REPLIED = "replied"  # 反馈: the handler's answer, waiting for 核实
    CLOSED = "closed"  # 办结
    SURVEYED = "surveyed"  # 回访
    ARCHIVED = "archived"
    RETURNED = "returned"  # 退单: back to the dispatch queue
    EXCLUDED = "excluded"  # 剔除: unreasonable demand, left out of the rates
    EXCLUSION_REQUESTED = "excl_requested"  # 剔除 asked for by the handler, for a supervisor
    MERGED = "merged"  # 并单: handled as part of another ticket's group (ticketing.merging)


class Action(StrEnum):
    ACCEPT = "accept"
    DISPATCH = "dispatch"
    SIGN = "sign"
    REPLY = "reply"
    CLOSE = "close"
    SURVEY = "survey"
    ARCHIVE = "archive"
    RETURN = "return"
    EXCLUDE = "exclude"
    REJECT = "reject"  # 驳回重办
    REASSIGN = "reassign"
    ANSWER = "answer"  # 直接答复: answered at intake (e.g. from the knowledge base), closed
    SEND_BACK = "send_back"  # 核实退回: the answer does not hold; back to the handler
    REQUEST_EXCLUSION = "request_exclusion"  # 申请剔除 (handler, reason from a list)
    DENY_EXCLUSION = "deny_exclusion"  # 剔除申请不予通过: back to the handler
    MERGE = "merge"  # 并单: into an open primary ticket
    UNMERGE = "unmerge"  # 拆单: a merge made by mistake, undone
    CLOSE_MERGED = "close_merged"  # closed with the primary of its group, with its answer
    REOPEN_MERGED = "reopen_merged"  # the primary is redone (驳回重办): merged again


class Role(StrEnum):
    SYSTEM = "system"
    OPERATOR = "operator"
    HANDLER = "handler"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"
    KB_EDITOR = "kb_editor"  # 知识库编辑: edits, publishes and retires knowledge entries


STATUS_LABELS: dict[Status, str] = {
    Status.DRAFT: "草稿",
    Status.ACCEPTED: "已受理",
    Status.DISPATCHED: "已派单",
    Status.SIGNED: "已签收",
    Status.REPLIED: "已反馈待核实",
    Status.CLOSED: "已办结",
    Status.SURVEYED: "已回访",
    Status.ARCHIVED: "已归档",
    Status.RETURNED: "已退单",
    Status.EXCLUDED: "已剔除",
    Status.EXCLUSION_REQUESTED: "剔除待审核",
    Status.MERGED: "已并单",
}

ACTION_LABELS: dict[Action, str] = {
    Action.ACCEPT: "受理",
    Action.DISPATCH: "派单",
    Action.SIGN: "签收",
    Action.REPLY: "反馈",
    Action.CLOSE: "核实办结",
    Action.SURVEY: "回访",
    Action.ARCHIVE: "归档",
    Action.RETURN: "退单",
    Action.EXCLUDE: "剔除",
    Action.REJECT: "驳回重办",
    Action.REASSIGN: "改派",
    Action.ANSWER: "直接答复",
    Action.SEND_BACK: "核实退回",
    Action.REQUEST_EXCLUSION: "申请剔除",
    Action.DENY_EXCLUSION: "驳回剔除申请",
    Action.MERGE: "并单",
    Action.UNMERGE: "拆单",
    Action.CLOSE_MERGED: "随主单办结",
    Action.REOPEN_MERGED: "随主单重办",
}


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: frozenset[Status]
    target: Status
    roles: frozenset[Role]
    needs_reason: bool = False


_ALL_STAFF = frozenset({Role.SYSTEM, Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
_HANDLING = frozenset({Role.SYSTEM, Role.HANDLER, Role.SUPERVISOR, Role.ADMIN})
_SUPERVISING = frozenset({Role.SUPERVISOR, Role.ADMIN})
# 核实 before 办结: the hotline (an operator or a supervisor) checks the handler's answer and
# closes or sends it back; a handler never closes their own ticket. Categories that skip
# 核实 (settings.verification) are closed by the system on the handler's reply.
_VERIFYING = frozenset({Role.SYSTEM, Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
_OPEN_STATES = frozenset(
    {Status.DRAFT, Status.ACCEPTED, Status.DISPATCHED, Status.SIGNED, Status.REPLIED,
     Status.RETURNED, Status.EXCLUSION_REQUESTED}
)

TRANSITIONS: dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(Action.ACCEPT, frozenset({Status.DRAFT}), Status.ACCEPTED, _ALL_STAFF),
        Transition(
            Action.DISPATCH,
            frozenset({Status.ACCEPTED, Status.RETURNED}),
            Status.DISPATCHED,
            _ALL_STAFF,
        ),
        Transition(Action.SIGN, frozenset({Status.DISPATCHED}), Status.SIGNED, _HANDLING),
        Transition(Action.REPLY, frozenset({Status.SIGNED}), Status.REPLIED, _HANDLING),
        Transition(Action.CLOSE, frozenset({Status.REPLIED}), Status.CLOSED, _VERIFYING),
        Transition(
            Action.SEND_BACK,
            frozenset({Status.REPLIED}),
            Status.SIGNED,
            _VERIFYING,
            needs_reason=True,
        ),
        # 剔除 is the handler's request and a supervisor's decision: only the audited
        # decision takes a ticket out of the figures (docs/metrics.md).
        Transition(
            Action.REQUEST_EXCLUSION,
            frozenset({Status.SIGNED}),
            Status.EXCLUSION_REQUESTED,
            frozenset({Role.HANDLER}),
            needs_reason=True,
        ),
        Transition(
            Action.DENY_EXCLUSION,
            frozenset({Status.EXCLUSION_REQUESTED}),
            Status.SIGNED,
            _SUPERVISING,
            needs_reason=True,
        ),
        # The citizen's answer comes from the survey call or SMS (SYSTEM), or is keyed in
        # by the centre's staff from a callback. Never a supervisor: supervisors oversee
        # the units ranked on these answers and could raise their own 满意度.
        Transition(
            Action.SURVEY,
            frozenset({Status.CLOSED}),
            Status.SURVEYED,
            frozenset({Role.SYSTEM, Role.OPERATOR, Role.ADMIN}),
        ),
        Transition(
            Action.ARCHIVE,
            # CLOSED: only a citizen who cannot be surveyed (ticketing.scheduled).
            frozenset({Status.SURVEYED, Status.EXCLUDED, Status.CLOSED}),
            Status.ARCHIVED,
            _ALL_STAFF,
        ),
        Transition(
            Action.RETURN,
            frozenset({Status.DISPATCHED, Status.SIGNED}),
            Status.RETURNED,
            _HANDLING,
            needs_reason=True,
        ),
        Transition(
            Action.EXCLUDE,
            _OPEN_STATES - {Status.DRAFT},
            Status.EXCLUDED,
            _SUPERVISING,
            needs_reason=True,
        ),
        Transition(
            Action.REJECT,
            frozenset({Status.CLOSED, Status.SURVEYED}),
            Status.DISPATCHED,
            frozenset({Role.SYSTEM, Role.SUPERVISOR, Role.ADMIN}),
            needs_reason=True,
        ),
        Transition(
            Action.REASSIGN,
            frozenset({Status.ACCEPTED, Status.DISPATCHED, Status.SIGNED, Status.RETURNED}),
            Status.DISPATCHED,
            _SUPERVISING | {Role.OPERATOR},
        ),
        # 并单 is the hotline's call, never a handler's: a handler could hide a late ticket
        # in another's group. Only an open ticket is merged; UNMERGE puts it back in the
        # state it was merged from (ticketing.merging.unmerge), the target here is nominal.
        Transition(Action.MERGE, _OPEN_STATES, Status.MERGED,
                   frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})),
        Transition(Action.UNMERGE, frozenset({Status.MERGED}), Status.ACCEPTED,
                   frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN}), needs_reason=True),
        Transition(Action.CLOSE_MERGED, frozenset({Status.MERGED}), Status.CLOSED,
                   frozenset({Role.SYSTEM})),
        Transition(Action.REOPEN_MERGED, frozenset({Status.CLOSED}), Status.MERGED,
                   frozenset({Role.SYSTEM})),
        # Answered on the spot: never dispatched, closed at intake (counted as 直办率).
        Transition(Action.ANSWER, frozenset({Status.DRAFT}), Status.CLOSED, _ALL_STAFF),
    )
}

# Who files a ticket (API, console, the knowledge base's 直接答复; the system for calls):
# who may 受理 one. A handler never does: they answer what the hotline sends them.
FILING_ROLES: frozenset[Role] = TRANSITIONS[Action.ACCEPT].roles

# Status groups: every part of the service (API, console, CLI, metrics, IVR, outbound)
# takes its groups from here, so "open" or "assigned" means the same thing everywhere.
OPEN_STATUSES: frozenset[Status] = _OPEN_STATES
FINISHED_STATUSES: frozenset[Status] = frozenset(
    {Status.CLOSED, Status.SURVEYED, Status.ARCHIVED}
)
# What the citizen still waits on an answer for: open, or merged (并单) into an open primary
# whose answer it will get (ticketing.merging). Key 1 and the inbound SMS read this: a merged
# ticket was told as none at all (judge27).
AWAITING_ANSWER_STATUSES: frozenset[Status] = OPEN_STATUSES | {Status.MERGED}
# Nothing left for the citizen to wait for: finished, or set aside (剔除).
NOT_OPEN_STATUSES: frozenset[Status] = frozenset(Status) - OPEN_STATUSES
# Where a ticket set aside (剔除) can be: excluded, then archived (the citizen's SMS of the
# outcome, outbound.citizen_sms, still holds in either).
SET_ASIDE_STATUSES: frozenset[Status] = frozenset({Status.EXCLUDED, Status.ARCHIVED})
# Where the handler's 申请剔除 (``Ticket.exclusion_reason``, ``exclusion_text``) still stands:
# waiting for the centre, granted (剔除, then 归档), or waiting in a group (拆单 brings it
# back to 待审核). In any other state it was denied or overtaken (service._apply clears it).
EXCLUSION_REQUEST_STANDS: frozenset[Status] = SET_ASIDE_STATUSES | {Status.EXCLUSION_REQUESTED,
                                                                     Status.MERGED}
# With a unit and its handler, not yet closed.
ASSIGNED_STATUSES: frozenset[Status] = frozenset(
    {Status.DISPATCHED, Status.SIGNED, Status.REPLIED, Status.EXCLUSION_REQUESTED}
)
# Assigned, the handler's part done: only the centre moves it on (核实 of the reply, the
# 剔除 decision), so the escalation ladder does not urge the unit meanwhile.
WAITING_FOR_CENTRE_STATUSES: frozenset[Status] = frozenset(
    {Status.REPLIED, Status.EXCLUSION_REQUESTED}
)
# In the manual dispatch queue: accepted or returned, no unit.
AWAITING_DISPATCH_STATUSES: frozenset[Status] = frozenset({Status.ACCEPTED, Status.RETURNED})
# Not yet classified and dispatched: a late transcript may still re-classify these.
UNDISPATCHED_STATUSES: frozenset[Status] = frozenset({Status.DRAFT, Status.ACCEPTED})


def values(statuses: frozenset[Status]) -> list[str]:
    """The stored strings of a group, sorted (stable SQL, stable test output)."""
    return sorted(s.value for s in statuses)


# What the citizen is told of a set-aside (剔除) ticket's state. Not 不予受理: it was
# accepted, and its citizen texted so; not 已办结 nor 已作出说明: nobody handled it or
# answered it (mend85).
SET_ASIDE_LABEL = "不予办理"
# The same in a sentence ("您的工单…经审核不予办理"): its SMS (outbound.citizen_sms) and
# key 1's spoken prompts (ivr.prompts) read it here, so the two say what the label says.
SET_ASIDE_SENTENCE = f"经审核{SET_ASIDE_LABEL}"
# What a citizen may read or hear of a ticket's state (key 1, the status page): three
# coarse steps, or set aside; nothing that tells which unit or person is on it. Read
# through ``public_label`` alone: an archived ticket may have been either closed or set
# aside, and this table cannot tell which (until mend85 one set aside read 已办结).
_PUBLIC_STATUS_LABELS: dict[Status, str] = {
    **{s: "已受理" for s in (Status.DRAFT, Status.ACCEPTED, Status.RETURNED)},
    **{s: "办理中" for s in ASSIGNED_STATUSES | {Status.MERGED}},
    **{s: "已办结" for s in FINISHED_STATUSES},
    Status.EXCLUDED: SET_ASIDE_LABEL,
}


def set_aside(status: Status, *, closed: bool) -> bool:
    """Whether a ticket in ``status`` was set aside (剔除): excluded, or archived after it.
    ``closed``: it has a closure (``Ticket.closed_at``): ARCHIVE takes a ticket from a
    closure or from a 剔除, and only a closure (核实办结, 直接答复, 并单's) sets closed_at,
    which 驳回重办 clears when the ticket goes back to work."""
    return status in SET_ASIDE_STATUSES and not closed


def public_label(status: Status, *, closed: bool) -> str:
    """The state a citizen is told (``_PUBLIC_STATUS_LABELS``); ``closed`` as for
    ``set_aside``."""
    return SET_ASIDE_LABEL if set_aside(status, closed=closed) else _PUBLIC_STATUS_LABELS[status]


class TransitionError(Exception):
    """An action that the lifecycle does not allow from the ticket's current state."""

    def __init__(self, status: Status, action: Action) -> None:
        self.status = status
        self.action = action
        super().__init__(
            f"cannot {action.value} ({ACTION_LABELS[action]}) a ticket in state "
            f"{status.value} ({STATUS_LABELS[status]})"
        )


class PermissionDenied(Exception):
    """``role`` may not take ``action``; ``why`` (English, the API's detail) and ``why_zh``
    (the console's message) when the role itself may, but not here: "your role may not"
    would then be false and say nothing of what to do (trial55)."""

    def __init__(self, role: Role, action: Action, why: str | None = None,
                 why_zh: str | None = None) -> None:
        self.role = role
        self.action = action
        self.why_zh = why_zh
        said = f"role {role.value} may not {action.value} ({ACTION_LABELS[action]})"
        super().__init__(f"{said}: {why}" if why else said)


class ReasonRequired(ValueError):
    def __init__(self, action: Action) -> None:
        self.action = action
        super().__init__(f"{action.value} ({ACTION_LABELS[action]}) requires a reason")


def permits(status: Status, action: Action, role: Role) -> bool:
    """Whether the table lets ``role`` take ``action`` from ``status`` (a reason aside):
    what ``transition_for`` enforces and the console's buttons offer."""
    t = TRANSITIONS[action]
    return role in t.roles and status in t.sources


def transition_for(status: Status, action: Action, role: Role, reason: str | None) -> Transition:
    """Return the transition for ``action`` from ``status``, or raise why it is not allowed."""
    t = TRANSITIONS[action]
    if not permits(status, action, role):
        if role not in t.roles:
            raise PermissionDenied(role, action)
        raise TransitionError(status, action)
    if t.needs_reason and not has_text(reason):
        raise ReasonRequired(action)
    return t
