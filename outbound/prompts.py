"""The outbound scripts' audio: 8 kHz WAV files from the one prompt renderer
(``telephony.media.prompts``): a recording from config/prompts/<id>.wav when one exists
(converted once, cached under ``data_dir/prompts``), else Mandarin speech generated with
espeak-ng + sox for the call (``for_call``), its files gone when the call is."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from config.settings import Settings
from telephony.media.prompts import PromptRenderer


class PromptLibrary:
    def __init__(self, settings: Settings) -> None:
        self.renderer = PromptRenderer(recorded_dir=settings.prompts_dir,
                                       cache_dir=settings.data_dir / "prompts",
                                       voice=settings.outbound.tts_voice)
        self.renderer.sweep_leftovers()  # calls of a process killed mid-way

    @contextmanager
    def for_call(self) -> Iterator[CallPrompts]:
        """The prompts of one call. What an outbound call says carries a ticket's number,
        category or handler's answer: cached per text like the IVR's fixed prompts, every
        call placed left one more WAV under ``data_dir/prompts`` that nothing deleted
        (soak46). Spoken into a directory of the call's own, removed when it ends."""
        cache = self.renderer.cache_dir
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache, prefix=".call-") as spoken:
            yield CallPrompts(self.renderer, PromptRenderer(
                recorded_dir=self.renderer.recorded_dir, cache_dir=Path(spoken),
                voice=self.renderer.voice, speed=self.renderer.speed))


class CallPrompts:
    def __init__(self, kept: PromptRenderer, spoken: PromptRenderer) -> None:
        self._kept = kept
        self._spoken = spoken

    def wav(self, prompt_id: str, text: str, *, fixed: bool = False) -> Path:
        """The step's recording, or ``text`` spoken: cached when ``fixed`` (the same words
        on every call), else for this call."""
        spoken = self._kept if fixed else self._spoken
        return self._kept.recorded(prompt_id) or spoken.speech(prompt_id, text)

    def speech(self, prompt_id: str, text: str) -> Path:
        """``text`` spoken by TTS whatever is recorded under ``prompt_id`` (for this call)."""
        return self._spoken.speech(prompt_id, text)
