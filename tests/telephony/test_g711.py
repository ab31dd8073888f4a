"""G.711 codec: ITU reference values, full-range round trips, agreement with sox."""

from __future__ import annotations

import shutil
import subprocess
import warnings
from array import array
from pathlib import Path

import pytest

from telephony.media import g711

ALL_SAMPLES = array("h", range(-32768, 32768)).tobytes()
ALL_CODES = bytes(range(256))


def _samples(pcm: bytes) -> list[int]:
    return list(array("h", pcm))


def test_payload_types() -> None:
    assert g711.PAYLOAD_TYPES == {0: "PCMU", 8: "PCMA"}
    assert g711.decoder_for_payload_type(0) is g711.ulaw_to_pcm16
    assert g711.decoder_for_payload_type(8) is g711.alaw_to_pcm16
    assert g711.encoder_for_payload_type(0) is g711.pcm16_to_ulaw
    with pytest.raises(KeyError):
        g711.decoder_for_payload_type(18)


def test_reference_values() -> None:
    # Values from the ITU-T G.711 tables (the same ones Sun's g711.c produces).
    ulaw = _samples(g711.ulaw_to_pcm16(bytes([0xFF, 0x7F, 0x80, 0x00, 0xFE, 0xEF])))
    assert ulaw == [0, 0, 32124, -32124, 8, 132]
    alaw = _samples(g711.alaw_to_pcm16(bytes([0xD5, 0x55, 0xAA, 0x2A, 0xD4])))
    assert alaw == [8, -8, 32256, -32256, 24]
    assert g711.pcm16_to_ulaw(array("h", [0, 32767, -32768]).tobytes()) == bytes([0xFF, 0x80, 0x00])
    assert g711.pcm16_to_alaw(array("h", [0, 32767, -32768]).tobytes()) == bytes([0xD5, 0xAA, 0x2A])


@pytest.mark.parametrize(
    ("encode", "decode"),
    [(g711.pcm16_to_ulaw, g711.ulaw_to_pcm16), (g711.pcm16_to_alaw, g711.alaw_to_pcm16)],
)
def test_round_trip(encode, decode) -> None:
    # Every code word decodes to a level that encodes back to itself (except μ-law's
    # two zeros, 0x7F and 0xFF, which both decode to 0 and encode to 0xFF).
    codes = encode(decode(ALL_CODES))
    mismatches = [c for c, back in zip(ALL_CODES, codes, strict=True) if c != back]
    assert mismatches in ([], [0x7F])
    # Every 16-bit sample survives within the quantisation step of its segment.
    decoded = _samples(decode(encode(ALL_SAMPLES)))
    for original, back in zip(range(-32768, 32768), decoded, strict=True):
        step = 1024 if abs(original) > 16384 else max(16, abs(original) // 8)
        assert abs(original - back) <= step + 132, (original, back)


def test_lengths_and_odd_input() -> None:
    assert len(g711.ulaw_to_pcm16(b"\xff" * 160)) == 320
    assert len(g711.pcm16_to_alaw(b"\x00" * 320)) == 160
    assert g711.ulaw_to_pcm16(b"") == b""
    with pytest.raises(ValueError):
        g711.pcm16_to_ulaw(b"\x00\x00\x00")


def test_bit_identical_to_audioop_when_available() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")  # gone in Python 3.13
    assert g711.ulaw_to_pcm16(ALL_CODES) == audioop.ulaw2lin(ALL_CODES, 2)
    assert g711.alaw_to_pcm16(ALL_CODES) == audioop.alaw2lin(ALL_CODES, 2)
    assert g711.pcm16_to_ulaw(ALL_SAMPLES) == audioop.lin2ulaw(ALL_SAMPLES, 2)
    assert g711.pcm16_to_alaw(ALL_SAMPLES) == audioop.lin2alaw(ALL_SAMPLES, 2)


@pytest.mark.skipif(shutil.which("sox") is None, reason="sox not installed")
@pytest.mark.parametrize(("encoding", "law"), [("u-law", "ulaw"), ("a-law", "alaw")])
def test_matches_sox(tmp_path: Path, encoding: str, law: str) -> None:
    raw = ["-t", "raw", "-r", "8000", "-c", "1"]
    codes_file, pcm_file = tmp_path / "codes.raw", tmp_path / "pcm.raw"
    codes_file.write_bytes(ALL_CODES)
    subprocess.run(
        [
            "sox",
            *raw,
            "-e",
            encoding,
            "-b",
            "8",
            codes_file,
            *raw,
            "-e",
            "signed",
            "-b",
            "16",
            pcm_file,
        ],
        check=True,
    )
    decode = getattr(g711, f"{law}_to_pcm16")
    assert decode(ALL_CODES) == pcm_file.read_bytes()

    pcm_file.write_bytes(ALL_SAMPLES)
    out = tmp_path / "enc.raw"
    subprocess.run(
        ["sox", "-D", "-V1", *raw, "-e", "signed", "-b", "16", pcm_file, *raw, "-e", encoding, out],
        check=True,
    )
    ours = getattr(g711, f"pcm16_to_{law}")(ALL_SAMPLES)
    theirs = out.read_bytes()
    # sox rounds to 13/14 bits where the reference truncates, so the two may pick the
    # neighbouring code right at a decision boundary, never further away.
    decoded_ours = _samples(decode(ours))
    decoded_theirs = _samples(decode(theirs))
    differing = 0
    for a, b, x in zip(decoded_ours, decoded_theirs, range(-32768, 32768), strict=True):
        if a != b:
            differing += 1
            assert abs(a - x) <= 1100 and abs(b - x) <= 1100
    assert differing < len(theirs) // 50
