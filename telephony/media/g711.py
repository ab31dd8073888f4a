"""G.711 μ-law (PCMU) and A-law (PCMA) <-> 16-bit linear PCM, pure Python.

No `audioop` (removed in Python 3.13) and no numpy: everything is a lookup table built
once at import, applied with C-level loops (`bytes.translate`, slicing, `map`).

pcm16 here is always little-endian signed 16-bit mono, the layout of a WAV `data` chunk
and of what Vosk's `AcceptWaveform` expects.

The encoders follow the ITU-T G.711 reference as implemented in Sun's `g711.c` (which is
also what sox and the old `audioop` produce), so a frame encoded here is bit-identical to
one encoded by those tools; the tests check that.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Callable

# RTP static payload types (RFC 3551, table 4).
PCMU_PAYLOAD_TYPE = 0
PCMA_PAYLOAD_TYPE = 8
PAYLOAD_TYPES: dict[int, str] = {PCMU_PAYLOAD_TYPE: "PCMU", PCMA_PAYLOAD_TYPE: "PCMA"}
CLOCK_RATE = 8000
SAMPLE_WIDTH = 2  # bytes per linear sample
# WAVE format tags (RFC 2361) for WAVs that carry G.711 directly.
WAVE_FORMAT_PCM = 0x0001
WAVE_FORMAT_ALAW = 0x0006
WAVE_FORMAT_MULAW = 0x0007

_LITTLE = sys.byteorder == "little"


def _ulaw_decode_one(code: int) -> int:
    code = ~code & 0xFF
    t = (((code & 0x0F) << 3) + 0x84) << ((code & 0x70) >> 4)
    return 0x84 - t if code & 0x80 else t - 0x84


def _alaw_decode_one(code: int) -> int:
    code ^= 0x55
    t = (code & 0x0F) << 4
    seg = (code & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if code & 0x80 else -t


_ULAW_SEG_END = (0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF)
_ALAW_SEG_END = (0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF)


def _segment(value: int, ends: tuple[int, ...]) -> int:
    for seg, end in enumerate(ends):
        if value <= end:
            return seg
    return len(ends)


def _ulaw_encode_one(sample: int) -> int:
    value = sample >> 2  # the reference works on 14 bits
    if value < 0:
        value, mask = -value, 0x7F
    else:
        mask = 0xFF
    value = min(value, 8159) + 0x21  # clip, then add the bias (0x84 >> 2)
    seg = _segment(value, _ULAW_SEG_END)
    if seg >= 8:
        return 0x7F ^ mask
    return ((seg << 4) | ((value >> (seg + 1)) & 0x0F)) ^ mask


def _alaw_encode_one(sample: int) -> int:
    value = sample >> 3  # the reference works on 13 bits
    if value >= 0:
        mask = 0xD5
    else:
        mask, value = 0x55, -value - 1
    seg = _segment(value, _ALAW_SEG_END)
    if seg >= 8:
        return 0x7F ^ mask
    shift = 1 if seg < 2 else seg
    return ((seg << 4) | ((value >> shift) & 0x0F)) ^ mask


def _decode_tables(decode: Callable[[int], int]) -> tuple[bytes, bytes]:
    # One translate table for the low byte and one for the high byte of each output sample:
    # decoding is then two C-level translates plus two slice assignments.
    values = [decode(code) & 0xFFFF for code in range(256)]
    return bytes(v & 0xFF for v in values), bytes(v >> 8 for v in values)


def _encode_table(encode: Callable[[int], int]) -> bytes:
    # Indexed by the sample read as *unsigned* 16-bit (what memoryview.cast("H") yields),
    # so 0x8000.. maps to the negative half. 64 KiB per law, built once.
    return bytes(encode(u - 0x10000 if u & 0x8000 else u) for u in range(0x10000))


_ULAW_LO, _ULAW_HI = _decode_tables(_ulaw_decode_one)
_ALAW_LO, _ALAW_HI = _decode_tables(_alaw_decode_one)
_ULAW_ENC = _encode_table(_ulaw_encode_one)
_ALAW_ENC = _encode_table(_alaw_encode_one)


def _decode(data: bytes, lo: bytes, hi: bytes) -> bytes:
    out = bytearray(2 * len(data))
    out[0::2] = data.translate(lo)  # little-endian: low byte first
    out[1::2] = data.translate(hi)
    return bytes(out)


def _encode(data: bytes, table: bytes) -> bytes:
    if len(data) % 2:
        raise ValueError("pcm16 data must have an even number of bytes")
    if _LITTLE:
        samples: memoryview | array[int] = memoryview(data).cast("H")
    else:  # pragma: no cover - no big-endian CI machine
        samples = array("H", data)
        samples.byteswap()
    return bytes(map(table.__getitem__, samples))


def ulaw_to_pcm16(data: bytes) -> bytes:
    """μ-law (PCMU) bytes -> little-endian signed 16-bit PCM (twice as long)."""
    return _decode(data, _ULAW_LO, _ULAW_HI)


def alaw_to_pcm16(data: bytes) -> bytes:
    """A-law (PCMA) bytes -> little-endian signed 16-bit PCM (twice as long)."""
    return _decode(data, _ALAW_LO, _ALAW_HI)


def pcm16_to_ulaw(data: bytes) -> bytes:
    """Little-endian signed 16-bit PCM -> μ-law (PCMU) bytes (half as long)."""
    return _encode(data, _ULAW_ENC)


def pcm16_to_alaw(data: bytes) -> bytes:
    """Little-endian signed 16-bit PCM -> A-law (PCMA) bytes (half as long)."""
    return _encode(data, _ALAW_ENC)


# One small hook per variant, keyed the way SDP/RTP name them, so the SIP side can pick
# the pair from the negotiated payload type without an if-chain.
DECODERS: dict[str, Callable[[bytes], bytes]] = {"PCMU": ulaw_to_pcm16, "PCMA": alaw_to_pcm16}
ENCODERS: dict[str, Callable[[bytes], bytes]] = {"PCMU": pcm16_to_ulaw, "PCMA": pcm16_to_alaw}


def decoder_for_payload_type(payload_type: int) -> Callable[[bytes], bytes]:
    """Decoder for an RTP static payload type (0 = PCMU, 8 = PCMA); KeyError otherwise."""
    return DECODERS[PAYLOAD_TYPES[payload_type]]


def encoder_for_payload_type(payload_type: int) -> Callable[[bytes], bytes]:
    """Encoder for an RTP static payload type (0 = PCMU, 8 = PCMA); KeyError otherwise."""
    return ENCODERS[PAYLOAD_TYPES[payload_type]]
