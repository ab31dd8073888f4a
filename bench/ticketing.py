"""Tickets created and dispatched per second with 50 concurrent HTTP clients.

Starts the real service (uvicorn, one process) on loopback against SQLite and against a
throwaway PostgreSQL, seeds the demo city, then lets N clients POST complaints (each is
classified, accepted and dispatched in the same request) for a bounded count. Prints
throughput and create→dispatched latency percentiles per backend.

    .venv/bin/python bench/ticketing.py [--clients 50] [--tickets 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.support.pgserver import free_port, running_pg_server  # noqa: E402

COMPLAINTS = [
    "朝阳区望京西园三区5号楼停水了，一直没来水",
    "海淀区中关村大街人行道井盖丢了，很危险",
    "丰台区某小区暖气不热，室温只有十五度",
    "东城区某饭馆油烟扰民，晚上十点还在营业",
    "通州区某路口红绿灯坏了，车辆乱行",
    "公司拖欠我三个月工资不发",
]


def start_service(db_url: str, port: int, workdir: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HOTLINE_DATABASE_URL": db_url, "HOTLINE_PORT": str(port),
           "HOTLINE_DATA_DIR": str(workdir)}
    hotline = str(REPO / ".venv" / "bin" / "hotline")
    subprocess.run([hotline, "db", "upgrade"], env=env, check=True, capture_output=True)
    out = subprocess.run([hotline, "demo"], env=env, check=True, capture_output=True, text=True)
    token = next(line.split()[-2] for line in out.stdout.splitlines() if "operator" in line
                 and "│" in line)
    env["BENCH_TOKEN"] = token
    proc = subprocess.Popen([hotline, "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.token = token  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("service did not start")


async def load(port: int, token: str, clients: int, total: int) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(total):
        queue.put_nowait(i)
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients)

    async def client(c: httpx.AsyncClient) -> None:
        nonlocal errors
        while True:
            try:
                i = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            body = {"caller_phone": f"139{i:08d}", "demand": COMPLAINTS[i % len(COMPLAINTS)]}
            t0 = time.perf_counter()
            r = await c.post("/api/v1/tickets", json=body, headers=headers)
            dt = time.perf_counter() - t0
            if r.status_code == 201 and r.json()["status"] != "draft":  # accepted
                latencies.append(dt)
            else:
                errors += 1

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                 timeout=30) as c:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(c) for _ in range(clients)))
        elapsed = time.perf_counter() - t0
    return latencies, elapsed, errors


def report(name: str, latencies: list[float], elapsed: float, errors: int) -> None:
    q = statistics.quantiles(latencies, n=100)
    print(f"{name:10s} tickets={len(latencies)} errors={errors} "
          f"throughput={len(latencies) / elapsed:.1f}/s "
          f"p50={q[49] * 1000:.1f}ms p95={q[94] * 1000:.1f}ms max={max(latencies) * 1000:.1f}ms")


def run(name: str, db_url: str, clients: int, total: int, workdir: Path) -> None:
    port = free_port()
    proc = start_service(db_url, port, workdir)
    try:
        asyncio.run(load(port, proc.token, clients, min(100, total)))  # type: ignore[attr-defined]
        report(name, *asyncio.run(load(port, proc.token, clients, total)))  # type: ignore[attr-defined]
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--tickets", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        run("sqlite", f"sqlite:///{work / 'bench.db'}", args.clients, args.tickets, work)
        with running_pg_server() as pg:
            import psycopg

            with psycopg.connect(host=pg.host, port=pg.port, user=pg.user, dbname="postgres",
                                 autocommit=True) as conn:
                conn.execute("CREATE DATABASE bench")
            run("postgresql", pg.url("bench"), args.clients, args.tickets, work)


if __name__ == "__main__":
    main()
