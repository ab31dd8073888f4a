"""What is said on a call and what a key does, independent of the carrier.

A conversation is a pure ``step(keys)`` (what to say next given the keys so far) plus two
durable hooks the carrier calls while the call is up: ``answered()`` and ``pressed(keys)``.
Each hook commits at once, so a worker killed mid-call leaves on record that the call was
answered and which keys were pressed (and a key 1 has already signed the ticket). SIP runs
the loop in the worker's thread; Twilio runs it across webhooks in the API process.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from outbound.models import OutboundAttempt
from ticketing.context import Domain
from ticketing.db import transaction

KEYS_AHEAD = "keys_ahead"  # OutboundAttempt.data: keys pressed before the question
KEYS_WRONG = "keys_wrong"  # OutboundAttempt.data: keys no question takes (a 9 to "1 or 2")
KEYS_AHEAD_MAX = 32  # of each: a line keying on (a stuck key) must not grow the row
# OutboundAttempt.data: where in the call the last wrong key came (Conversation.wrong).
KEYS_WRONG_AT = "keys_wrong_at"
# OutboundAttempt.data: the call was answered and the phone sent no audio at all (no RTP,
# no key); the value is how the call ended (``rtp_timeout``: our watchdog hung up).
NO_AUDIO = "no_audio"
# OutboundAttempt.data: the call was ended by our service stopping (SIGTERM), not the phone.
STOPPED = "stopped"
# OutboundAttempt.data: the whole answer was keyed but not recorded, and why (``moved``: the
# ticket left the closure the call was about, a 驳回重办 or 改派 while it rang or spoke).
NOT_COUNTED = "not_counted"


@dataclass(frozen=True)
class Step:
    prompt_id: str  # recorded prompt name (config/prompts/<id>.wav) or cache key
    text: str  # zh-CN, spoken by TTS when there is no recording
    keys: str = ""  # keys that answer this step; empty: say it and hang up
    # Said once before ``text`` (not repeated when the question is asked again), always
    # by TTS: it carries ticket data, which no recording under config/prompts can hold.
    report: str = ""
    # ``text`` is the same on every call (no ticket data): spoken once and cached, as before
    # soak46 made a call's sentences its own, instead of 0.2-0.3 s of espeak-ng + sox before
    # it on every call (review133).
    fixed: bool = False

    @property
    def final(self) -> bool:
        return not self.keys


class Conversation:
    """Base: the attempt row bookkeeping; subclasses say what to ask and do on keys."""

    def __init__(self, *, sessions: sessionmaker[Session], domain: Domain,
                 attempt_id: int) -> None:
        self.sessions = sessions
        self.domain = domain
        self.attempt_id = attempt_id

    def step(self, keys: str) -> Step:
        raise NotImplementedError

    def effect(self, session: Session, attempt: OutboundAttempt, keys: str) -> None:
        """Apply what ``keys`` mean (sign, record the survey); no commit. Called once for
        each keys of a call (``pressed``)."""

    def recall(self, attempt: OutboundAttempt, keys: str) -> None:
        """``keys`` came again and their effect is on record (``pressed``): restore what
        ``step`` needs of it, as a new conversation per webhook has none."""

    def answered(self, call_ref: str | None = None) -> None:
        with transaction(self.sessions) as session:
            attempt = self._attempt(session)
            if attempt.answered_at is None:
                attempt.answered_at = self.domain.now()
            if call_ref and not attempt.call_ref:
                attempt.call_ref = call_ref

    def ahead(self, keys: str) -> None:
        """Keys pressed before the question (``telephony.call.set_keys_ahead_aside``): no
        answer, kept on the attempt at once (``data.keys_ahead``, in the trail's line)."""
        self._keep_unanswering(KEYS_AHEAD, keys)

    def wrong(self, key: str, *, answered: str, in_a_row: int) -> None:
        """A key the question does not take (9 to "请按1或2"; the question is asked again,
        the call ends after ``dialers.MAX_WRONG_KEYS``): no answer, kept on the attempt at
        once (``data.keys_wrong``, in the trail's line). Before (2026-12-06), a citizen who
        keyed 9, 9, 9 to the survey left an attempt "answered" with no key, the same line
        as one who pressed nothing. ``answered`` (the keys that answered so far) and
        ``in_a_row`` (wrong keys before this one since) say where in the call it came,
        each place once: a webhook Twilio posts again (our answer was late) is the same
        key, not another (review34)."""
        self._keep_unanswering(KEYS_WRONG, key, at=f"{answered}/{in_a_row}")

    def _keep_unanswering(self, field: str, keys: str, at: str | None = None) -> None:
        with transaction(self.sessions) as session:
            attempt = self._attempt(session)
            data = dict(attempt.data or {})
            if at is not None:
                if data.get(KEYS_WRONG_AT) == at:
                    return
                data[KEYS_WRONG_AT] = at
            data[field] = ((data.get(field) or "") + keys)[:KEYS_AHEAD_MAX]
            attempt.data = data

    def unheard(self, ended: str) -> None:
        """The phone answered and sent nothing (``dialers.Outcome.NO_AUDIO``): said on the
        attempt (``data.no_audio``, how the call ended), for its line in the trail."""
        with transaction(self.sessions) as session:
            attempt = self._attempt(session)
            attempt.data = {**(attempt.data or {}), NO_AUDIO: ended}

    def stopped(self) -> None:
        """Our service stopped mid-call (the front end's BYE, ``EndReason.SHUTDOWN``): said
        on the attempt (``data.stopped``), for its line in the trail."""
        with transaction(self.sessions) as session:
            attempt = self._attempt(session)
            attempt.data = {**(attempt.data or {}), STOPPED: True}

    def pressed(self, keys: str) -> None:
        # A handler signing in the web at the same moment makes our sign a stale write
        # (optimistic lock); the second pass sees the ticket signed and does nothing.
        for tries_left in (1, 0):
            try:
                with transaction(self.sessions) as session:
                    attempt = self._attempt(session)
                    if attempt.answered_at is None:
                        attempt.answered_at = self.domain.now()
                    if (attempt.keys or "").startswith(keys):
                        # On record already (the keys only grow in a call, and were
                        # committed with their effect): Twilio posting a <Gather> webhook
                        # again, our answer late. Before (review51), a sign reminder's
                        # second "1" found the ticket signed by the first and the trail
                        # said the key did nothing; a late copy of an earlier key also
                        # cut the keys on record back.
                        self.recall(attempt, keys)
                        return
                    attempt.keys = keys
                    self.effect(session, attempt, keys)
                return
            except StaleDataError:
                if not tries_left:
                    raise

    def _attempt(self, session: Session) -> OutboundAttempt:
        return session.scalars(
            select(OutboundAttempt).where(OutboundAttempt.id == self.attempt_id)
            .with_for_update()
        ).one()
