"""Decoder options (settings.asr.beam / max_active / lattice_beam / dither) reach Vosk.

Vosk's Python API has no setter for them (vosk 0.3.45: KaldiRecognizer and Model take none);
Kaldi reads them from the model's conf/model.conf when the Model is created, so
``load_model`` loads through a linked copy whose model.conf carries them (and whose
mfcc.conf carries the feature dither)."""

from __future__ import annotations

import ctypes
import json
import os
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from asr.engine import AsrEngine
from asr.model_store import (
    DecoderOptions,
    ModelError,
    decoder_overlay,
    load_model,
    read_model_conf,
)
from config import Settings
from config.settings import AsrSettings

pytestmark = pytest.mark.asr


def test_overlay_carries_the_options_and_leaves_the_model_alone(model_path: Path) -> None:
    shipped = (model_path / "conf" / "model.conf").read_text()
    options = DecoderOptions(beam=8.0, max_active=2000, lattice_beam=1.5)
    with decoder_overlay(model_path, options) as overlay:
        conf = read_model_conf(overlay)
        assert (conf["beam"], conf["max-active"], conf["lattice-beam"]) == ("8.0", "2000", "1.5")
        # Everything else as the model has it: its other options, and its files linked.
        original = read_model_conf(model_path)
        assert {k: v for k, v in conf.items() if k not in options.conf()} == {
            k: v for k, v in original.items() if k not in options.conf()}
        assert os.path.samefile(overlay / "am" / "final.mdl", model_path / "am" / "final.mdl")
        assert (overlay / "conf" / "mfcc.conf").read_text() == (
            model_path / "conf" / "mfcc.conf").read_text()
    assert not overlay.exists()  # gone once the model is loaded
    assert (model_path / "conf" / "model.conf").read_text() == shipped


def test_dither_goes_into_mfcc_conf_next_to_the_models_feature_options(model_path: Path) -> None:
    with decoder_overlay(model_path, DecoderOptions(dither=0.0)) as overlay:
        mfcc = read_model_conf(overlay, "mfcc.conf")
        assert mfcc.pop("dither") == "0.0"
        assert mfcc == read_model_conf(model_path, "mfcc.conf")
        assert read_model_conf(overlay) == read_model_conf(model_path)
    assert "dither" not in read_model_conf(model_path, "mfcc.conf")


def test_a_model_without_mfcc_conf_gets_none_from_beam_options(tmp_path: Path) -> None:
    # Only the options asked for are written: no feature file appears for beam settings.
    model = tmp_path / "model"
    (model / "conf").mkdir(parents=True)
    (model / "conf" / "model.conf").write_text("--min-active=200\n--beam=10.0\n")
    with decoder_overlay(model, DecoderOptions(beam=6.0)) as overlay:
        assert read_model_conf(overlay) == {"min-active": "200", "beam": "6.0"}
        assert not (overlay / "conf" / "mfcc.conf").exists()


def test_no_options_load_the_model_as_it_ships(model_path: Path) -> None:
    with decoder_overlay(model_path, DecoderOptions()) as same:
        assert same == model_path
    with decoder_overlay(model_path, None) as same:
        assert same == model_path


# Kaldi draws its dither from the C library's process-wide rand() (docs/asr.md, "Decoder
# beam and dither"): unseeded, a near-zero lattice beam now and then kept two tied paths of
# one sentence (one CI run in many). Seeded, each decoding is the same every run.
_libc = ctypes.CDLL(None)


def _alternatives(engine: AsrEngine, sample: list[bytes]) -> list[int]:
    """How many alternatives each clip of ``sample`` gets, decoded one after another by one
    recognizer, as a stream's is reused (FinalResult clears it): a new one per clip paid
    its graph cache again (~2 CPU-s each, measured, against ~0.4 reused)."""
    rec = engine.recognizer(8000)
    rec.SetMaxAlternatives(10)
    counts = []
    for pcm16 in sample:
        _libc.srand(12345)
        rec.AcceptWaveform(pcm16)
        counts.append(len(json.loads(rec.FinalResult())["alternatives"]))
    return counts


def test_options_reach_the_decoder(model_path: Path, phone_speech: dict[str, bytes],
                                   sentences: list[str]) -> None:
    # The lattice beam decides how many paths the lattice keeps, so how many different
    # n-best alternatives Vosk can give: a wide one leaves several per sentence (on
    # average), a beam of almost nothing leaves one. (Word accuracy is no test here: on this hard speech
    # even a far too narrow beam is about as wrong as the shipped one.)
    # The shipped decoder but for the lattice beam (the model's own, wider beams only cost
    # more CPU), on every fourth sentence: the twelve sentences twice over, each on a new
    # recognizer, were this file's ~45 CPU-s.
    shipped = DecoderOptions.from_settings(Settings().asr)
    sample = [phone_speech[s] for s in sentences[::4]]
    counts = {}
    for lattice_beam in (8.0, 0.01):
        engine = AsrEngine(model_path, workers=1,
                           # No dither: the seeded rand() above is process-wide, and any
                           # other decoding thread (the engine's warm-up) draws from it too.
                           decoder=replace(shipped, lattice_beam=lattice_beam, dither=0.0))
        counts[lattice_beam] = _alternatives(engine, sample)
        engine.close()
    assert all(n == 1 for n in counts[0.01]), counts
    assert sum(counts[8.0]) > 2 * len(counts[8.0]), counts


def test_without_dither_the_same_audio_gives_the_same_words_in_every_stream(
        model_path: Path, phone_speech: dict[str, bytes]) -> None:
    # Kaldi's default dither is drawn from a process-wide random state, so at a narrow beam
    # two streams of the same audio can disagree, with or without partial results; dither 0
    # makes the words depend on the audio only, whether partials are asked for or not.
    engine = AsrEngine(model_path, workers=1,
                       decoder=DecoderOptions(beam=6.0, max_active=1000, lattice_beam=1.0,
                                              dither=0.0))
    audio = phone_speech["아파트 전기 고장 났어요"] + bytes(8000 * 2)
    texts = set()
    for partial_interval in (0.2, None, 0.2, None):
        stream = engine.stream(sample_rate=8000, partial_interval=partial_interval)
        for offset in range(0, len(audio), 320):
            stream.push(audio[offset : offset + 320])
        texts.add(stream.finish().text)
    engine.close()
    assert len(texts) == 1 and "" not in texts, texts


def test_max_active_not_above_the_models_min_active_is_refused(model_path: Path) -> None:
    # Kaldi would assert and abort the whole process: refused with the reason instead.
    min_active = int(read_model_conf(model_path)["min-active"])
    with pytest.raises(ModelError, match=f"max-active {min_active} must be above"):
        load_model(model_path, DecoderOptions(max_active=min_active))


@pytest.mark.parametrize("field,value", [("beam", "0"), ("max_active", "-5"),
                                         ("lattice_beam", "-1"), ("beam", "wide"),
                                         ("dither", "-0.5"), ("dither", "none")])
def test_bad_decoder_settings_are_refused_at_start_up(
        monkeypatch: pytest.MonkeyPatch, field: str, value: str) -> None:
    monkeypatch.setenv(f"HOTLINE_ASR__{field.upper()}", value)
    with pytest.raises(ValidationError, match=field):
        Settings()


def test_the_engine_takes_the_options_from_the_settings(model_path: Path) -> None:
    # Settings naming the test model with a max-active Kaldi cannot take: from_settings
    # hands the options to the load, which refuses them.
    min_active = int(read_model_conf(model_path)["min-active"])
    settings = Settings(asr=AsrSettings(model_dir=model_path.parent, model_name=model_path.name,
                                        max_active=min_active))
    with pytest.raises(ModelError, match="must be above the model's min-active"):
        AsrEngine.from_settings(settings)


def test_the_shipped_decoder_reaches_the_model_and_is_narrower_than_its_own(
        model_path: Path) -> None:
    # config/hotline.toml's [asr] beams are what the service (and every test's vosk_model)
    # loads: narrower than the model's own, and a max-active Kaldi accepts.
    options = DecoderOptions.from_settings(Settings().asr)
    assert options.conf(), "config/hotline.toml ships decoder beams"
    own = read_model_conf(model_path)
    with decoder_overlay(model_path, options) as overlay:
        conf = read_model_conf(overlay)
    for key in ("beam", "max-active", "lattice-beam"):
        assert float(conf[key]) == float(options.conf()[key]) < float(own[key]), key
    assert int(conf["max-active"]) > int(own["min-active"])
