"""A throwaway PostgreSQL server for the test session, and each test's database in it.

pytest-postgresql's own process fixture runs ``initdb`` as the current user, which
PostgreSQL refuses for root (CI runs as root). So the server is started here, as the
``postgres`` system user when we are root; ``PgServer.create_database`` clones each test's
database from a migrated template and ``drop_database`` drops it.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

# Not a port the kernel hands out itself: the server binds it only after initdb (seconds),
# and an ephemeral port could meanwhile become some client's source port.
from tests.support.harness import die_with_us, free_port

# A throwaway cluster lives on a tmpfs when there is one with room. A database is some 300
# files, so every clone and drop creates and unlinks that many: on our machines' ext4
# (no journal) each new inode is found past the recently deleted ones (the kernel's
# recently_deleted(), 60-300 s), a search that grows with the churn. perf on a backend
# cloning databases: 80 % of its CPU in ext4_create. 50 clones of the city template with a
# connection and a few queries each, per test: server 285-310 ms of CPU on /tmp, 38-60 ms
# on /dev/shm (docs/suite.md, seventeenth round).
_TMPFS = Path("/dev/shm")
_TMPFS_MIN_FREE = 2 * 1024**3  # a cluster is ~60 MB and its WAL at most ~100 MB (below)


def _scratch_dir() -> str | None:
    """/dev/shm if it is a tmpfs with room (a container's default is 64 MB), else None:
    tempfile's own directory."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
        free = os.statvfs(_TMPFS)
    except OSError:
        return None
    tmpfs = any(m.split()[1:3] == [str(_TMPFS), "tmpfs"] for m in mounts if len(m.split()) > 2)
    return str(_TMPFS) if tmpfs and free.f_bavail * free.f_frsize >= _TMPFS_MIN_FREE else None


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    data: Path = field(compare=False)  # the cluster's data directory (postmaster.pid)
    _admin: list[psycopg.Connection] = field(default_factory=list, compare=False, repr=False)

    def url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def _maintenance(self) -> psycopg.Connection:
        # One connection for every clone and drop of the session: pytest-postgresql's
        # DatabaseJanitor opened one for the clone and another for the drop, a backend
        # started twice a test (~10 ms of the server's CPU and 2 of ours).
        if not self._admin or self._admin[0].closed:
            self._admin[:] = [psycopg.connect(host=self.host, port=self.port, user=self.user,
                                              dbname="postgres", autocommit=True)]
        return self._admin[0]

    def create_database(self, name: str, template: str | None = None, *,
                        is_template: bool = False) -> None:
        """``name``, a copy of ``template`` (PostgreSQL's template1 if None).

        FILE_COPY copies the template's files, WAL_LOG (15's default) writes every page of
        them through the buffer cache and into the WAL: 50 clones of the city template on
        a tmpfs, create and drop, 21.0 against 24.8 ms of the server's CPU each, and the
        WAL (kept on the tmpfs too) stays small. Its two checkpoints cost little here: fsync
        is off and a test's dirty pages go with its database."""
        conn = self._maintenance()
        query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            # A session left on the template would make the copy fail.
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                         " WHERE datname = %s", (template,))
            query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        query += sql.SQL(" STRATEGY FILE_COPY")
        if is_template:
            query += sql.SQL(" IS_TEMPLATE true")
        conn.execute(query)

    def drop_database(self, name: str) -> None:
        """Drops ``name``, ending any session still on it (a test's server or worker)."""
        self._maintenance().execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    @contextmanager
    def database(self, name: str, template: str | None = None) -> Iterator[str]:
        """A database of its own for one test: its URL, dropped afterwards."""
        self.create_database(name, template)
        try:
            yield self.url(name)
        finally:
            self.drop_database(name)


_OWNER = "owner"  # in a cluster's directory: the pid of the test process that made it


def reap_abandoned(scratch: Path, bindir: Path, prefix: list[str]) -> list[Path]:
    """Stops and removes the clusters in ``scratch`` whose test process is gone (a run that
    was killed leaves its postmaster running and, on a tmpfs, its files in memory until the
    machine restarts). A cluster whose owner is unknown yet (being made) is left alone."""
    reaped = []
    for base in scratch.glob("hotline-pg-*"):
        try:
            owner = int((base / _OWNER).read_text())
            os.kill(owner, 0)
            continue  # its test process is alive
        except (OSError, ValueError) as exc:
            if not isinstance(exc, ProcessLookupError):
                continue  # no owner file (yet), or not ours to judge
        subprocess.run(
            [*prefix, str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate",
             "-w", "stop"],
            check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(base, ignore_errors=True)
        reaped.append(base)
    return reaped


def pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


def seed_cluster(where: Path, fill: Callable[[PgServer], None]) -> Path:
    """A stopped cluster in ``where``/data holding what ``fill(server)`` made in it, for
    ``running_pg_server(seed=...)`` to copy: each xdist worker ran initdb and migrated and
    seeded its own templates (~2 CPU-s of its own and the server's; docs/suite.md,
    twenty-second round), where a copy of the files costs a few ms."""
    with running_pg_server() as server:
        fill(server)
        for conn in server._admin:
            conn.close()
        # A clean stop (a checkpoint), so the copy starts without recovery.
        _pg_ctl(server.data, "-m", "fast", "-w", "stop", check=True)
        subprocess.run(["cp", "-a", str(server.data), str(where / "data")], check=True)
    return where / "data"


def _pg_ctl(data: Path, *args: str, check: bool = False) -> None:
    bindir = pg_bindir()
    assert bindir is not None
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), *args], check=check,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextmanager
def running_pg_server(*, durable: bool = False, seed: Path | None = None) -> Iterator[PgServer]:
    """A throwaway cluster; ``durable``: with PostgreSQL's own fsync, synchronous_commit
    and full_page_writes (on, as docker-compose.yml's postgres:16 ships) instead of off,
    and on disk, where fsync means something, not on a tmpfs. ``seed``: a stopped
    cluster's data directory (``seed_cluster``) copied instead of a new one from initdb."""
    bindir = pg_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found: run scripts/bootstrap.sh --test")
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    scratch = None if durable else _scratch_dir()
    if scratch is not None:
        reap_abandoned(Path(scratch), bindir, prefix)
    base = Path(tempfile.mkdtemp(prefix="hotline-pg-", dir=scratch))
    (base / _OWNER).write_text(str(os.getpid()))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    if as_root:
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
    port = free_port()
    if seed is not None:
        subprocess.run(["cp", "-a", str(seed), str(data)], check=True)  # owner kept
    else:
        subprocess.run(
            [*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
             "-E", "UTF8", "--locale=C"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
    # fsync off: the data is thrown away; durability is not what these tests measure.
    # The WAL kept to ~100 MB (1 GB by default): on a tmpfs it is memory, per xdist worker.
    opts = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c max_connections=200"
            " -c min_wal_size=32MB -c max_wal_size=64MB")
    if not durable:
        opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    subprocess.run(
        [*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
         str(base / "log"), "-w", "-t", "60", "start"],
        check=True, stdout=subprocess.DEVNULL,
    )
    # pg_ctl's postmaster leads a session of its own: stopped with this test process however
    # it ends (kill -9 too). SIGQUIT first, its immediate shutdown: each backend leads a
    # session of its own, so killing the postmaster's group reached no backend (one busy on
    # a query ran 22 s on) and left its shared memory; SIGKILL a second later if it is still
    # there. The files go at the next run's start.
    die_with_us(int((data / "postmaster.pid").read_text().split()[0]), signal.SIGQUIT)
    server = PgServer(host="127.0.0.1", port=port, user="postgres", data=data)
    try:
        yield server
    finally:
        for conn in server._admin:
            conn.close()
        _pg_ctl(data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)
