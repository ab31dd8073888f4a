"""Where one ticket's CPU goes, by step: the own CPU time of named functions of the intake.

Used by ``bench/intake_profile.py --breakdown``. Each named function is replaced, in every
module of this checkout that holds it (and on its class for a method), by a wrapper that
charges the process CPU spent in it, less the time of the named functions it calls, to its
label. What no label claims in the app is "framework" (routing, body validation, the answer's
serialisation, middleware); the rest of the run is the in-process client. cProfile charges
every Python call and so inflates Python-heavy steps against C ones; these wrappers cost
about a microsecond per call and only for the ~60 named calls of a ticket.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

# label: "module:function" or "module:Class.method"; listed outermost first, for the report.
STEPS: dict[str, str] = {
    "auth: token gate (before the transaction)": "ticketing.deps:known_token",
    "auth: actor in the transaction": "ticketing.directory:actor_for_token",
    "classify: understand (glue)": "ticketing.intake_model:understand",
    "classify: rules (classify, glue)": "ticketing.classify:classify",
    "classify: rules normalise": "ticketing.classify:_normalize",
    "classify: rules category": "ticketing.classify:_score_categories",
    "classify: rules not-now spans": "ticketing.classify:_quiet_spans",
    "classify: rules urgency": "ticketing.classify:_urgency",
    "classify: rules emergency": "ticketing.classify:_emergency",
    "classify: rules kind": "ticketing.classify:_kind",
    "classify: rules sub-category": "ticketing.classify:_sub_category",
    "classify: rules district": "ticketing.classify:_district",
    "classify: rules address": "ticketing.classify:_address",
    "classify: rules subject": "ticketing.classify:_subject",
    "classify: model feature row (char, pinyin, tf-idf)": "ticketing.intake_model:IntakeModel.row",
    "classify: model jieba": "ticketing.intake_model:_jieba_words",
    "classify: model pinyin grams": "ticketing.intake_model:_pinyin_grams",
    "classify: model scores + softmax": "ticketing.intake_model:LinearField.probabilities",
    "classify: model decide": "ticketing.intake_model:decide",
    "classify: model glue (predict)": "ticketing.intake_model:IntakeModel.predict",
    "create: validate phone": "ticketing.service:validate_phone",
    "create: clean text fields": "ticketing.inputs:clean_text",
    "create: ticket number": "ticketing.service:_next_number",
    "create: place (gazetteer)": "ticketing.service:_place",
    "create: respondent": "ticketing.service:_respondent_of",
    "create: duplicate look-up": "ticketing.service:_duplicate_of",
    "create: 督办 (supervision)": "ticketing.supervision:on_ticket",
    "create: glue": "ticketing.service:create_ticket",
    "audit: record_event": "ticketing.service:record_event",
    "accept: glue + deadline": "ticketing.service:accept",
    "accept: deadline (due_at)": "ticketing.service:due_at",
    "dispatch: rule + unit": "ticketing.service:auto_dispatch",
    "dispatch: glue": "ticketing.service:dispatch",
    "dispatch: on-duty handler": "ticketing.service:on_duty_handler",
    "dispatch: sign window": "ticketing.service:open_sign_window",
    "dispatch: merging.follow_primary": "ticketing.merging:follow_primary",
    "sql: flush (unit of work, write-at-once glue)": "sqlalchemy.orm.session:Session.flush",
    "sql: write-at-once rows": "ticketing.service:_row",
    "sql: note_created": "ticketing.queries:note_created",
    "sql: statements (Core execute + driver)": "sqlalchemy.engine.base:Connection.execute",
    "sql: commit": "sqlalchemy.orm.session:Session.commit",
    "sql: close/rollback": "sqlalchemy.orm.session:Session.close",
    "answer: visible events": "ticketing.queries:visible_events",
    # The answer's values are read in the transaction, its model built after the commit
    # (twenty-seventh round: ``TicketOut.of`` and ``_show`` are no longer on POST /tickets).
    "answer: values read (TicketOut.read)": "ticketing.schemas:TicketOut.read",
    "answer: _shown (trail, visibility)": "ticketing.views:_shown",
    "answer: built after the commit (TicketOut.build)": "ticketing.schemas:TicketOut.build",
    "answer: FastAPI serialise (pydantic + JSON)": "fastapi.routing:serialize_response",
}

OURS = ("ticketing", "hotline", "knowledge", "api", "config", "fastapi")


class Breakdown:
    def __init__(self) -> None:
        self.own: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self._stack: list[float] = []
        self._undo: list[Callable[[], None]] = []
        self.app = 0.0
        self.total = 0.0

    def _enter(self) -> float:
        self._stack.append(0.0)
        return time.process_time()

    def _leave(self, label: str, t0: float) -> None:
        """Charge the CPU since ``t0`` to ``label``, less its named callees', and to the
        named caller as a callee's."""
        spent = time.process_time() - t0
        self.own[label] += spent - self._stack.pop()
        self.calls[label] += 1
        if self._stack:
            self._stack[-1] += spent

    def _timed(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def timed_async(*args: Any, **kwargs: Any) -> Any:
                t0 = self._enter()
                try:
                    return await fn(*args, **kwargs)
                finally:
                    self._leave(label, t0)
            return timed_async

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = self._enter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._leave(label, t0)
        return timed

    def install(self) -> None:
        self.own.clear()
        self.calls.clear()
        self.app = 0.0
        for label, where in STEPS.items():
            module_name, _, name = where.partition(":")
            module = importlib.import_module(module_name)
            owner_name, _, method = name.rpartition(".")
            if owner_name:
                owner = getattr(module, owner_name)
                original = owner.__dict__[method]
                wrapped: Any
                if isinstance(original, classmethod):
                    wrapped = classmethod(self._timed(label, original.__func__))
                elif isinstance(original, staticmethod):
                    wrapped = staticmethod(self._timed(label, original.__func__))
                else:
                    wrapped = self._timed(label, original)
                setattr(owner, method, wrapped)
                self._undo.append(functools.partial(setattr, owner, method, original))
                continue
            original = getattr(module, name)
            wrapped = self._timed(label, original)
            for mod in list(sys.modules.values()):
                mod_name = getattr(mod, "__name__", "") or ""
                if not mod_name.startswith(OURS):
                    continue
                for attr, value in list(vars(mod).items()):
                    if value is original:
                        setattr(mod, attr, wrapped)
                        self._undo.append(functools.partial(setattr, mod, attr, original))

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def app_middleware(self, app: Any) -> Callable[..., Any]:
        """The ASGI app, timed (requests run one at a time here, so its span is its CPU)."""
        async def timed_app(scope: Any, receive: Any, send: Any) -> None:
            t0 = time.process_time()
            try:
                await app(scope, receive, send)
            finally:
                self.app += time.process_time() - t0
        return timed_app

    def report(self, tickets: int) -> str:
        attributed = sum(self.own.values())
        rows = [(label, self.own[label], self.calls[label]) for label in STEPS
                if self.calls[label]]
        rows.append(("framework (routing, validation, middleware)", self.app - attributed, 0))
        rows.append(("client (httpx in process)", self.total - self.app, 0))
        width = max(len(r[0]) for r in rows)
        lines = [f"{'step':{width}s}  ms/ticket  share  calls/ticket"]
        for label, spent, calls in rows:
            lines.append(f"{label:{width}s}  {spent / tickets * 1000:8.3f}  "
                         f"{spent / self.total:5.1%}  {calls / tickets:6.2f}")
        groups: Counter[str] = Counter()
        for label, spent, _ in rows:
            groups[label.split(":")[0].split(" (")[0]] += spent
        lines.append("by group: " + ", ".join(
            f"{g} {t / tickets * 1000:.2f} ms" for g, t in groups.most_common()))
        lines.append(f"total {self.total / tickets * 1000:.2f} ms/ticket, of which the app "
                     f"{self.app / tickets * 1000:.2f} ms")
        return "\n".join(lines)
