"""jieba's dictionary, built once a process from the package's own dict.txt, and the
tokenizers that cut with it: jieba's global one (the intake model's words, ``jieba.lcut``)
and any private one (the knowledge base's: ``knowledge.search``).

Each tokenizer used to load the dictionary by itself (``Tokenizer.initialize``): twice a
process, ~0.45 CPU-s and ~60 MB each, from a cache file jieba keeps in the system's temp
directory, ``/tmp/jieba.cache``. That file is written outside the service's data dir, and
read back whoever wrote it (jieba checks no owner, and no date for its default
dictionary): another local user's file there would decide how callers' words are cut.
Reading it costs as much CPU as building the dictionary from dict.txt (~0.45 CPU-s each
on Python 3.11), so nothing is cached on disk: the dictionary is built here once, kept
unmodified, and each tokenizer gets its own copy (~0.01 CPU-s, ~15 MB: a word one of them
is given is never seen by the other).
"""

from __future__ import annotations

import functools
import logging
import threading

import jieba

__all__ = ["fill", "global_tokenizer", "private_tokenizer"]

_lock = threading.Lock()


@functools.cache
def _dictionary() -> tuple[dict[str, int], int]:
    """The default dictionary's word frequencies and their total, never handed out."""
    jieba.setLogLevel(logging.WARNING)  # jieba says what it loads on stderr: not our log
    builder = jieba.Tokenizer()
    freq, total = builder.gen_pfdict(builder.get_dict_file())
    return freq, total


def fill(tokenizer: jieba.Tokenizer) -> jieba.Tokenizer:
    """``tokenizer`` made ready with a copy of the default dictionary, unless it is ready
    already; jieba's own loading (and its cache file) never runs for it."""
    with tokenizer.lock:  # jieba's own lock around its loading
        if not tokenizer.initialized:
            with _lock:
                freq, total = _dictionary()
            tokenizer.FREQ, tokenizer.total = dict(freq), total
            tokenizer.initialized = True
    return tokenizer


def global_tokenizer() -> jieba.Tokenizer:
    """jieba's global tokenizer (``jieba.dt``, what ``jieba.lcut`` cuts with), ready."""
    tokenizer = jieba.dt
    return tokenizer if tokenizer.initialized else fill(tokenizer)


def private_tokenizer() -> jieba.Tokenizer:
    """A tokenizer of the caller's own (words added to jieba's global one are not in it)."""
    return fill(jieba.Tokenizer())
