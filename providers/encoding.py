"""How a message will be encoded and how many SMS segments it will be billed as.

Pure functions over text. GSM-7 counts septets: the default alphabet costs one,
the extension table costs two (an escape plus the character). Anything outside
both tables forces UCS-2, which counts UTF-16 code units, so an emoji costs two.

static/providers/segments.js repeats this for the browser; keep its alphabets
identical (tests/providers/test_encoding.py compares them).
"""

from __future__ import annotations

from dataclasses import dataclass

GSM_7 = "GSM-7"
UCS_2 = "UCS-2"

# 3GPP TS 23.038 default alphabet in code order, minus 0x1B: that code is the
# escape into the extension table, not a character a message can contain.
GSM_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENSION = "\f^{}\\[~]|€"

# (single message, each part of a multipart message): multipart loses room to
# the concatenation header.
LIMITS = {GSM_7: (160, 153), UCS_2: (70, 67)}

_BASIC = frozenset(GSM_BASIC)
_EXTENSION = frozenset(GSM_EXTENSION)


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str  # GSM_7 or UCS_2
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    per_segment: int  # capacity of each segment at this length

    @property
    def summary(self) -> str:
        """The line the send form shows under the message box."""
        characters = "character" if self.units == 1 else "characters"
        segments = "segment" if self.segments == 1 else "segments"
        return (
            f"{self.encoding} · {self.units} {characters} · {self.segments} {segments}"
        )


def encoding_for(text: str) -> str:
    if all(char in _BASIC or char in _EXTENSION for char in text):
        return GSM_7
    return UCS_2


def unit_cost(char: str, encoding: str) -> int:
    if encoding == GSM_7:
        return 2 if char in _EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def split_segments(text: str) -> list[str]:
    """The text of each segment, as a handset would cut a multipart message.

    A character never straddles two segments: an extension escape or a UTF-16
    surrogate pair split in half would arrive as garbage, so it starts the next
    segment instead and the previous one runs a unit short.
    """
    encoding = encoding_for(text)
    single, multipart = LIMITS[encoding]
    if sum(unit_cost(char, encoding) for char in text) <= single:
        return [text] if text else []
    segments: list[str] = []
    current: list[str] = []
    used = 0
    for char in text:
        cost = unit_cost(char, encoding)
        if used + cost > multipart:
            segments.append("".join(current))
            current, used = [], 0
        current.append(char)
        used += cost
    segments.append("".join(current))
    return segments


def analyse(text: str) -> SegmentInfo:
    encoding = encoding_for(text)
    units = sum(unit_cost(char, encoding) for char in text)
    segments = len(split_segments(text))
    single, multipart = LIMITS[encoding]
    return SegmentInfo(encoding, units, segments, multipart if segments > 1 else single)


def segment_count(text: str) -> int:
    return analyse(text).segments
