"""The outbound scripts' audio: 8 kHz WAV files from the one prompt renderer
(``telephony.media.prompts``): a recording from config/prompts/<id>.wav when one exists,
else Mandarin speech generated once with espeak-ng + sox and cached under
``data_dir/prompts``."""

from __future__ import annotations

from pathlib import Path

from config.settings import Settings
from telephony.media.prompts import PromptRenderer


class PromptLibrary:
    def __init__(self, settings: Settings) -> None:
        self.renderer = PromptRenderer(recorded_dir=settings.prompts_dir,
                                       cache_dir=settings.data_dir / "prompts",
                                       voice=settings.outbound.tts_voice)

    def wav(self, prompt_id: str, text: str) -> Path:
        return self.renderer.recorded(prompt_id) or self.renderer.speech(prompt_id, text)

    def speech(self, prompt_id: str, text: str) -> Path:
        """``text`` spoken by TTS whatever is recorded under ``prompt_id``."""
        return self.renderer.speech(prompt_id, text)
