import pytest

from security.checks import custom, parse_params
from security.checks.custom import check_model


def test_it_matches_patterns_keywords_and_denied_topics():
    params = parse_params(
        "custom",
        {
            "patterns": [r"PRJ-\d{4}"],
            "keywords": ["project falcon"],
            "denied_topics": {"medical": ["diagnosis", "prescription"]},
        },
    )
    text = "Re PRJ-1234: Project Falcon needs a diagnosis"
    got = {(d.label, text[d.start : d.end]) for d in custom.detect(text, params)}
    assert got == {
        ("pattern", "PRJ-1234"),
        ("keyword", "Project Falcon"),
        ("topic:medical", "diagnosis"),
    }


def test_it_flags_a_prompt_over_the_size_limit():
    params = parse_params("custom", {"max_chars": 10})
    assert [d.label for d in custom.detect("x" * 11, params)] == ["too_long"]
    assert custom.detect("x" * 10, params) == []


def test_it_checks_allowed_and_denied_models():
    assert check_model("gpt-4o", parse_params("custom", {"allowed_models": ["gpt-4o-mini"]}))
    assert not check_model(
        "gpt-4o-mini", parse_params("custom", {"allowed_models": ["gpt-4o-mini"]})
    )
    assert check_model("o1", parse_params("custom", {"denied_models": ["o1"]}))


def test_an_invalid_regular_expression_is_refused():
    with pytest.raises(ValueError, match="invalid regular expression"):
        parse_params("custom", {"patterns": ["("]})
