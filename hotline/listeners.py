"""Several API worker processes, each with a listening socket of its own on the one port.

uvicorn's ``--workers`` binds one socket in the supervisor and every worker accepts from
it: whichever worker's event loop wakes first takes every connection waiting (the loop
accepts up to its backlog at a wake-up), so a burst of clients connecting at once (the
bench's 50, an IVR node or a proxy reconnecting after a restart) lands mostly on one
worker, and a keep-alive connection stays with the worker that took it. Measured
(docs/scaling.md, thirty-fifth round): 40 and 10 of the bench's 50 connections, the
workers given the same CPU by the kernel, so the 40's requests waited four times as long
as the 10's. With a socket each and ``SO_REUSEPORT`` the kernel hands each new connection
to one of the workers' sockets by a hash of its addresses: an even share, whoever is awake.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any


def _family(host: str) -> socket.AddressFamily:
    """The address family of a numeric listening address (the settings' ``api_host``)."""
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def listener(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) beside the other workers' (``SO_REUSEPORT``), not
    yet listening: the server's start listens (asyncio's and uvloop's ``create_server``),
    after the app's start-up, so a worker still warming gets no connection (hotline.app)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


class OwnListener:
    """Stands in the supervisor's list of sockets; each worker process it is sent to (it is
    pickled into every worker uvicorn spawns, a restarted one too) unpickles it as a socket
    of its own (``listener``). The supervisor holds none: a worker that ends takes its
    socket, and the connections waiting on it, with it, instead of leaving a socket that
    listens with no one to accept."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return _worker_listener, (self.host, self.port)


def _worker_listener(host: str, port: int) -> socket.socket:
    """``listener`` in a worker as it starts. A port taken since the supervisor's check
    (between it and the bind, or while every worker was down) raised OSError here, in
    multiprocessing's unpickling: exit status 1, which uvicorn's supervisor restarts forever.
    Its start-up failure status stops the supervisor and every worker instead."""
    try:
        return listener(host, port)
    except OSError as exc:
        from hotline.serving import STARTUP_FAILURE

        logging.getLogger("uvicorn.error").error(exc)
        sys.exit(STARTUP_FAILURE)


def port_free(host: str, port: int) -> None:
    """Raises OSError (EADDRINUSE) when something listens on (host, port) already: the
    workers' ``SO_REUSEPORT`` would otherwise join the sockets of another server of the
    same user on that port (a second node started by mistake) and share its clients."""
    with socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def port_held(port: int) -> socket.socket:
    """A name of the port's own in Linux's abstract socket namespace, held while the
    supervisor runs (the kernel frees it when the process ends, however it ends). The
    workers' sockets are bound long before they listen (the warm-up): meanwhile
    ``port_free``'s probe binds beside them (``SO_REUSEADDR`` both, none listening), so a
    second server started then passed it and shared the port with the first. By port
    alone: a second server on another address of the port would take its clients too (the
    kernel prefers the narrower address)."""
    held = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        held.bind(f"\0hotline-api-port-{port}")
    except OSError as exc:
        held.close()
        raise OSError(exc.errno, f"another hotline API server runs on port {port}") from exc
    return held


def serve_workers(app: str, workers: int, **bind: Any) -> None:
    """``uvicorn.run(app, factory=True, workers=workers, **bind)``, each worker listening on
    a socket of its own (``OwnListener``); exits with uvicorn's start-up failure status
    when a worker failed to start."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from hotline.serving import STARTUP_FAILURE

    config = uvicorn.Config(app, factory=True, workers=workers, **bind)
    try:
        held = port_held(config.port)
        port_free(config.host, config.port)
    except OSError as exc:
        # As uvicorn's own bind says it (config.bind_socket) and exits.
        logging.getLogger("uvicorn.error").error(exc)
        sys.exit(STARTUP_FAILURE)
    with held:
        supervisor = Multiprocess(config, sockets=[OwnListener(config.host, config.port)])  # type: ignore[list-item]
        supervisor.run()
    # The supervisor stops every worker when one fails its start-up (a worker's lifespan,
    # its socket) and returns as after SIGTERM: a status of 0 hid the failure from the
    # unit's restart and from a deploy's check.
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        sys.exit(STARTUP_FAILURE)
