"""Tokens, masking and matching of prompt templates (pure, no database)."""

from __future__ import annotations

import pytest

from intelligence.services.templates import (
    SLOT,
    TemplateIndex,
    anchor_of,
    mask_token,
    template_text,
    template_variables,
    tokenize_body,
    tokenize_text,
)


@pytest.mark.parametrize(
    ("token", "mask"),
    [
        ("42", "<NUM>"),
        ("$19.99", "<NUM>"),
        ("3,500", "<NUM>"),
        ("2026-03-14", "<DATE>"),
        ("14/03/2026", "<DATE>"),
        ("10:30", "<TIME>"),
        ("https://example.com/a?b=1", "<URL>"),
        ("alice@example.com", "<EMAIL>"),
        ("(alice@example.com).", "<EMAIL>"),
        ("123e4567-e89b-12d3-a456-426614174000", "<UUID>"),
        ("ORD-12345", "<ID>"),
        ("deadbeefcafe1234", "<ID>"),
        ("hello", "hello"),
        ("Summarize:", "Summarize:"),
    ],
)
def test_it_masks_data_tokens(token: str, mask: str) -> None:
    assert mask_token(token) == mask


def test_it_keeps_roles_and_masks_long_free_text_in_user_messages() -> None:
    article = " ".join(["word"] * 40)
    prompt = tokenize_body(
        {
            "messages": [
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": f"Summarize this:\n{article}"},
                {"role": "assistant", "content": "ignored"},
            ]
        }
    )
    assert prompt.masked == [
        "§system",
        "You",
        "are",
        "terse.",
        "§user",
        "Summarize",
        "this:",
        "<TEXT>",
    ]
    assert prompt.raw[-1] == article


def test_it_masks_text_after_a_label_and_quoted_passages_and_code() -> None:
    prompt = tokenize_text(
        "Translate into German: the weather is lovely today my friend\n"
        'Note "this quoted passage has several words" please\n'
        "```python\nprint(1)\n```"
    )
    assert prompt.masked == [
        "§user", "Translate", "into", "German:", "<TEXT>", "Note", "<TEXT>", "please", "<CODE>",
    ]  # fmt: skip


def test_it_reads_anthropic_system_and_content_parts() -> None:
    prompt = tokenize_body(
        {
            "system": [{"type": "text", "text": "Be kind."}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi 7"}]}],
        }
    )
    assert prompt.masked == ["§system", "Be", "kind.", "§user", "Hi", "<NUM>"]


def test_it_caps_very_long_prompts() -> None:
    prompt = tokenize_text("word\n" * 10_000)
    assert len(prompt.masked) == 256


def test_a_template_matches_prompts_with_any_gap_content_and_returns_variables() -> None:
    tokens = ["§user", "Write", "a", "haiku", "about", SLOT, "in", "<NUM>", "lines"]
    index = TemplateIndex(
        [
            TemplateIndex.compile(
                template_id=5, pattern_id=9, version=2, namespace_id=1, tokens=tokens
            )
        ]
    )
    found = index.match(1, tokenize_text("Write a haiku about the open sea in 3 lines"))
    assert found is not None
    assert (found.template_id, found.pattern_id, found.version) == (5, 9, 2)
    assert found.variables() == ["the open sea", "3"]
    assert index.match(1, tokenize_text("Write a sonnet about the sea in 3 lines")) is None
    assert index.match(2, tokenize_text("Write a haiku about x in 3 lines")) is None  # namespaces


def test_a_gap_may_be_empty_and_a_leading_gap_uses_the_wildcard_bucket() -> None:
    tokens = ["§user", SLOT, "is", "my", "question"]
    assert anchor_of(tokens) == "*"
    index = TemplateIndex(
        [
            TemplateIndex.compile(
                template_id=1, pattern_id=1, version=1, namespace_id=None, tokens=tokens
            )
        ]
    )
    assert index.match(None, tokenize_text("What time is it? is my question")) is not None
    assert index.match(None, tokenize_text("is my question")) is not None


def test_templates_read_well_and_list_their_variables() -> None:
    tokens = ["§system", "Be", "brief.", "§user", "Order", "<ID>", "for", SLOT]
    assert template_text(tokens) == "[system] Be brief.\n[user] Order <ID> for <*>"
    assert template_variables(tokens) == [
        {"name": "var1", "kind": "id"},
        {"name": "var2", "kind": "text"},
    ]


def test_feedback_headers_are_parsed_leniently() -> None:
    from intelligence.services.matching import parse_feedback_header, score_value

    assert parse_feedback_header("abc=0.5, def=up,ghi=down , bad=7, =1, x=maybe") == [
        {"request_id": "abc", "score": 0.5},
        {"request_id": "def", "score": 1.0},
        {"request_id": "ghi", "score": 0.0},
    ]
    assert score_value(True) == 1.0 and score_value(None) is None and score_value(-0.1) is None


def test_matching_stays_fast_on_a_prompt_crafted_to_backtrack() -> None:
    import time

    tokens = ["§user", SLOT, "a", SLOT, "a", SLOT, "a", SLOT, "a", SLOT, "b"]
    index = TemplateIndex(
        [
            TemplateIndex.compile(
                template_id=1, pattern_id=1, version=1, namespace_id=None, tokens=tokens
            )
        ]
    )
    started = time.perf_counter()
    assert index.match(None, tokenize_text("a " * 250)) is None
    assert time.perf_counter() - started < 0.05
    assert index.match(None, tokenize_text("x a y a z a w a v b")) is not None
