"""Template discovery on synthetic traffic: recovery (ARI), generalisation, versions."""

from __future__ import annotations

import pytest

from intelligence.evaluation import adjusted_rand_index
from intelligence.services.mining import TemplateMiner, merge
from intelligence.services.templates import SLOT, tokenize_body, tokenize_text
from intelligence.synthetic import HARD_FILLERS, KNOWN_TEMPLATES, template_traffic


def test_adjusted_rand_index_matches_known_values() -> None:
    assert adjusted_rand_index([0, 0, 1, 1], [5, 5, 7, 7]) == 1.0
    assert adjusted_rand_index([0, 0, 1, 1], [0, 1, 0, 1]) == pytest.approx(-0.5)
    # scikit-learn's documented example: ARI([0, 0, 1, 2], [0, 0, 1, 1]) = 0.5714...
    assert adjusted_rand_index([0, 0, 1, 2], [0, 0, 1, 1]) == pytest.approx(0.5714285714)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_it_recovers_the_generators_templates_with_ari_over_0_9(seed: int) -> None:
    traffic = template_traffic(1500, seed=seed)
    miner = TemplateMiner()
    found = [miner.add(tokenize_body(body)).cluster.pattern_key for _, body in traffic]
    truth = [index for index, _ in traffic]
    assert adjusted_rand_index(truth, found) >= 0.9
    assert len({c.pattern_key for c in miner.clusters}) <= len(KNOWN_TEMPLATES) + 3


def test_it_still_recovers_them_when_free_phrases_and_names_vary_in_length() -> None:
    traffic = template_traffic(1500, seed=4, fillers=HARD_FILLERS)
    miner = TemplateMiner()
    found = [miner.add(tokenize_body(body)).cluster.pattern_key for _, body in traffic]
    assert adjusted_rand_index([index for index, _ in traffic], found) >= 0.9


def test_it_generalises_differing_runs_into_gaps() -> None:
    miner = TemplateMiner()
    first = miner.add(tokenize_text("Write a haiku about autumn leaves")).cluster
    second = miner.add(tokenize_text("Write a haiku about the quiet sea")).cluster
    assert first is second
    assert first.tokens == ["§user", "Write", "a", "haiku", "about", SLOT]
    assert first.matches(tokenize_text("Write a haiku about anything at all"))


def test_unrelated_prompts_that_share_a_system_prompt_stay_apart() -> None:
    def body(user: str) -> dict[str, object]:
        return {"messages": [{"role": "system", "content": "You are a helpful assistant."},
                             {"role": "user", "content": user}]}  # fmt: skip

    miner = TemplateMiner()
    a = miner.add(tokenize_body(body("Write a haiku about the sea"))).cluster
    b = miner.add(tokenize_body(body("List the planets of the solar system"))).cluster
    assert a.pattern_key != b.pattern_key


def test_a_changed_constant_text_becomes_a_new_version_of_the_same_pattern() -> None:
    miner = TemplateMiner(settle_after=5)
    old = "Customer {} asks about order {}. Draft a short and friendly reply in English."
    new = "Customer {} asks about order {}. Draft a short and formal reply in English."
    names = ["Alice", "Bob", "Carol", "Dmitri", "Eva", "Farid"]
    for i, name in enumerate(names):
        cluster = miner.add(tokenize_text(old.format(name, 1000 + i))).cluster
    assert cluster.version == 1 and cluster.size == 6
    outcome = miner.add(tokenize_text(new.format("Grace", 2001)))
    assert outcome.created_version
    assert outcome.cluster.pattern_key == cluster.pattern_key and outcome.cluster.version == 2
    again = miner.add(tokenize_text(new.format("Hiro", 2002))).cluster
    assert again is outcome.cluster  # the new version takes the new wording
    assert miner.add(tokenize_text(old.format("Ines", 3))).cluster is cluster  # old still matches


def test_merge_scores_the_user_part_and_the_system_part_apart() -> None:
    def masked(system: str, user: str) -> list[str]:
        body = {
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}]
        }
        return tokenize_body(body).masked

    template = masked("Be brief and exact.", "List three facts about owls")
    user_score, system_score, merged = merge(
        template, masked("Answer like a pirate would.", "List three facts about owls")
    )
    assert user_score == 1.0 and system_score < 0.5
    assert merged[:2] == ["§system", SLOT]
