"""A real outbound worker process for the crash tests and the bench:

    python -m tests.outbound.worker_main LEDGER_URL WORKER_NAME

Settings (database, windows, leases) come from HOTLINE_* variables like the service's;
calls and SMS go to the ledger stand-in. SIGTERM stops it; the tests also SIGKILL it.
The crash tests fork a process that runs ``serve`` instead of starting this module.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable

from config import Settings
from outbound.worker import OutboundWorker
from tests.outbound.standins import LedgerDialer, LedgerSms
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory


def serve(ledger_url: str, name: str, ready: Callable[[], object]) -> None:
    """The worker's life in this process, on settings from the environment: ``ready()``
    once it is about to take work, then run until SIGTERM."""
    settings = Settings()
    domain = Domain.load(settings)
    sessions = make_session_factory(make_engine(settings.database_url))
    worker = OutboundWorker(sessions=sessions, domain=domain, dialer=LedgerDialer(ledger_url),
                            sms=LedgerSms(ledger_url), name=name)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ready()
    worker.run(stop)
    worker.wait_idle(10)
    worker.shutdown()


def main() -> None:
    ledger_url, name = sys.argv[1], sys.argv[2]
    logging.basicConfig(level=logging.WARNING, format=f"{name} %(levelname)s %(message)s")
    serve(ledger_url, name, lambda: print("ready", flush=True))


if __name__ == "__main__":
    main()
