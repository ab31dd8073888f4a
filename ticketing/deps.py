"""Request dependencies of every HTTP router (the REST API, outbound's review queue, and
any router a later package adds): the bearer token, the domain, role checks and the
request's unit of work. Routers import these from here, never from another router."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Request
from fastapi.dependencies.models import Dependant
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.directory import actor_for_token, hash_token
from ticketing.inputs import MAX_ID
from ticketing.states import Role


async def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    return token.strip()


async def get_domain(request: Request) -> Domain:
    # async: FastAPI runs a plain function dependency on the thread pool, a hop (and a wait
    # for a free thread under load) per request for one attribute read.
    return request.app.state.domain


Token = Annotated[str, Depends(bearer_token)]
DomainDep = Annotated[Domain, Depends(get_domain)]
# A row's id in a path (attachments, 督办 records, accounts, reviews; API and console): one
# past the database's INTEGER (2**31 on PostgreSQL, 2**63 on SQLite) overflowed the driver,
# a 500; out of range it is invalid input (422) before anything is read.
RowIdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


class TokenGate:
    """Tokens that named an active user a moment ago, with who that user was.

    Some requests do costly work before their transaction (classifying a demand of up to
    5000 characters costs up to ~0.2 s of CPU); neither a stranger nor a user whose role
    may not make the request must be able to buy that work. The gate only decides whether
    that work may start: the unit of work still authenticates and checks the role in its
    own transaction, so a token revoked (a role changed) within ``ttl`` seconds can at
    most cost some classifying, never change anything."""

    def __init__(self, *, ttl: float = 30.0, size: int = 4096, lookups: int = 4) -> None:
        self._ttl = ttl
        self._size = size
        self._until: dict[str, tuple[float, Actor]] = {}
        self._lock = threading.Lock()
        # The look-ups of tokens not seen a moment ago, at most this many at once: since
        # mend91 each request's token is looked up before its body is read, in a thread of
        # its own, so a burst of 40 requests on a cold gate held 40 connections at once
        # beside the routes' own and the engine opened (and closed) connections past its
        # pool (33 > 20 in a CI run; each one a server process on PostgreSQL). Waiting
        # here, the later requests of one token find it remembered and read nothing.
        self.lookups = threading.BoundedSemaphore(lookups)

    def recent_actor(self, token: str) -> Actor | None:
        with self._lock:
            until, actor = self._until.get(hash_token(token), (0.0, None))
        return actor if until > time.monotonic() else None

    def remember(self, token: str, actor: Actor) -> None:
        with self._lock:
            if len(self._until) >= self._size:
                self._until.clear()  # a burst of distinct tokens costs look-ups, not memory
            self._until[hash_token(token)] = (time.monotonic() + self._ttl, actor)


def known_token(request: Request, token: str, *roles: Role) -> None:
    """401 unless the token names an active user, 403 unless that user's role is one of
    ``roles`` (``require``), checked without the write lock; for a request that works
    before its unit of work (which checks both again). A handler's token once cost a
    classification before its 403."""
    known_to_app(request.app.state, token, *roles)


def known_to_app(state: State, token: str, *roles: Role) -> None:
    """``known_token`` for work done away from the request (the filing writer's thread,
    ticketing.group_commit): ``state`` is the app's."""
    require(_known_actor(state, token), *roles)


def _known_actor(state: State, token: str) -> Actor:
    """The active user ``token`` named a moment ago (the gate), else as read now; else 401."""
    gate: TokenGate = state.token_gate
    actor = gate.recent_actor(token)
    if actor is not None:
        return actor
    with gate.lookups:
        actor = gate.recent_actor(token)  # looked up while this one waited
        if actor is not None:
            return actor
        session: Session = state.read_sessions()
        try:
            actor = actor_for_token(session=session, token=token)
        finally:
            session.rollback()
            session.close()
        if actor is None:
            raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
        gate.remember(token, actor)
    return actor


async def no_stranger(request: Request) -> None:
    """401, as ``bearer_token`` and the unit of work answer it, unless the request's bearer
    token names an active user: for a route that takes ``Token``, decided before its body is
    read (``hotline.request_body.JsonKeysOnce``), so a stranger buys no parse of a body
    (FastAPI parses a JSON body before it runs any dependency). The role is each view's to
    check (403), in its unit of work as before."""
    token = await bearer_token(request)
    if request.app.state.token_gate.recent_actor(token) is None:
        await run_in_threadpool(_known_actor, request.app.state, token)


def takes_a_token(dependant: Dependant) -> bool:
    """Whether a route (its FastAPI ``Dependant``) authenticates by ``Token``."""
    return any(d.call is bearer_token or takes_a_token(d) for d in dependant.dependencies)


@contextmanager
def unit_of_work(
    request: Request, token: str, *, read_only: bool = False
) -> Iterator[tuple[Session, Actor]]:
    """The request's session and the authenticated actor.

    All database work of a request happens inside this block, in the endpoint's one
    worker thread. (A session opened by a dependency lives across several thread-pool
    hops; on SQLite, whose transactions take the write lock at BEGIN, 50 concurrent
    requests then deadlock waiting for each other's threads.) ``read_only``: the request
    only reads, and on SQLite does not queue for the write lock (ticketing.db).
    """
    state = request.app.state
    session: Session = state.read_sessions() if read_only else state.sessions()
    try:
        actor = authenticated(session, token)
        # For hotline.refusals: a 403 or 404 answered to this account is logged with it.
        request.state.actor = actor
        yield session, actor
    finally:
        session.rollback()
        session.close()


def authenticated(session: Session, token: str) -> Actor:
    """The active user ``token`` names, read in ``session``'s transaction; else 401."""
    actor = actor_for_token(session=session, token=token)
    if actor is None:
        raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
    return actor


def require(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        raise HTTPException(403, f"role {actor.role.value} may not do this")
