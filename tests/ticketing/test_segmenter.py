"""jieba's dictionary: built once a process for the intake model's words and the knowledge
base's own tokenizer, cached nowhere on disk (``ticketing.segmenter``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jieba

from ticketing.segmenter import global_tokenizer, private_tokenizer

ROOT = Path(__file__).resolve().parents[2]

# Written for this test: a complaint, a question, an address with a community's name.
SENTENCES = [
    "小区东门外的排水沟堵了三天，一下雨就漫到人行道上",
    "请问新生儿落户需要准备哪些材料，在哪个窗口办理",
    "丰台区卢沟桥街道有家饭馆夜里十二点还在外面烧烤，油烟很大",
]

# A fresh process, as `hotline serve` is: the intake model's words (jieba's global
# tokenizer), the knowledge base's words and its tagger (its own tokenizer), every file it
# opened seen by an audit hook, and each build of the dictionary counted.
CHILD = r"""
import json, sys
opened = []
sys.addaudithook(lambda event, args: opened.append(str(args[0]))
                 if event == "open" and isinstance(args[0], (str, bytes)) else None)
import jieba
builds = []
build = jieba.Tokenizer.gen_pfdict
def counted(f):
    builds.append(1)
    return build(f)
jieba.Tokenizer.gen_pfdict = staticmethod(counted)
from config import Settings
from knowledge import search
from ticketing.context import Domain
domain = Domain.load(Settings())
assert domain.model is not None and "words" in {v.analyzer for v in domain.model.vocabularies}
domain.understand(sys.argv[1])
search.words(sys.argv[1])
search.asked_objects(sys.argv[1])
print(json.dumps({"builds": len(builds), "opened": opened}))
"""


def test_one_build_of_the_dictionary_a_process_and_no_cache_file(tmp_path: Path) -> None:
    """Before, each tokenizer loaded the dictionary by itself (~0.45 CPU-s each), through a
    cache file jieba writes to, and reads back from, the system's temp directory (outside
    the service's data dir, whoever wrote it): here the temp directory is the test's own,
    and nothing of jieba's is opened there."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp), "HOTLINE_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-c", CHILD, SENTENCES[0]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["builds"] == 1
    assert [p for p in seen["opened"] if p.endswith(".cache") or p.startswith(str(temp))] == []
    assert list(temp.iterdir()) == []


def test_the_words_are_jiebas_own(tmp_path: Path) -> None:
    """The dictionary built here cuts as jieba's own loading of it does."""
    own = jieba.Tokenizer()
    own.tmp_dir = str(tmp_path)  # jieba's cache file in the test's directory, not /tmp
    own.initialize()
    for tokenizer in (global_tokenizer(), private_tokenizer()):
        assert tokenizer.total == own.total and tokenizer.FREQ == own.FREQ
        for text in SENTENCES:
            assert tokenizer.lcut(text) == own.lcut(text)
            assert tokenizer.lcut_for_search(text) == own.lcut_for_search(text)


def test_a_word_given_to_one_tokenizer_is_in_no_other() -> None:
    """Each tokenizer has its own copy: the knowledge base's tokenizer is private so that
    words added elsewhere never change how it cuts."""
    one, other = private_tokenizer(), private_tokenizer()
    one.add_word("排水沟堵")
    assert "排水沟堵" in one.lcut(SENTENCES[0])
    assert "排水沟堵" not in other.lcut(SENTENCES[0])
    assert "排水沟堵" not in private_tokenizer().lcut(SENTENCES[0])
    assert "排水沟堵" not in global_tokenizer().FREQ
