"""A burst of requests on a cold token gate looks tokens up a few at a time, and a token by the
first few only: since mend91 every request's token is read before its body, in a thread of its own,
and 40 requests at once held 40 connections beside the routes' own (a CI run saw the
engine open 33 connections past its pool of 20, test_intake_speed's burst test)."""

from __future__ import annotations

import threading
import time

import pytest
from starlette.datastructures import State

from ticketing import deps


class _Session:
    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Reads:
    """actor_for_token's stand-in: counts the look-ups and how many ran at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = self.calls = 0

    def __call__(self, *, session: object, token: str) -> object:
        with self.lock:
            self.calls += 1
            self.now += 1
            self.most = max(self.most, self.now)
        time.sleep(0.02)  # a look-up that takes a moment, so the threads overlap
        with self.lock:
            self.now -= 1
        return object() if token.startswith("good") else None


def _burst(monkeypatch: pytest.MonkeyPatch, tokens: list[str]) -> tuple[_Reads, list[str]]:
    reads = _Reads()
    monkeypatch.setattr(deps, "actor_for_token", reads)
    state = State({"token_gate": deps.TokenGate(), "read_sessions": _Session})
    start = threading.Barrier(len(tokens), timeout=30)
    answers: list[str] = []

    def ask(token: str) -> None:
        start.wait()
        try:
            deps._known_actor(state, token)
            answers.append("ok")
        except deps.HTTPException as exc:
            answers.append(str(exc.status_code))

    threads = [threading.Thread(target=ask, args=(t,)) for t in tokens]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    return reads, answers


def test_one_token_in_a_burst_is_read_by_the_first_few_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The ones let in together each read it (at most four); the rest find it remembered."""
    reads, answers = _burst(monkeypatch, ["good-operator"] * 40)
    assert answers == ["ok"] * 40
    assert reads.calls <= 4 and reads.most <= 4


def test_distinct_tokens_are_looked_up_a_few_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = [f"good-{i}" for i in range(20)] + [f"stranger-{i}" for i in range(20)]
    reads, answers = _burst(monkeypatch, tokens)
    assert sorted(answers) == ["401"] * 20 + ["ok"] * 20
    assert reads.calls == 40  # a stranger is never remembered: each is read
    assert reads.most <= 4
