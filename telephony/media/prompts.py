"""The one prompt renderer: speech and tones as 16-bit 8 kHz mono WAV files for the line.

Both catalogues (the IVR's sentences in ``ivr.prompts``, the outbound scripts in
``outbound.prompts``) get their audio here. A recording at ``recorded_dir/<key>.wav``
wins (any rate/width/channels: converted with sox once, cached by the file's content
hash); otherwise the text is spoken by espeak-ng and converted with sox, cached under
``cache_dir`` with a hash of voice+speed+text in the file name, so changing a text makes
a new file instead of playing the stale one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from telephony.media.wav import PHONE_RATE, read_wav_pcm16

log = logging.getLogger("telephony.prompts")

_SAFE = re.compile(r"[^A-Za-z0-9_-]")


class PromptError(RuntimeError):
    """A prompt could not be made (espeak-ng or sox missing or failing)."""


GENERATOR_TOOLS = ("espeak-ng", "sox")


@dataclass(frozen=True)
class VoiceStatus:
    """Which voice speaks to callers: recordings where config/prompts has them, the
    generator (espeak-ng with ``voice``, converted by sox) for every other sentence,
    knowledge-base answers included. What `hotline doctor` and /healthz report."""

    voice: str
    recorded: int  # WAV recordings in the recorded directory
    missing: tuple[str, ...]  # generator tools not on PATH

    @property
    def generator(self) -> str | None:
        return None if self.missing else "espeak-ng"

    @property
    def ready(self) -> bool:
        # Without the generator only recorded sentences can be played: enough for a
        # fixed menu, never for answers read from the knowledge base.
        return self.generator is not None or self.recorded > 0

    def describe(self) -> str:
        speaks = (f"espeak-ng voice {self.voice}" if self.generator
                  else f"no generator ({', '.join(self.missing)} missing)")
        return f"{speaks}; {self.recorded} recorded prompt(s)"

    def as_dict(self) -> dict[str, object]:
        return {"ready": self.ready, "generator": self.generator, "voice": self.voice,
                "recorded_prompts": self.recorded, "missing": list(self.missing)}


def voice_status(*, recorded_dir: Path, voice: str) -> VoiceStatus:
    recorded = sum(1 for _ in recorded_dir.glob("*.wav")) if recorded_dir.is_dir() else 0
    missing = tuple(t for t in GENERATOR_TOOLS if shutil.which(t) is None)
    return VoiceStatus(voice=voice, recorded=recorded, missing=missing)


# The directories made while a sentence is said and removed after (``PromptRenderer.spoken``,
# ``_once``'s temporary one, ``outbound.prompts.PromptLibrary.for_call``); past an hour
# none belongs to a call still up (an outbound call asks a few questions, 8 s a key).
LEFTOVER_PREFIXES = (".spoken-", ".call-", "tmp")
LEFTOVER_SECONDS = 3600.0


class PromptRenderer:
    """Thread-safe; one synthesis per prompt even when calls start together."""

    def __init__(self, *, recorded_dir: Path, cache_dir: Path, voice: str,
                 speed: int | None = None) -> None:
        self.recorded_dir = Path(recorded_dir)
        self.cache_dir = Path(cache_dir)
        self.voice = voice
        self.speed = speed  # espeak-ng words per minute; None: espeak-ng's own default
        self._lock = threading.Lock()

    def sweep_leftovers(self, *, older_than: float = LEFTOVER_SECONDS) -> int:
        """Remove what a process killed mid-way left under ``cache_dir`` (at start-up): the
        directories ``spoken``, ``_once`` and ``outbound.prompts.for_call`` make and remove
        when they finish, each holding one call's words (an address, a ticket's number)
        for good once the process died in between. Only those ``older_than`` seconds: a
        call of another worker may be saying its sentences now. How many were removed."""
        if not self.cache_dir.is_dir():
            return 0
        cutoff = time.time() - older_than
        swept = 0
        for entry in self.cache_dir.iterdir():
            try:
                if (entry.name.startswith(LEFTOVER_PREFIXES) and entry.is_dir()
                        and not entry.is_symlink() and entry.stat().st_mtime < cutoff):
                    shutil.rmtree(entry)
                    swept += 1
            except OSError as exc:  # gone meanwhile, or not ours to remove: the next start
                log.warning("prompt leftover %s not removed: %s", entry, exc)
        if swept:
            log.info("removed %d prompt directories left by an earlier process", swept)
        return swept

    def recorded(self, key: str) -> Path | None:
        """The recording for ``key`` converted for the line, or None when there is none."""
        recorded = self.recorded_dir / f"{key}.wav"
        if not recorded.is_file():
            return None
        digest = hashlib.sha256(recorded.read_bytes()).hexdigest()[:16]
        out = self.cache_dir / f"recorded-{_SAFE.sub('_', key)[:40]}-{digest}.wav"
        return self._once(out, lambda tmp: _sox_to_phone(recorded, tmp),
                          f"converted recorded prompt {recorded}")

    def speech(self, key: str, sentence: str, *, trim: bool = False) -> Path:
        """``sentence`` spoken; ``trim`` cuts the leading/trailing silence (clips joined
        one after another, such as digits)."""
        out = self._cache_path(key, f"{sentence}\0{int(trim)}")
        return self._once(out, lambda tmp: self._speak(sentence, tmp, trim=trim),
                          f"generated prompt {out.name}")

    def spoken(self, sentence: str) -> bytes:
        """``sentence`` spoken, as 16-bit PCM, and no file kept: for a sentence that
        carries one call's words (a caller's address read back, a handler's answer). Cached
        as ``speech`` caches, each such sentence was a file under ``cache_dir`` that nothing
        ever deleted: one more per call for as long as the service ran (soak46), holding
        the caller's address past the retention of the recording it came from."""
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.cache_dir, prefix=".spoken-") as tmpdir:
            wav = Path(tmpdir) / "prompt.wav"
            self._speak(sentence, wav)
            return read_wav_pcm16(wav)

    def _speak(self, sentence: str, out: Path, *, trim: bool = False) -> None:
        raw = out.with_name("espeak.wav")
        speed = [] if self.speed is None else ["-s", str(self.speed)]
        _run(espeak_argv(sentence, raw, voice=self.voice, options=speed))
        _sox_to_phone(raw, out, trim=trim)

    def tone(self, key: str, *, hz: int, seconds: float) -> Path:
        """A soft sine tone (the beep before recording)."""
        out = self._cache_path(key, f"tone:{hz}Hz:{seconds}s")

        def make(tmp: Path) -> None:
            _run(["sox", "-n", "-r", str(PHONE_RATE), "-c", "1", "-b", "16",
                  "-e", "signed-integer", str(tmp), "synth", str(seconds), "sine", str(hz),
                  "fade", "0.01", str(seconds), "0.01", "gain", "-8", "pad", "0.05", "0.1"])

        return self._once(out, make, f"generated tone {out.name}")

    # ---- internals
    def _cache_path(self, key: str, source: str) -> Path:
        digest = hashlib.sha256(f"{self.voice}\0{self.speed}\0{source}".encode()).hexdigest()
        return self.cache_dir / f"{_SAFE.sub('_', key)[:40]}-{digest[:16]}.wav"

    def _once(self, out: Path, make: Callable[[Path], None], what: str) -> Path:
        if out.is_file():
            return out
        with self._lock:
            if not out.is_file():
                out.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.TemporaryDirectory(dir=out.parent) as tmpdir:
                    tmp = Path(tmpdir) / "prompt.wav"
                    make(tmp)
                    # Renamed into place: a crash never leaves a half-written prompt.
                    os.replace(tmp, out)
                log.info(what)
        return out


def espeak_argv(text: str, out: Path | str, *, voice: str,
                options: Sequence[str] = ()) -> list[str]:
    """espeak-ng's command line speaking ``text`` into the WAV ``out``: the one rule for
    every caller (the prompts, the test callers, the benches). "--": the text is text, never
    an option. A knowledge answer's part (an editor's words) reading "-f/etc/shadow" made
    espeak-ng speak that file to the caller, "--version" no prompt at all (judge30)."""
    return ["espeak-ng", "-v", voice, *options, "-w", str(out), "--", text]


def _run(argv: list[str], *, timeout: float = 30) -> None:
    """``argv`` run to its end, or PromptError saying why: every way it can fail is one
    (mend70: a NUL in the text (ValueError), a tool hanging past ``timeout`` (TimeoutExpired) or
    not executable (PermissionError) escaped to the call's handler as another exception)."""
    try:
        subprocess.run(argv, check=True, capture_output=True, timeout=timeout)
    except FileNotFoundError as exc:
        raise PromptError(f"{argv[0]} is not installed (Debian: apt-get install "
                          f"espeak-ng sox)") from exc
    except subprocess.CalledProcessError as exc:
        raise PromptError(f"{argv[0]} failed: {exc.stderr.decode(errors='replace')[-300:]}") \
            from exc
    except subprocess.TimeoutExpired as exc:
        raise PromptError(f"{argv[0]} took more than {exc.timeout:g} s") from exc
    except (OSError, ValueError) as exc:
        raise PromptError(f"{argv[0]} could not run: {exc}") from exc


def _sox_to_phone(src: Path, out: Path, *, trim: bool = False) -> None:
    # -G: guard against clipping when a louder recording is resampled; norm -3 keeps
    # recorded and generated prompts at about the same loudness on the line. -R: the
    # dither's noise the same at every run, so one sentence is one audio whether cached
    # or said for one call alone (``spoken``), and a test can find it in what was heard.
    effects = ["norm", "-3"]
    if trim:  # cut leading/trailing silence, keep a short pause between digits
        effects += ["silence", "1", "0.01", "1%", "reverse", "silence", "1", "0.01", "1%",
                    "reverse", "pad", "0", "0.12"]
    _run(["sox", "-G", "-R", str(src), "-r", str(PHONE_RATE), "-c", "1", "-b", "16",
          "-e", "signed-integer", str(out), *effects])
