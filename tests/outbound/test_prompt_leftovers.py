"""What a killed process leaves in the prompt cache (``data_dir/prompts``): an outbound
call's own directory (``PromptLibrary.for_call``: a ticket's number, a handler's answer),
a read-back being made (``PromptRenderer.spoken``: a caller's address), a prompt being
converted. Removed by the ``with`` that made them, and by nothing when the process died in
between (SIGKILL, OOM, a drain cut short): each stayed for good, hidden by its dot, the very
leak soak46 closed for the calls that end. The next start sweeps the stale ones."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from config.settings import Settings
from ivr.prompts import PromptLibrary as IvrPrompts
from outbound.prompts import PromptLibrary as OutboundPrompts

HOURS = 3600


def _left(cache: Path, name: str, *, age: float) -> Path:
    d = cache / name
    d.mkdir(parents=True)
    (d / "prompt.wav").write_bytes(b"RIFF")
    then = time.time() - age
    os.utime(d, (then, then))
    return d


@pytest.mark.parametrize("library", [OutboundPrompts, IvrPrompts])
def test_the_next_start_sweeps_what_a_killed_process_left_being_said(
        settings: Settings, library: type) -> None:
    cache = Path(settings.data_dir) / "prompts"
    stale = [_left(cache, n, age=2 * HOURS) for n in (".call-k1l2", ".spoken-x9", "tmpab3")]
    live = _left(cache, ".call-live", age=60)  # a call of another worker on the line now
    kept = cache / "sign_moot-0123456789abcdef.wav"  # a cached prompt, old as it may be
    kept.write_bytes(b"RIFF")
    os.utime(kept, (time.time() - 48 * HOURS,) * 2)
    library(settings)
    assert [d for d in stale if d.exists()] == []
    assert live.is_dir() and kept.is_file()
