"""A throwaway PostgreSQL server for the test session.

pytest-postgresql's own process fixture runs ``initdb`` as the current user, which
PostgreSQL refuses for root (CI runs as root). So the server is started here, as the
``postgres`` system user when we are root, and handed to pytest-postgresql as a
NoopExecutor; its DatabaseJanitor then makes each test's database from a migrated
template.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Not a port the kernel hands out itself: the server binds it only after initdb (seconds),
# and an ephemeral port could meanwhile become some client's source port.
from tests.support.harness import free_port


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


@contextmanager
def running_pg_server(*, durable: bool = False) -> Iterator[PgServer]:
    """A throwaway cluster; ``durable``: with PostgreSQL's own fsync, synchronous_commit
    and full_page_writes (on, as docker-compose.yml's postgres:16 ships) instead of off."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found: run scripts/bootstrap.sh --test")
    base = Path(tempfile.mkdtemp(prefix="hotline-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    port = free_port()
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
         "-E", "UTF8", "--locale=C"],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    # fsync off: the data is thrown away; durability is not what these tests measure.
    opts = f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=200"
    if not durable:
        opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
         str(base / "log"), "-w", "-t", "60", "start"],
        check=True, stdout=subprocess.DEVNULL,
    )
    try:
        yield PgServer(host="127.0.0.1", port=port, user="postgres")
    finally:
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(base, ignore_errors=True)
