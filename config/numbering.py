"""How a telephone number may be written for reading only: the one rule both the core
(``ticketing.phones``) and the SIP front end (``telephony``, which may import nothing but
``config``) apply, so a number is one number however it is spaced or dashed."""

from __future__ import annotations

# RFC 3966 5.1.1's visual separators and the space people write: ``010-6512 3456``,
# ``(010)65123456``, ``+86-10-6512-3456`` are one number. Before mend71 the SIP URI reader,
# the flood guard and ticketing.phones each kept its own set (the space in one only).
VISUAL_SEPARATORS = " -()."
_STRIP = str.maketrans("", "", VISUAL_SEPARATORS)


def without_separators(number: str) -> str:
    """``number`` less its visual separators."""
    return number.translate(_STRIP)
