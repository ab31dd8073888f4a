"""bench/asr.py as a module for the other ASR benches (its speech, phone path and decode
loop). Loaded by path: its module name would shadow the asr package."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType


def load_bench_asr() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "bench_asr", Path(__file__).resolve().parent / "asr.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
