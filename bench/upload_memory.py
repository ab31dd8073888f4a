"""Reply-attachment uploads: how much memory the server takes on for one request refused
for a made-up bearer token, and for a real upload, at the shipped size limit.

An upload path may carry ``attachments.max_bytes`` (10 MB shipped) over max_body_bytes.
Anyone can send such a request with a made-up token, so it should cost the server as
little as possible before the token is checked. Each case runs against a fresh
``uvicorn`` process (the real server, loopback, a throwaway SQLite database with the demo
city); the figure is how far the process's resident memory (VmRSS, sampled every 2 ms
while the request runs) rises above where it was before, after a warm-up request.

    .venv/bin/python bench/upload_memory.py [--mb 10]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from config import Settings  # noqa: E402
from hotline import dbadmin  # noqa: E402
from tests.support.city import seed_city  # noqa: E402
from ticketing.context import Domain  # noqa: E402
from ticketing.db import make_engine, make_session_factory  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
WATER = "朝阳区望京西园三区5号楼停水了，一直没来水"
SERVE = ("import uvicorn; from config import get_settings; from hotline.app import create_app;"
         "uvicorn.run(create_app(get_settings()), host='127.0.0.1', port={port}, "
         "log_level='error')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


class RssPeak:
    """The highest VmRSS of ``pid`` seen while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, rss_kb(pid), threading.Event()

    def __enter__(self) -> RssPeak:
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._stop.wait(0.002):
            self.peak = max(self.peak, rss_kb(self.pid))

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kb(self.pid))


def serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SERVE.format(port=port)], cwd=REPO,
                            env={**os.environ, **env, "PYTHONPATH": str(REPO)},
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            httpx.get(f"{base}/healthz", timeout=1)
            return proc, base
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=None,
                    help="file size in MB (default: the shipped attachments.max_bytes)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        dbadmin.upgrade(url)
        settings = Settings(database_url=url, data_dir=Path(tmp))
        engine = make_engine(url)
        tokens = seed_city(make_session_factory(engine), Domain.load(settings)).tokens
        engine.dispose()
        size = int(args.mb * 2**20) if args.mb else settings.attachments.max_bytes
        data = PNG_MAGIC + b"\0" * (size - len(PNG_MAGIC))
        env = {"HOTLINE_DATABASE_URL": url, "HOTLINE_DATA_DIR": tmp}
        op = {"Authorization": f"Bearer {tokens['operator']}"}
        handler = {"Authorization": f"Bearer {tokens['water-handler']}"}
        forged = {"Authorization": "Bearer made-up-token"}

        def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
            yield (b'--bench\r\nContent-Disposition: form-data; name="file"; '
                   b'filename="a.png"\r\nContent-Type: image/png\r\n\r\n')
            for i in range(0, len(data), 2**16):
                yield data[i:i + 2**16]
            yield b"\r\n--bench--\r\n"

        cases = [("made-up token, Content-Length", forged, False),
                 ("made-up token, chunked", forged, True),
                 ("handler's upload, Content-Length", handler, False)]
        print(f"file {size / 2**20:.1f} MB; the server's RSS rise during one request")
        for name, headers, chunked in cases:
            proc, base = serve(env)
            try:
                with httpx.Client(base_url=base, timeout=60) as c:
                    number = c.post("/api/v1/tickets", headers=op, json={
                        "caller_phone": "13811112222", "demand": WATER,
                        "category": "water"}).json()["number"]
                    c.post(f"/api/v1/tickets/{number}/sign", headers=handler)
                    path = f"/api/v1/tickets/{number}/attachments"
                    # Warm-up: a small upload refused, so imports and pools are in place.
                    c.post(path, headers=forged, files={"file": ("w.png", PNG_MAGIC, "image/png")})
                    before = rss_kb(proc.pid)
                    with RssPeak(proc.pid) as seen:
                        if chunked:
                            r = c.post(path, content=chunks(), headers={
                                **headers,
                                "Content-Type": "multipart/form-data; boundary=bench"})
                        else:
                            r = c.post(path, headers=headers,
                                       files={"file": ("a.png", data, "image/png")})
                    grown = (seen.peak - before) / 1024
                print(f"  {name:34s} HTTP {r.status_code}  +{grown:6.1f} MB")
            finally:
                proc.terminate()
                proc.wait()


if __name__ == "__main__":
    main()
