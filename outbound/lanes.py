"""Which due work items are SMS, told before they are prepared, so that the worker can
give SMS slots of their own (``outbound.sms_parallel``) beside the calls'
(``outbound.max_parallel``). Sharing one set of slots in due order, reminder calls due
at a surge's sign-window mark held every slot for their minutes and the next surge's
dispatch SMS, milliseconds each, waited behind them (review101, sms42)."""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_

from outbound.ladder import STEP_SPAN
from outbound.models import CALL_KINDS, Kind, OutboundTask
from ticketing.context import Domain


def sms_work(domain: Domain) -> ColumnElement[bool]:
    """Tasks whose attempt is an SMS: every kind that is not a call kind, and the call
    kinds whose settings make them texts (a ladder rung ``how = "sms"``: its steps, as
    ``ladder.rung_for`` reads them; ``utility_how = "sms"``). A rung the ladder no longer
    has is cancelled by its claim and placed nowhere: counted with the calls."""
    esc = domain.settings.escalation
    texts: list[ColumnElement[bool]] = [
        OutboundTask.kind.not_in([k.value for k in CALL_KINDS])]
    texts += [and_(OutboundTask.kind == Kind.URGE.value,
                   OutboundTask.step >= index * STEP_SPAN,
                   OutboundTask.step < (index + 1) * STEP_SPAN)
              for index, rung in enumerate(esc.ladder) if rung.how == "sms"]
    if esc.utility_how == "sms":
        texts.append(OutboundTask.kind == Kind.UTILITY_CALL.value)
    return or_(*texts)
