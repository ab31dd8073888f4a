"""What one `hotline serve` costs to start: exec to listening, and to its classifier warm.

Run by hand:

    .venv/bin/python bench/serve_start.py [--roles all,api,ivr,outbound] [--runs 3]
        [--workers N] [--asr-model DIR] [--strace] [--importtime]

Each run starts the real `hotline serve --role R` on the shipped settings in a data dir of
its own (migrated first, its SQLite database inside it; the ports free ones), the data dir
kept between the runs of a role: the first run renders the prompt catalogue (voice roles),
the others start as a restart does (after a crash, a deploy). It polls ``/healthz`` (the
API's, or the status listener of a role without HTTP) every 20 ms and prints, per run:

- ``listen``: wall seconds from exec to the first answer of /healthz, and the CPU-s
  (user + system) of the process tree by then: every process still alive, and the
  children it waited for (espeak-ng and sox rendering prompts, uvicorn's workers);
- ``warm``: the same when /healthz first says the classifier is warm (the start-up
  warm-up: jieba's dictionary, the intake model's first pass, the knowledge base's
  tokenizer; ``hotline.wiring.warm_up_text``); none for the outbound role, which reads no
  caller's words.

``--strace`` runs each start under ``strace -f -e trace=openat`` and counts, per process
tree, how many times each data file was opened for reading: the rule files, the gazetteer,
the intake model's files, jieba's dictionary and cache, the knowledge base's files (opens
time nothing: its wall and CPU figures are not the plain ones). ``--importtime`` writes
``python -X importtime``'s lines of each start beside the data dir and prints the slowest
top-level imports of the first one.

No Vosk model is installed by the shipped settings in a fresh checkout (`hotline asr
ensure` downloads it); ``--asr-model DIR`` names a model directory to load (its parent as
``asr.model_dir``, its name as ``asr.model_name``).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
# `python -m hotline` from the checkout (not the venv's `hotline` script, which imports
# the checkout the venv was installed from): ``--root`` compares another checkout's start.
HOTLINE = [sys.executable, "-m", "hotline"]
POLL = 0.02
LIMIT = 180.0

# The data files counted under --strace, by what they are.
DATA_FILES = {
    "rules": re.compile(r"config/(classification|dispatch_rules|respondent|too_little|"
                        r"categories|holidays)\.toml$"),
    "gazetteer": re.compile(r"config/gazetteer\.toml$"),
    "model": re.compile(r"(data/intake/model|/classifier)/[^/]+$"),
    "jieba dictionary": re.compile(r"jieba/dict\.txt$|jieba\.cache$|jieba\.u[0-9a-f]+\.cache$"),
    "jieba tagger": re.compile(r"jieba/(posseg|finalseg)/.*\.(py|p)$|"
                               r"jieba/(posseg|finalseg)/__pycache__/.*\.pyc$"),
    "knowledge base": re.compile(r"config/kb_[a-z_]+\.toml$"),
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree_cpu(pid: int) -> float:
    """User + system CPU-s of ``pid`` and every descendant alive, and the children each
    waited for."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan")
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system + t.children_user + t.children_system
    return total


def environment(data_dir: Path, asr_model: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "HOTLINE_DATA_DIR": str(data_dir),
        "HOTLINE_RECORDINGS_DIR": str(data_dir / "recordings"),
        "HOTLINE_DATABASE_URL": f"sqlite:///{data_dir / 'hotline.db'}",
        "HOTLINE_SIP__PORT": str(free_port()),
        "HOTLINE_OUTBOUND__SIP_PORT": str(free_port()),
        "HOTLINE_ASR__MODEL_DIR": str(asr_model.parent if asr_model else data_dir / "models"),
    })
    if asr_model is not None:
        env["HOTLINE_ASR__MODEL_NAME"] = asr_model.name
    return env


def start(role: str, data_dir: Path, env: dict[str, str], *, root: Path, workers: int | None,
          strace: Path | None, importtime: Path | None) -> dict[str, float | None]:
    port = free_port()
    argv = [*HOTLINE, "serve", "--role", role, "--port", str(port)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    if importtime is not None:
        argv = [sys.executable, "-X", "importtime", *argv[1:]]
    if strace is not None:
        argv = ["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(strace), *argv]
    wants_warm = role != "outbound"
    log = (data_dir / f"serve-{role}.log").open("ab")
    err = importtime.open("wb") if importtime is not None else log
    began = time.monotonic()
    proc = subprocess.Popen(argv, cwd=root, env=env, stdout=log, stderr=err,
                            start_new_session=True)
    out: dict[str, float | None] = {"listen_wall": None, "listen_cpu": None,
                                    "warm_wall": None, "warm_cpu": None}
    try:
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() - began < LIMIT:
                if proc.poll() is not None:
                    raise RuntimeError(f"serve --role {role} exited {proc.returncode}; "
                                       f"see {log.name}")
                try:
                    answer = client.get(f"http://127.0.0.1:{port}/healthz")
                except httpx.HTTPError:
                    time.sleep(POLL)
                    continue
                now = time.monotonic() - began
                if out["listen_wall"] is None and answer.status_code == 200:
                    out["listen_wall"], out["listen_cpu"] = now, tree_cpu(proc.pid)
                classifier = answer.json().get("classifier") or {}
                if not wants_warm or classifier.get("warm"):
                    out["warm_wall"] = now if wants_warm else None
                    out["warm_cpu"] = tree_cpu(proc.pid) if wants_warm else None
                    break
                time.sleep(POLL)
            else:
                raise RuntimeError(f"serve --role {role} not ready in {LIMIT} s")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        if err is not log:
            err.close()
    return out


def opened(trace: Path) -> dict[str, collections.Counter[str]]:
    """Per data file kind: how many opens (for reading, successful) of each path."""
    found: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    line_re = re.compile(r'openat\([^,]+, "([^"]+)", ([A-Z_|]+)[^)]*\) = (\d+)')
    for line in trace.read_text(errors="replace").splitlines():
        match = line_re.search(line)
        if match is None or "O_WRONLY" in match.group(2) or "O_DIRECTORY" in match.group(2):
            continue
        for kind, pattern in DATA_FILES.items():
            if pattern.search(match.group(1)):
                found[kind][match.group(1)] += 1
    return found


def processes(trace: Path) -> int:
    """How many processes the traced tree ran Python in (pids with any open at all)."""
    return len({line.split()[0] for line in trace.read_text(errors="replace").splitlines()
                if "python" in line and "openat" in line})


def slowest_imports(path: Path, top: int = 15) -> list[tuple[int, str]]:
    """The top-level imports (nesting 1) with their cumulative microseconds."""
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if match and len(match.group(3)) <= 1:
            rows.append((int(match.group(2)), match.group(4)))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--roles", default="all,api,ivr,outbound")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--asr-model", type=Path, default=None)
    parser.add_argument("--strace", action="store_true")
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the data dirs")
    parser.add_argument("--root", type=Path, default=ROOT,
                        help="the checkout to start (default: this one)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="serve-start-"))
    print(f"load {os.getloadavg()[0]:.2f}; data dirs under {base}")
    for role in args.roles.split(","):
        data_dir = base / role
        data_dir.mkdir()
        env = environment(data_dir, args.asr_model)
        subprocess.run([*HOTLINE, "db", "upgrade"], cwd=args.root, env=env, check=True,
                       capture_output=True)
        for run in range(args.runs):
            trace = data_dir / f"strace-{run}.txt" if args.strace else None
            imports = data_dir / f"importtime-{run}.txt" if args.importtime else None
            out = start(role, data_dir, env, root=args.root, workers=args.workers, strace=trace,
                        importtime=imports)
            shown = " ".join(f"{k} {v:.2f}" for k, v in out.items() if v is not None)
            print(f"{role:9} run {run} ({'first' if run == 0 else 'restart'}): {shown}  "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
            if trace is not None:
                print(f"  python processes: {processes(trace)}")
                for kind, paths in opened(trace).items():
                    print(f"  {kind}: " + ", ".join(
                        f"{Path(p).name} ×{n}" for p, n in sorted(paths.items())))
            if imports is not None and run == 0:
                print("  slowest imports (cumulative ms): " + ", ".join(
                    f"{name} {us / 1000:.0f}" for us, name in slowest_imports(imports)))
    if not args.keep:
        import shutil

        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps({"load_end": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
