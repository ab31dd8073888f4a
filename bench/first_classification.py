"""What the first classification of a process costs, with and without the start-up warm-up.

Run by hand: ``.venv/bin/python bench/first_classification.py [--runs 3]``. Each run is a
fresh Python process (jieba's dictionary and the knowledge base's tokenizer load once per
process): it loads the domain as `hotline serve` does, then either classifies at once
(``cold``, as before the warm-up) or first runs the start-up warm-up to its end
(``warm``: ``hotline.wiring.warm_up_text``, what ``start_warm_up`` starts), and times the
first caller's classification (``Domain.understand``) and the console's first knowledge
search (``knowledge.service.search``) on a migrated, empty SQLite database. The texts are
made up here; no held-out file is read. Prints wall seconds per run and the median.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FIRST_CALLER = "海淀区中关村南大街12号院门口的路灯坏了一个星期了，晚上黑得看不见路"
QUESTION = "请问公积金怎么提取，需要带什么材料"

CHILD = r"""
import json, sys, time
from config import Settings
from hotline.wiring import warm_up_text
from knowledge import service as kb
from ticketing.context import Domain
from ticketing.db import make_engine, make_session_factory

url, warm, caller, question = sys.argv[1], sys.argv[2] == "warm", sys.argv[3], sys.argv[4]
settings = Settings(database_url=url)
domain = Domain.load(settings)
sessions = make_session_factory(make_engine(url))
warm_up = 0.0
if warm:
    began = time.perf_counter()
    assert warm_up_text(domain).wait(600)
    warm_up = time.perf_counter() - began
began = time.perf_counter()
domain.understand(caller)
classify = time.perf_counter() - began
began = time.perf_counter()
with sessions() as session:
    kb.search(session=session, text=question, today=kb.today(domain))
search = time.perf_counter() - began
print(json.dumps({"warm_up": warm_up, "classify": classify, "search": search}))
"""


def run(url: str, mode: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, url, mode, FIRST_CALLER, QUESTION],
                         cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from hotline.dbadmin import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(url)
        results: dict[str, list[dict[str, float]]] = {"cold": [], "warm": []}
        for _ in range(args.runs):
            for mode in ("cold", "warm"):  # alternated: both under the same load
                results[mode].append(run(url, mode))
        for mode, rows in results.items():
            for key in ("warm_up", "classify", "search"):
                values = [r[key] for r in rows]
                print(f"{mode:4} {key:8} median {statistics.median(values):6.3f} s   "
                      + " ".join(f"{v:.3f}" for v in values))


if __name__ == "__main__":
    main()
