"""Prompts as 8 kHz WAV files: a recording from config/prompts/<id>.wav when one exists,
else Mandarin speech generated once with espeak-ng + sox and cached under
``data_dir/prompts`` (keyed by voice and text, so a changed text makes a new file)."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import tempfile
import threading
from pathlib import Path

from config.settings import Settings

log = logging.getLogger("outbound.prompts")


class PromptLibrary:
    def __init__(self, settings: Settings) -> None:
        self.recorded_dir = settings.prompts_dir
        self.cache_dir = settings.data_dir / "prompts"
        self.voice = settings.outbound.tts_voice
        self._lock = threading.Lock()

    def wav(self, prompt_id: str, text: str) -> Path:
        recorded = self.recorded_dir / f"{prompt_id}.wav"
        if recorded.is_file():
            return recorded
        digest = hashlib.sha256(f"{self.voice}\0{text}".encode()).hexdigest()[:20]
        cached = self.cache_dir / f"{prompt_id}-{digest}.wav"
        if cached.is_file():
            return cached
        with self._lock:  # one synthesis per prompt even when calls start together
            if not cached.is_file():
                self._synthesise(text, cached)
        return cached

    def _synthesise(self, text: str, out: Path) -> None:
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            raw, phone = Path(tmp) / "espeak.wav", Path(tmp) / "phone.wav"
            subprocess.run(["espeak-ng", "-v", self.voice, "-w", str(raw), text],
                           check=True, capture_output=True, timeout=30)
            subprocess.run(["sox", str(raw), "-r", "8000", "-c", "1", "-b", "16",
                            "-e", "signed-integer", str(phone), "gain", "-n", "-3"],
                           check=True, capture_output=True, timeout=30)
            # Renamed into place so a crash never leaves a half-written prompt in the cache.
            os.replace(phone, out)
        log.info("generated prompt %s", out.name)
