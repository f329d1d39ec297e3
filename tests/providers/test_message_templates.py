"""providers.message_templates: a DLT template's text lets through only texts
that change its {#var#} parts, and says where another text leaves it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from providers.message_templates import Mismatch, Template, formatted

OTP = Template("OTP", "Dear {#var#}, your OTP is {#var#}. Do not share it. - ACME")


def refusal(template: Template, text: str) -> str:
    with pytest.raises(Mismatch) as caught:
        template.variables_of(text)
    return str(caught.value)


def test_it_reads_the_variables_of_a_matching_text() -> None:
    text = "Dear Ann Lee, your OTP is 123456. Do not share it. - ACME"

    assert OTP.variables_of(text) == ["Ann Lee", "123456"]
    assert OTP.slots == 2


def test_white_space_may_differ_but_nothing_else() -> None:
    assert OTP.variables_of("Dear Ann,\nyour  OTP is 1. Do not share it. - ACME") == [
        "Ann",
        "1",
    ]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (
            "Hi Ann, your OTP is 1. Do not share it. - ACME",
            "The text does not match the DLT template “OTP”: it must start with "
            "“Dear”.",
        ),
        (
            "Dear Ann, your code is 1. Do not share it. - ACME",
            "The text does not match the DLT template “OTP”: after “Dear” it must "
            "go on with a variable and then “, your OTP is”. Only the template's "
            "{#var#} parts may change.",
        ),
        (
            "Dear Ann, your OTP is 1. Do not share it. - ACME Ltd",
            "The text does not match the DLT template “OTP”: it goes on after "
            "“. Do not share it. - ACME”, where the template ends.",
        ),
        (
            "Dear " + "A" * 31 + ", your OTP is 1. Do not share it. - ACME",
            "Variable 1 of the template “OTP” is 31 characters (“" + "A" * 31 + "…”); "
            "DLT allows at most 30.",
        ),
    ],
)
def test_it_says_where_a_text_leaves_its_template(text, reason) -> None:
    assert refusal(OTP, text) == reason


def test_regex_characters_in_a_template_are_plain_text() -> None:
    template = Template("Price", "Pay {#var#} (incl. 18% GST) at a.b/c?d=1")

    assert template.variables_of("Pay Rs.100 (incl. 18% GST) at a.b/c?d=1") == [
        "Rs.100"
    ]
    assert "must go on" in refusal(template, "Pay Rs.100 (incl. 18% GST) at aXb/c?d=1")


# Values that cannot contain the template's own words (which start with , or .).
VALUES = st.text(st.characters(blacklist_characters=",."), max_size=30)


@given(values=st.lists(VALUES, min_size=2, max_size=2))
def test_any_variables_filled_in_are_read_back(values) -> None:
    literals = OTP.literals
    text = literals[0] + values[0] + literals[1] + values[1] + literals[2]

    read = OTP.variables_of(text)

    # White space next to the template's own spaces counts as theirs.
    assert [v.strip() for v in read] == [v.strip() for v in values]


@pytest.mark.parametrize(
    ("style", "expected"),
    [("json", '["Ann","1|2"]'), ("pipe", "Ann|1|2"), ("comma", "Ann,1|2")],
)
def test_variables_are_formatted_as_the_provider_reads_them(style, expected) -> None:
    assert formatted(["Ann", "1|2"], style) == expected
