"""Request dependencies of every HTTP router (the REST API, outbound's review queue, and
any router a later package adds): the bearer token, the domain, role checks and the
request's unit of work. Routers import these from here, never from another router."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from ticketing.actors import Actor
from ticketing.context import Domain
from ticketing.directory import user_for_token
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
        user = user_for_token(session=session, token=token)
        if user is None:
            raise HTTPException(401, "invalid token", headers={"WWW-Authenticate": "Bearer"})
        yield session, Actor.of(user)
    finally:
        session.rollback()
        session.close()


def require(actor: Actor, *roles: Role) -> None:
    if actor.role not in roles:
        raise HTTPException(403, f"role {actor.role.value} may not do this")
