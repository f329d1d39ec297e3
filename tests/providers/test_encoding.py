"""providers.encoding and its browser twin static/providers/segments.js."""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.encoding import (
    GSM_BASIC,
    GSM_EXTENSION,
    SegmentInfo,
    analyse,
    encoding_for,
    segment_count,
    split_segments,
)

SEGMENTS_JS = Path(__file__).resolve().parents[2] / "static/providers/segments.js"
NODE = shutil.which("node")


# --- alphabets ------------------------------------------------------------------


def test_basic_alphabet_is_the_128_codes_minus_the_escape() -> None:
    assert len(GSM_BASIC) == len(set(GSM_BASIC)) == 127
    assert "\x1b" not in GSM_BASIC


def test_extension_table_holds_the_ten_double_septet_characters() -> None:
    assert sorted(GSM_EXTENSION) == sorted("\f^{}\\[~]|€")
    assert not set(GSM_EXTENSION) & set(GSM_BASIC)


# --- encoding -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["", "Hello, world!", GSM_BASIC, GSM_EXTENSION, "Price: €5 {ref} [x] ~ | ^ \\"],
)
def test_it_chooses_gsm7_for_text_within_the_gsm_tables(text: str) -> None:
    assert encoding_for(text) == "GSM-7"


@pytest.mark.parametrize(
    "text", ["á", "ç", "`", "\t", "\x1b", "Привет", "中文", "🎉", "a" * 200 + "ā"]
)
def test_it_chooses_ucs2_when_any_character_is_outside_gsm(text: str) -> None:
    assert encoding_for(text) == "UCS-2"


# --- GSM-7 counting -------------------------------------------------------------


def test_empty_text_is_zero_segments() -> None:
    assert analyse("") == SegmentInfo("GSM-7", 0, 0, 160)


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [
        (1, 1, 160),
        (160, 1, 160),
        (161, 2, 153),
        (153 * 2, 2, 153),
        (153 * 2 + 1, 3, 153),
        (153 * 3, 3, 153),
        (153 * 3 + 1, 4, 153),
    ],
)
def test_gsm7_segment_boundaries(length: int, segments: int, per_segment: int) -> None:
    assert analyse("a" * length) == SegmentInfo("GSM-7", length, segments, per_segment)


def test_extension_characters_count_two_septets() -> None:
    assert analyse("€[]") == SegmentInfo("GSM-7", 6, 1, 160)


def test_eighty_extension_characters_fill_exactly_one_segment() -> None:
    assert analyse("€" * 80) == SegmentInfo("GSM-7", 160, 1, 160)
    assert analyse("€" * 80 + "a") == SegmentInfo("GSM-7", 161, 2, 153)


def test_an_extension_character_at_the_boundary_moves_to_the_next_segment() -> None:
    text = "a" * 152 + "€" + "a" * 10

    assert split_segments(text) == ["a" * 152, "€" + "a" * 10]


def test_a_moved_escape_can_cost_an_extra_segment() -> None:
    # 306 septets would fit two full segments, but the € cannot straddle them.
    text = "a" * 152 + "€" + "a" * 152

    assert analyse(text) == SegmentInfo("GSM-7", 306, 3, 153)
    assert split_segments(text) == ["a" * 152, "€" + "a" * 151, "a"]


def test_an_extension_character_ending_a_full_segment_stays_in_it() -> None:
    text = "a" * 151 + "€" + "a" * 10

    assert split_segments(text) == ["a" * 151 + "€", "a" * 10]


def test_a_single_segment_has_no_boundary_to_straddle() -> None:
    assert analyse("a" * 159 + "€") == SegmentInfo("GSM-7", 161, 2, 153)
    assert analyse("a" * 158 + "€") == SegmentInfo("GSM-7", 160, 1, 160)


# --- UCS-2 counting -------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "segments", "per_segment"),
    [
        (70, 1, 70),
        (71, 2, 67),
        (67 * 2, 2, 67),
        (67 * 2 + 1, 3, 67),
        (67 * 3, 3, 67),
        (67 * 3 + 1, 4, 67),
    ],
)
def test_ucs2_segment_boundaries(length: int, segments: int, per_segment: int) -> None:
    assert analyse("я" * length) == SegmentInfo("UCS-2", length, segments, per_segment)


def test_one_non_gsm_character_turns_the_whole_message_ucs2() -> None:
    assert analyse("a" * 69 + "ā") == SegmentInfo("UCS-2", 70, 1, 70)
    assert analyse("a" * 70 + "ā") == SegmentInfo("UCS-2", 71, 2, 67)


def test_extension_characters_count_one_unit_in_ucs2() -> None:
    assert analyse("€[ā") == SegmentInfo("UCS-2", 3, 1, 70)


def test_an_emoji_counts_two_utf16_units() -> None:
    assert analyse("🎉") == SegmentInfo("UCS-2", 2, 1, 70)
    assert analyse("🎉" * 35) == SegmentInfo("UCS-2", 70, 1, 70)
    assert analyse("🎉" * 36) == SegmentInfo("UCS-2", 72, 2, 67)


def test_a_surrogate_pair_at_the_boundary_moves_to_the_next_segment() -> None:
    text = "я" * 66 + "🎉" + "я" * 66

    assert analyse(text) == SegmentInfo("UCS-2", 134, 3, 67)
    assert split_segments(text) == ["я" * 66, "🎉" + "я" * 65, "я"]


def test_segment_count_matches_analyse() -> None:
    assert segment_count("") == 0
    assert segment_count("a" * 161) == 2
    assert segment_count("🎉" * 36) == 2


# --- summary --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "summary"),
    [
        ("a" * 42, "GSM-7 · 42 characters · 1 segment"),
        ("€", "GSM-7 · 2 characters · 1 segment"),
        ("a" * 161, "GSM-7 · 161 characters · 2 segments"),
        ("я", "UCS-2 · 1 character · 1 segment"),
        ("", "GSM-7 · 0 characters · 0 segments"),
    ],
)
def test_summary_reads_encoding_units_and_segments(text: str, summary: str) -> None:
    assert analyse(text).summary == summary


# --- properties -----------------------------------------------------------------

sms_text = st.text(
    st.one_of(
        st.sampled_from(GSM_BASIC + GSM_EXTENSION),
        st.characters(blacklist_categories=("Cs",)),
    ),
    max_size=400,
)


@settings(max_examples=200, deadline=None)
@given(text=sms_text)
def test_segments_rejoin_to_the_text_and_each_fits(text: str) -> None:
    info = analyse(text)
    parts = split_segments(text)

    assert "".join(parts) == text
    assert len(parts) == info.segments
    assert all(
        0 < analyse_units(part, info.encoding) <= info.per_segment for part in parts
    )
    assert sum(analyse_units(part, info.encoding) for part in parts) == info.units


@settings(max_examples=200, deadline=None)
@given(text=sms_text)
def test_every_segment_but_the_last_is_as_full_as_it_can_be(text: str) -> None:
    info = analyse(text)

    for part in split_segments(text)[:-1]:
        # Full, or one unit short because a 2-unit character moved on.
        assert analyse_units(part, info.encoding) >= info.per_segment - 1


def analyse_units(part: str, encoding: str) -> int:
    if encoding == "GSM-7":
        return len(part) + sum(char in GSM_EXTENSION for char in part)
    return len(part.encode("utf-16-le")) // 2


# --- the browser twin -----------------------------------------------------------


def js_string(name: str) -> str:
    # The literals are written JSON-compatibly so they can be decoded here.
    source = SEGMENTS_JS.read_text(encoding="utf-8")
    match = re.search(rf'var {name} = ("(?:[^"\\]|\\.)*");', source)
    assert match, f"{name} literal not found in segments.js"
    return json.loads(match[1])


def test_browser_script_uses_the_same_alphabets() -> None:
    assert js_string("GSM_BASIC") == GSM_BASIC
    assert js_string("GSM_EXTENSION") == GSM_EXTENSION


def parity_samples() -> list[str]:
    pool = GSM_BASIC + GSM_EXTENSION + "āяé中🎉👍🏽"
    rng = random.Random(3038)  # noqa: S311 - reproducible samples, not secrets
    samples = [
        "".join(rng.choice(pool) for _ in range(rng.randrange(0, 400)))
        for _ in range(300)
    ]
    return samples + [
        "",
        "a" * 160,
        "a" * 161,
        "a" * 152 + "€" + "a" * 152,
        "€" * 80,
        "я" * 71,
        "я" * 66 + "🎉" + "я" * 66,
    ]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_browser_script_counts_like_python() -> None:
    samples = parity_samples()
    script = (
        f"const s = require({json.dumps(str(SEGMENTS_JS))});"
        "const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "console.log(JSON.stringify(texts.map(t => {"
        "  const i = s.analyse(t);"
        "  return [i.encoding, i.units, i.segments, i.perSegment, s.summary(i)];"
        "})));"
    )

    # Fixed arguments and our own script; nothing untrusted reaches the command.
    result = subprocess.run(  # noqa: S603
        [str(NODE), "-e", script],
        input=json.dumps(samples),
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )

    expected = [
        [i.encoding, i.units, i.segments, i.per_segment, i.summary]
        for i in map(analyse, samples)
    ]
    assert json.loads(result.stdout) == expected
