"""The API's worker processes each listen on a socket of their own (hotline.listeners)."""

from __future__ import annotations

import pickle
import socket
from typing import Any

import pytest

from hotline import listeners
from hotline.listeners import OwnListener, port_free, serve_workers
from tests.support.harness import free_port


class _Worker:
    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode


def _accepted(sock: socket.socket) -> int:
    sock.setblocking(False)
    taken = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return taken
        conn.close()
        taken += 1


def _worker_sockets(stand_in: Any, workers: int) -> list[socket.socket]:
    # What each spawned worker gets: the supervisor's list of sockets goes to every worker
    # pickled (multiprocessing's spawn), and is unpickled there.
    return [pickle.loads(pickle.dumps(stand_in)) for _ in range(workers)]


def test_connections_at_once_are_shared_between_the_workers_sockets() -> None:
    """A burst of connections (the bench's 50 clients, a proxy reconnecting) goes to every
    worker, not to whichever worker woke first: on uvicorn's one shared socket one worker
    took 40 of the bench's 50 and kept them (docs/scaling.md, thirty-fifth round). Each
    worker's socket listens only once its server starts (after the warm-up): until then it
    takes no connection."""
    port = free_port()
    first, second = _worker_sockets(OwnListener("127.0.0.1", port), 2)
    try:
        assert first is not second and first.fileno() != second.fileno()
        with pytest.raises(ConnectionRefusedError):  # bound, not listening: a cold worker
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        first.listen(128)
        second.listen(128)
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(60)]
        try:
            shares = [_accepted(first), _accepted(second)]
        finally:
            for c in clients:
                c.close()
        assert sum(shares) == 60
        # By the kernel's hash of each connection's addresses: ~30 each (fewer than 12 for
        # either is a chance of ~1e-5).
        assert min(shares) >= 12, shares
    finally:
        first.close()
        second.close()


def test_a_port_another_server_listens_on_is_refused_not_shared() -> None:
    """``SO_REUSEPORT`` would let the workers join another server's sockets on the port (a
    second node started by mistake, same user): ``serve_workers`` refuses the port first, as
    uvicorn's own bind did, and starts no worker."""
    port = free_port()
    other = listeners.listener("127.0.0.1", port)  # another server's worker, SO_REUSEPORT
    other.listen(8)
    try:
        with pytest.raises(OSError):
            port_free("127.0.0.1", port)
        with pytest.raises(SystemExit) as stopped:
            serve_workers("hotline.app:api_worker_app", 2, host="127.0.0.1", port=port)
        assert stopped.value.code == 3
    finally:
        other.close()
    port_free("127.0.0.1", port)  # free again: no error


def test_serve_workers_gives_uvicorns_supervisor_a_socket_for_each_worker(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What uvicorn's supervisor is given stands for a socket of each worker's own; its
    settings are uvicorn.run's."""
    given: list[tuple[Any, list[Any]]] = []

    class Supervisor:
        processes: tuple[_Worker, ...] = ()

        def __init__(self, config: Any, sockets: list[Any]) -> None:
            given.append((config, sockets))

        def run(self) -> None:
            pass

    monkeypatch.setattr("uvicorn.supervisors.Multiprocess", Supervisor)
    port = free_port()
    serve_workers("hotline.app:api_worker_app", 3, host="127.0.0.1", port=port,
                  timeout_worker_healthcheck=77)
    [(config, sockets)] = given
    assert (config.workers, config.factory, config.timeout_worker_healthcheck) == (3, True, 77)
    assert config.app == "hotline.app:api_worker_app"
    [stand_in] = sockets
    made = _worker_sockets(stand_in, 2)
    try:
        assert [s.getsockname() for s in made] == [("127.0.0.1", port)] * 2
        assert all(s.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) for s in made)
    finally:
        for s in made:
            s.close()


def test_a_second_server_started_while_the_first_warms_is_refused_not_joined(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The first server's workers bind their sockets at once but listen only once warm
    (tens of seconds on a loaded node): a probe that only finds a socket that listens let a
    second `hotline serve --role api` on the port start then, and the two servers' workers
    shared the port's clients (seen with `ss -ltnp`: four listeners, two supervisors)."""
    port = free_port()
    second: list[Any] = []

    class FirstSupervisor:
        processes: tuple[_Worker, ...] = ()

        def __init__(self, config: Any, sockets: list[Any]) -> None:
            self.sockets = sockets

        def run(self) -> None:
            warming = _worker_sockets(self.sockets[0], 2)  # bound, not listening yet
            try:
                monkeypatch.setattr("uvicorn.supervisors.Multiprocess", _NeverRun)
                with pytest.raises(SystemExit) as stopped:
                    serve_workers("hotline.app:api_worker_app", 2, host="127.0.0.1", port=port)
                second.append(stopped.value.code)
            finally:
                for s in warming:
                    s.close()

    class _NeverRun:
        def __init__(self, config: Any, sockets: list[Any]) -> None:
            second.append("started")

        def run(self) -> None:
            pass

    monkeypatch.setattr("uvicorn.supervisors.Multiprocess", FirstSupervisor)
    serve_workers("hotline.app:api_worker_app", 2, host="127.0.0.1", port=port)
    assert second == [3]


def test_a_worker_that_cannot_bind_stops_the_node_instead_of_restarting_forever() -> None:
    """A worker binds its socket as it starts (each restart too): a port taken meanwhile
    (between the supervisor's check and the bind, or while every worker was down) raised
    OSError while the worker unpickled its socket, exit status 1, which uvicorn's
    supervisor restarts forever (seen: a traceback a restart, the port someone else's).
    Status 3 is uvicorn's start-up failure: the supervisor stops every worker."""
    port = free_port()
    taken = socket.socket()
    taken.bind(("127.0.0.1", port))
    taken.listen(1)
    try:
        with pytest.raises(SystemExit) as stopped:
            _worker_sockets(OwnListener("127.0.0.1", port), 1)
        assert stopped.value.code == 3
    finally:
        taken.close()


@pytest.mark.parametrize(("exitcodes", "status"), [((0, 3), 3), ((0, 0), None)])
def test_serve_exits_3_when_a_worker_could_not_start(
        monkeypatch: pytest.MonkeyPatch, exitcodes: tuple[int, int], status: int | None) -> None:
    """uvicorn's supervisor stops every worker when one fails its start-up (the app's
    lifespan, its socket) and returns as after SIGTERM: `hotline serve` exited 0 either
    way, so a unit restarted on failure was not, and a deploy's check saw success."""

    class Supervisor:
        def __init__(self, config: Any, sockets: list[Any]) -> None:
            self.processes = [_Worker(code) for code in exitcodes]

        def run(self) -> None:
            pass

    monkeypatch.setattr("uvicorn.supervisors.Multiprocess", Supervisor)
    port = free_port()
    if status is None:
        serve_workers("hotline.app:api_worker_app", 2, host="127.0.0.1", port=port)
        return
    with pytest.raises(SystemExit) as stopped:
        serve_workers("hotline.app:api_worker_app", 2, host="127.0.0.1", port=port)
    assert stopped.value.code == status
