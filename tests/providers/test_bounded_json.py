"""JSON from outside, read with a limit on its nesting."""

from __future__ import annotations

import pytest

from providers import bounded_json


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


def test_a_document_at_the_limit_is_read() -> None:
    assert bounded_json.loads(nested(4), max_depth=4) == [[[[]]]]


@pytest.mark.parametrize("text", [nested(5), '{"a": {"b": [[{"c": 1}]]}}'])
def test_a_document_over_the_limit_is_refused_with_the_limit(text: str) -> None:
    with pytest.raises(bounded_json.TooDeep, match="more than 4 levels"):
        bounded_json.loads(text, max_depth=4)


@pytest.mark.parametrize("text", ["[" * 100_000, nested(100_000)])
def test_a_document_past_the_interpreters_recursion_is_refused(text: str) -> None:
    with pytest.raises(bounded_json.TooDeep):
        bounded_json.loads(text)


def test_many_brackets_side_by_side_are_not_depth() -> None:
    text = "[" + ",".join(["[]"] * 1000) + "]"

    assert len(bounded_json.loads(text.encode(), max_depth=2)) == 1000


def test_brackets_inside_strings_are_not_depth() -> None:
    assert bounded_json.loads('["' + "[" * 100 + '"]', max_depth=1) == ["[" * 100]


def test_depth_counts_arrays_and_objects_alike() -> None:
    assert bounded_json.depth({"a": [{"b": 1}], "c": 2}) == 3
    assert bounded_json.depth("text") == 0
